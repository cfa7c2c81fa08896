"""diffqr on MXNet arrays under ``mx.autograd``, checked against central finite differences.

Run in the MXNet environment: ``.venv-mxnet/bin/python tests/run_groups.py mxnet``.
"""

from __future__ import annotations

import mxnet as mx
import numpy as np
import pytest

import diffqr
from diffqr._verify import adjoint_error, central_difference, random_matrix

KINDS = {"nd": mx.nd, "np": mx.np}

# Central differences (h = 1e-6, float64) on matrices of condition number COND are accurate to
# ~1e-9; a wrong rule is off by O(1).
COND = 10.0
FD_TOL = 1e-6
# float32 against float64 gradients: rounding ~ eps32 · cond², with a margin.
FLOAT32_TOL = 1e-3 * np.finfo(np.float32).eps ** 0.5


def to_mx(x: np.ndarray, kind: str):
    return KINDS[kind].array(x, dtype=x.dtype)


def _rank_deficient(rng: np.random.Generator, shape, dtype: str) -> np.ndarray:
    """Rank 3, its first two columns dependent: only a pivoted rank-3 QR is differentiable."""
    a = random_matrix(rng, (shape[0], 3), dtype) @ random_matrix(rng, (3, shape[1]), dtype)
    a[:, 1] = 2 * a[:, 0]
    return a


# name: (function of A returning its differentiable outputs, shape, input maker or None)
CASES = {
    "qr square": (lambda a: list(diffqr.qr(a)), (5, 5), None),
    "qr deep": (lambda a: list(diffqr.qr(a)), (7, 4), None),
    "qr wide": (lambda a: list(diffqr.qr(a)), (4, 7), None),
    "qr wide 3x5 (MXNet PR 18757)": (lambda a: list(diffqr.qr(a)), (3, 5), None),
    "qr batched": (lambda a: list(diffqr.qr(a)), (2, 6, 4), None),
    "qr batched wide": (lambda a: list(diffqr.qr(a)), (2, 3, 5), None),
    "qr complete deep": (lambda a: list(diffqr.qr(a, mode="complete")), (7, 4), None),
    "qr mode r": (lambda a: [diffqr.qr(a, mode="r")], (7, 4), None),
    "qr truncated rank 3": (lambda a: list(diffqr.qr(a, rank=3)), (7, 6), None),
    "pivoted qr deep": (lambda a: list(diffqr.qr(a, pivoting=True)[:2]), (7, 4), None),
    "pivoted qr wide": (lambda a: list(diffqr.qr(a, pivoting=True)[:2]), (4, 7), None),
    "pivoted qr batched": (lambda a: list(diffqr.qr(a, pivoting=True)[:2]), (3, 4, 6), None),
    "pivoted qr rank 3, rank-deficient": (
        lambda a: list(diffqr.qr(a, pivoting=True, rank=3)[:2]), (7, 6), _rank_deficient),
    "lq wide": (lambda a: list(diffqr.lq(a)), (4, 7), None),
    "lq deep": (lambda a: list(diffqr.lq(a)), (7, 4), None),
    "lq batched": (lambda a: list(diffqr.lq(a)), (2, 3, 5), None),
    "lq complete wide": (lambda a: list(diffqr.lq(a, mode="complete")), (4, 7), None),
    "pivoted lq deep": (lambda a: list(diffqr.lq(a, pivoting=True)[:2]), (7, 4), None),
    "pivoted lq wide": (lambda a: list(diffqr.lq(a, pivoting=True)[:2]), (4, 7), None),
}


def make_input(rng, case: str, dtype: str = "float64") -> np.ndarray:
    _, shape, maker = CASES[case]
    if maker is not None:
        return maker(rng, shape, dtype)
    return random_matrix(rng, shape, dtype, cond=COND)


def evaluate(fn, a: np.ndarray, kind: str) -> list[np.ndarray]:
    return [y.asnumpy() for y in fn(to_mx(a, kind))]


def mx_vjp(fn, a: np.ndarray, cotangents, kind: str):
    """``Ā`` through ``mx.autograd`` with head gradients; also returns the gradient's type."""
    x = to_mx(a, kind)
    x.attach_grad()
    with mx.autograd.record():
        ys = fn(x)
    mx.autograd.backward(ys, [to_mx(c, kind) for c in cotangents])
    return x.grad.asnumpy(), type(x.grad)


@pytest.mark.parametrize("kind", ["nd"])  # mx.np: tests/conformance (--backend mxnet)
@pytest.mark.parametrize("case", CASES)
def test_vjp_matches_finite_differences(rng, case, kind):
    fn = CASES[case][0]
    a = make_input(rng, case)
    outputs = evaluate(fn, a, kind)
    cotangents = [random_matrix(rng, y.shape) for y in outputs]
    direction = random_matrix(rng, a.shape)
    fd = central_difference(lambda x: evaluate(fn, x, kind), [a], [direction])
    a_bar, grad_type = mx_vjp(fn, a, cotangents, kind)
    assert grad_type is type(to_mx(a, kind))
    assert adjoint_error([a_bar], [direction], cotangents, fd) < FD_TOL


@pytest.mark.parametrize("kind", KINDS)
def test_result_types_follow_the_input(rng, kind):
    a = to_mx(random_matrix(rng, (2, 5, 3)), kind)
    q, r, p = diffqr.qr(a, pivoting=True)
    l_factor, q_lq = diffqr.lq(a)
    for y in (q, r, p, l_factor, q_lq):
        assert type(y) is type(a)
        assert y.context == a.context
    assert p.dtype == np.int64 and p.shape == (2, 3)
    np.testing.assert_allclose((q.asnumpy() @ r.asnumpy()),
                               np.take_along_axis(a.asnumpy(), p.asnumpy()[..., None, :], -1),
                               atol=1e-13)


def test_scalar_loss_under_numpy_semantics(rng):
    """The usual mx.np workflow: npx.set_np() semantics, a 0-d loss, ``loss.backward()``."""
    a0 = random_matrix(rng, (4, 7), cond=COND)
    w = random_matrix(rng, (4, 7))
    with mx.util.np_shape(True), mx.util.np_array(True):
        a = mx.np.array(a0)
        a.attach_grad()
        with mx.autograd.record():
            l_factor, q = diffqr.lq(a)
            loss = (l_factor @ q * mx.np.array(w)).sum() + (q ** 2).sum()
        loss.backward()
        grad = a.grad.asnumpy()
    # ‖Q‖² is constant and L Q = A, so the gradient is w.
    np.testing.assert_allclose(grad, w, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_grad_req_add_accumulates(rng, kind):
    a0 = random_matrix(rng, (6, 4), cond=COND)
    cotangents = [random_matrix(rng, (6, 4)), random_matrix(rng, (4, 4))]
    once, _ = mx_vjp(lambda x: list(diffqr.qr(x)), a0, cotangents, kind)
    a = to_mx(a0, kind)
    a.attach_grad(grad_req="add")
    for _ in range(2):
        with mx.autograd.record():
            ys = list(diffqr.qr(a))
        mx.autograd.backward(ys, [to_mx(c, kind) for c in cotangents])
    np.testing.assert_allclose(a.grad.asnumpy(), 2 * once, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("kind", KINDS)
def test_inputs_not_mutated(rng, kind):
    a0 = random_matrix(rng, (2, 4, 6), cond=COND)
    a = to_mx(a0, kind)
    a.attach_grad()
    with mx.autograd.record():
        ys = [*diffqr.qr(a, pivoting=True)[:2], *diffqr.lq(a, pivoting=True)[:2]]
    mx.autograd.backward(ys, [to_mx(np.ones(y.shape), kind) for y in ys])
    np.testing.assert_array_equal(a.asnumpy(), a0)


def test_without_recording_no_graph_is_needed(rng):
    a0 = random_matrix(rng, (5, 3))
    q, r = diffqr.qr(mx.nd.array(a0, dtype="float64"))
    np.testing.assert_allclose(q.asnumpy() @ r.asnumpy(), a0, atol=1e-13)
