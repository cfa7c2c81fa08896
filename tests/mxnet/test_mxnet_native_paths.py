"""The MXNet adapter's fast paths: MXNet's ``gelqf`` as the forward (LQ of a wide or square A,
QR of a large deep A, truncated ranks) and MXNet's transpose for large host results (LQ's
gradient, complete LQ's factors), checked against diffqr on NumPy, MXNet's own ``gelqf`` and
central differences."""

from __future__ import annotations

import mxnet as mx
import numpy as np
import pytest

import diffqr
import diffqr._tuning as tuning
from diffqr._verify import adjoint_error, central_difference, random_matrix, relative_error

KINDS = {"nd": mx.nd, "np": mx.np}
COND = 10.0
FD_TOL = 1e-6
EPS32 = float(np.finfo(np.float32).eps)
EPS64 = float(np.finfo(np.float64).eps)

# name: (function of A returning its differentiable outputs, shape); the comment is the path.
CASES = {
    "lq wide": (lambda a: list(diffqr.lq(a)), (5, 9)),  # gelqf
    "lq square": (lambda a: list(diffqr.lq(a)), (6, 6)),  # gelqf
    "lq batched wide": (lambda a: list(diffqr.lq(a)), (3, 4, 7)),  # gelqf
    "lq wide rank 3": (lambda a: list(diffqr.lq(a, rank=3)), (5, 9)),  # gelqf, sliced
    "qr deep, large": (lambda a: list(diffqr.qr(a)), (160, 64)),  # gelqf of Aᵀ
    "qr deep, large, rank 20": (lambda a: list(diffqr.qr(a, rank=20)), (160, 64)),
    "lq wide, large": (lambda a: list(diffqr.lq(a)), (128, 640)),  # gradient via MXNet transpose
    "lq complete, large": (lambda a: list(diffqr.lq(a, mode="complete")), (40, 300)),  # host Q
}


def to_mx(x: np.ndarray, kind: str):
    return KINDS[kind].array(x, dtype=x.dtype)


def evaluate(fn, a: np.ndarray, kind: str) -> list[np.ndarray]:
    return [y.asnumpy() for y in fn(to_mx(a, kind))]


def mx_vjp(fn, a: np.ndarray, cotangents, kind: str, grad_req: str = "write", times: int = 1):
    x = to_mx(a, kind)
    x.attach_grad(grad_req=grad_req)
    for _ in range(times):
        with mx.autograd.record():
            ys = fn(x)
        mx.autograd.backward(ys, [to_mx(c, kind) for c in cotangents])
    return x.grad.asnumpy()


def test_the_cases_take_the_paths_they_name():
    """Guards the sizes above against the adapter's thresholds."""
    assert min(128 * 640, 300 * 300) >= tuning.MXNET_TRANSPOSE_MIN_SIZE
    assert 160 * 64 >= tuning.MXNET_GELQF_TRANSPOSED_MIN_SIZE


@pytest.mark.parametrize("case", CASES)
def test_factors_and_gradient_match_numpy(rng, case):
    """Same factors (LAPACK gauge) and gradient as diffqr on NumPy, to rounding."""
    fn, shape = CASES[case]
    a = random_matrix(rng, shape, cond=COND)
    expected = fn(a)
    outputs = evaluate(fn, a, "nd")
    size = max(shape[-2:])
    for y, e in zip(outputs, expected, strict=True):
        assert relative_error([y], [e]) < size * EPS64
    cotangents = [random_matrix(rng, y.shape) for y in outputs]
    a_bar = mx_vjp(fn, a, cotangents, "nd")
    lq = case.startswith("lq")
    rule = diffqr.lq_vjp if lq else diffqr.qr_vjp
    expected_bar = rule(a, *expected, *cotangents)
    assert relative_error([a_bar], [expected_bar]) < COND * size * EPS64


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", CASES)
def test_vjp_matches_finite_differences(rng, case, kind):
    fn, shape = CASES[case]
    a = random_matrix(rng, shape, cond=COND)
    outputs = evaluate(fn, a, kind)
    cotangents = [random_matrix(rng, y.shape) for y in outputs]
    direction = random_matrix(rng, a.shape)
    fd = central_difference(lambda x: evaluate(fn, x, kind), [a], [direction])
    a_bar = mx_vjp(fn, a, cotangents, kind)
    assert adjoint_error([a_bar], [direction], cotangents, fd) < FD_TOL


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", ["lq wide", "lq wide, large", "lq complete, large"])
def test_grad_req_add_accumulates(rng, case, kind):
    fn, shape = CASES[case]
    a = random_matrix(rng, shape, cond=COND)
    cotangents = [random_matrix(rng, y.shape) for y in evaluate(fn, a, kind)]
    once = mx_vjp(fn, a, cotangents, kind)
    twice = mx_vjp(fn, a, cotangents, kind, grad_req="add", times=2)
    np.testing.assert_allclose(twice, 2 * once, rtol=1e-13, atol=1e-13 * np.abs(once).max())


@pytest.mark.parametrize("shape", [(5, 9), (3, 4, 7), (128, 640)])
def test_float32_lq_is_gelqf_and_accurate(rng, shape):
    """float32 LQ of a wide A is MXNet's gelqf (float32 LAPACK) itself, orthonormal to rounding,
    and its factors and gradient agree with float64 to ``eps32 · κ`` (a margin of 8)."""
    for cond in (COND, 1e3):
        a = random_matrix(rng, shape, cond=cond)
        single = mx.nd.array(a, dtype="float32")
        l_factor, q = (y.asnumpy() for y in diffqr.lq(single))
        q_native, l_native = (y.asnumpy() for y in mx.nd.linalg.gelqf(single))
        np.testing.assert_array_equal(l_factor, l_native)
        np.testing.assert_array_equal(q, q_native)
        assert l_factor.dtype == q.dtype == np.float32
        gram = q.astype(np.float64) @ np.swapaxes(q, -1, -2)
        assert np.abs(gram - np.eye(shape[-2])).max() < max(shape[-2:]) * EPS32

        fn = CASES["lq wide"][0]
        expected = evaluate(fn, a, "nd")
        assert relative_error([l_factor, q], expected) < 8 * EPS32 * cond
        cotangents = [random_matrix(rng, y.shape) for y in expected]
        a_bar64 = mx_vjp(fn, a, cotangents, "nd")
        a_bar32 = mx_vjp(fn, a.astype(np.float32), [c.astype(np.float32) for c in cotangents],
                         "nd")
        assert a_bar32.dtype == np.float32
        assert relative_error([a_bar32], [a_bar64]) < 8 * EPS32 * cond


def test_float32_deep_qr_agrees_with_float64(rng):
    """Deep QR through gelqf of Aᵀ (float32 LAPACK) vs float64, as above."""
    fn, shape = CASES["qr deep, large"]
    for cond in (COND, 1e3):
        a = random_matrix(rng, shape, cond=cond)
        expected = evaluate(fn, a, "nd")
        single = evaluate(fn, a.astype(np.float32), "nd")
        assert all(y.dtype == np.float32 for y in single)
        assert relative_error(single, expected) < 8 * EPS32 * cond
        cotangents = [random_matrix(rng, y.shape) for y in expected]
        a_bar64 = mx_vjp(fn, a, cotangents, "nd")
        a_bar32 = mx_vjp(fn, a.astype(np.float32), [c.astype(np.float32) for c in cotangents],
                         "nd")
        assert relative_error([a_bar32], [a_bar64]) < 8 * EPS32 * cond
