"""diffqr.lstsq on MXNet arrays: deep, wide (minimum norm), ridge, against finite differences and
the NumPy explicit rules."""

from __future__ import annotations

import mxnet as mx
import numpy as np
import pytest

import diffqr
from diffqr._verify import adjoint_error, central_difference, random_matrix

KINDS = {"nd": mx.nd, "np": mx.np}
COND = 10.0
FD_TOL = 1e-6

# name: (shape of A, shape of B, ridge)
CASES = {
    "deep": ((7, 4), (7, 2), 0.0),
    "deep, vector B": ((7, 4), (7,), 0.0),
    "square": ((5, 5), (5, 3), 0.0),
    "wide, minimum norm": ((4, 7), (4, 2), 0.0),
    "deep ridge": ((7, 4), (7, 2), 0.3),
    "wide ridge": ((4, 7), (4,), 0.3),
    "batched": ((2, 6, 3), (2, 6, 2), 0.0),
    "batched wide ridge": ((2, 3, 5), (2, 3, 2), 0.1),
}


def to_mx(x, kind: str):
    return KINDS[kind].array(x, dtype=x.dtype)


def make(rng, case):
    a_shape, b_shape, ridge = CASES[case]
    return random_matrix(rng, a_shape, cond=COND), random_matrix(rng, b_shape), ridge


@pytest.mark.parametrize("kind", ["nd"])  # mx.np: tests/conformance (--backend mxnet)
@pytest.mark.parametrize("case", CASES)
def test_lstsq_vjp_matches_finite_differences(rng, case, kind):
    a, b, ridge = make(rng, case)

    def solve(a_, b_):
        return [diffqr.lstsq(to_mx(a_, kind), to_mx(b_, kind), ridge=ridge).asnumpy()]

    (x,) = solve(a, b)
    x_bar, da, db = random_matrix(rng, x.shape), random_matrix(rng, a.shape), \
        random_matrix(rng, b.shape)
    fd = central_difference(solve, [a, b], [da, db])
    xa, xb = to_mx(a, kind), to_mx(b, kind)
    xa.attach_grad()
    xb.attach_grad()
    with mx.autograd.record():
        out = diffqr.lstsq(xa, xb, ridge=ridge)
    out.backward(to_mx(x_bar, kind))
    assert type(out) is type(xa)
    np.testing.assert_allclose(out.asnumpy(), diffqr.lstsq(a, b, ridge=ridge), atol=1e-13)
    grads = [xa.grad.asnumpy(), xb.grad.asnumpy()]
    assert adjoint_error(grads, [da, db], [x_bar], fd) < FD_TOL
    expected = diffqr.lstsq_vjp(a, b, x, x_bar, ridge=ridge)
    for g, e in zip(grads, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("which", ["A", "B"])
def test_gradient_of_one_argument_only(rng, kind, which):
    """Only A or only B requires a gradient (MXNet 1.9's Function would drop B's otherwise)."""
    a, b, _ = make(rng, "wide, minimum norm")
    x = diffqr.lstsq(a, b)
    x_bar = random_matrix(rng, x.shape)
    xa, xb = to_mx(a, kind), to_mx(b, kind)
    target = xa if which == "A" else xb
    target.attach_grad()
    with mx.autograd.record():
        out = diffqr.lstsq(xa, xb)
    out.backward(to_mx(x_bar, kind))
    expected = diffqr.lstsq_vjp(a, b, x, x_bar)[0 if which == "A" else 1]
    np.testing.assert_allclose(target.grad.asnumpy(), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", [(7, 4), (4, 7)])
def test_differentiable_ridge_under_numpy_semantics(rng, shape):
    """A 0-d ``mx.np`` ridge (npx.set_np semantics) gets its gradient, checked by FD in λ."""
    a, b = random_matrix(rng, shape, cond=COND), random_matrix(rng, (shape[0], 2))
    x_bar = random_matrix(rng, (shape[1], 2))
    with mx.util.np_shape(True), mx.util.np_array(True):
        lam = mx.np.array(0.3, dtype="float64")
        lam.attach_grad()
        with mx.autograd.record():
            x = diffqr.lstsq(mx.np.array(a), mx.np.array(b), ridge=lam)
        x.backward(mx.np.array(x_bar))
        lam_bar = float(lam.grad)
    (fd,) = central_difference(lambda r: [diffqr.lstsq(a, b, ridge=float(r))],
                               [np.float64(0.3)], [np.float64(1.0)])
    assert abs(lam_bar - float(np.sum(x_bar * fd))) < FD_TOL * abs(lam_bar)


@pytest.mark.parametrize("kind", KINDS)
def test_explicit_lstsq_rules_on_mxnet_arrays(rng, kind):
    for case in ("deep", "wide ridge"):
        a, b, ridge = make(rng, case)
        x = diffqr.lstsq(a, b, ridge=ridge)
        x_bar, da, db = (random_matrix(rng, y.shape) for y in (x, a, b))
        got = diffqr.lstsq_vjp(*(to_mx(y, kind) for y in (a, b, x, x_bar)), ridge=ridge)
        for g, e in zip(got, diffqr.lstsq_vjp(a, b, x, x_bar, ridge=ridge), strict=True):
            assert type(g) is type(to_mx(a, kind))
            np.testing.assert_allclose(g.asnumpy(), e, rtol=0, atol=1e-12)
        dx = diffqr.lstsq_jvp(*(to_mx(y, kind) for y in (a, b, x, da, db)), ridge=ridge)
        np.testing.assert_allclose(dx.asnumpy(), diffqr.lstsq_jvp(a, b, x, da, db, ridge=ridge),
                                   rtol=0, atol=1e-12)
