"""The six explicit rules on array-api-strict arrays, on both devices: JVPs against central finite
differences of diffqr's own forward pass, VJPs through the adjoint identity."""

from __future__ import annotations

import numpy as np
import pytest
from strict_arrays import assert_strict, to_device, to_host

import diffqr
from diffqr._verify import adjoint_error, central_difference, random_matrix, relative_error

# Central differences (h = 1e-6) on these well-conditioned float64 cases are good to ~1e-9; a
# wrong rule is off by O(1).
TOL = 1e-6
SHAPES = [(5, 3), (3, 5), (4, 4), (1, 1), (4, 1), (1, 4), (2, 3, 4, 3), (2, 3, 3, 4)]
DTYPES = ["float64", "complex128"]


def _check(device, forward, rule_vjp, rule_jvp, inputs, rng, dtype):
    """JVP vs finite differences and the VJP by the adjoint identity, every output on device."""
    outputs = [to_host(y) for y in forward(*(to_device(x, device) for x in inputs))]
    tangents = [random_matrix(rng, x.shape, dtype) for x in inputs]
    cotangents = [random_matrix(rng, y.shape, dtype) for y in outputs]
    fd = central_difference(
        lambda *xs: [to_host(y) for y in forward(*(to_device(x, device) for x in xs))],
        inputs, tangents)
    dev = lambda xs: [to_device(x, device) for x in xs]  # noqa: E731
    jvp = rule_jvp(dev(inputs), dev(outputs), dev(tangents))
    vjp = rule_vjp(dev(inputs), dev(outputs), dev(cotangents))
    for y in (*jvp, *vjp):
        assert_strict(y, device)
    assert relative_error([to_host(y) for y in jvp], fd) < TOL
    assert adjoint_error([to_host(y) for y in vjp], tangents, cotangents, fd) < TOL


# factorization, its reverse- and forward-mode rules, and whether complete mode differs from
# reduced mode for a (deep) matrix of shape (m, n)
FACTORIZATIONS = {"qr": (diffqr.qr, diffqr.qr_vjp, diffqr.qr_jvp, lambda m, n: m > n),
                  "lq": (diffqr.lq, diffqr.lq_vjp, diffqr.lq_jvp, lambda m, n: m < n)}


@pytest.mark.parametrize(("name", "shape", "mode"), [
    (name, s, mode) for name, (*_, completes) in FACTORIZATIONS.items() for s in SHAPES
    for mode in ("reduced", "complete") if mode == "reduced" or completes(*s[-2:])])
@pytest.mark.parametrize("dtype", DTYPES)
def test_factorization_rules(rng, device, name, shape, dtype, mode):
    factor, vjp, jvp, _ = FACTORIZATIONS[name]
    _check(device, lambda a: factor(a, mode=mode),
           lambda i, o, c: [vjp(*i, *o, *c)],
           lambda i, o, t: jvp(*i, *o, *t),
           [random_matrix(rng, shape, dtype)], rng, dtype)


@pytest.mark.parametrize("shape", [(3, 6), (6, 3), (2, 3, 4, 6)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_pivoted_qr_rules(rng, device, shape, dtype):
    """The rules at A[..., P] (pivots found on the device, held fixed)."""
    a = random_matrix(rng, shape, dtype)
    perm = to_host(diffqr.qr(to_device(a, device), pivoting=True).P)
    _check(device, lambda b: diffqr.qr(b),
           lambda i, o, c: [diffqr.qr_vjp(*i, *o, *c)],
           lambda i, o, t: diffqr.qr_jvp(*i, *o, *t),
           [np.take_along_axis(a, perm[..., None, :], -1)], rng, dtype)


@pytest.mark.parametrize(("a_shape", "b_shape"), [
    ((6, 3), (6, 2)), ((3, 6), (3, 2)), ((1, 1), (1, 1)), ((4, 1), (4, 3)), ((1, 4), (1, 2)),
    ((2, 3, 5, 4), (2, 3, 5, 2)), ((2, 3, 4, 5), (2, 3, 4, 1)),
])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ridge", [0.0, 0.4])
def test_lstsq_rules(rng, device, a_shape, b_shape, dtype, ridge):
    _check(device, lambda a, b: [diffqr.lstsq(a, b, ridge=ridge)],
           lambda i, o, c: diffqr.lstsq_vjp(*i, *o, *c, ridge=ridge),
           lambda i, o, t: [diffqr.lstsq_jvp(*i, *o, *t, ridge=ridge)],
           [random_matrix(rng, a_shape, dtype, cond=10.0), random_matrix(rng, b_shape, dtype)],
           rng, dtype)


@pytest.mark.parametrize("shape", [(6, 3), (3, 6)])
def test_ridge_derivatives(rng, device, shape):
    """λ̄ and the tangent along dλ, for a 0-d ridge array on the device."""
    from strict_arrays import xp

    a, b = random_matrix(rng, shape, cond=10.0), random_matrix(rng, (shape[0], 2))
    lam, h = 0.3, 1e-6
    A, B = to_device(a, device), to_device(b, device)
    ridge = xp.asarray(lam, device=device)
    x = diffqr.lstsq(A, B, ridge=ridge)
    x_bar = random_matrix(rng, x.shape)
    *_, lam_bar = diffqr.lstsq_vjp(A, B, x, to_device(x_bar, device), ridge=ridge,
                                   return_ridge_bar=True)
    dx = diffqr.lstsq_jvp(A, B, x, None, None, ridge=ridge, d_ridge=xp.asarray(1.0, device=device))
    assert_strict(lam_bar, device) and assert_strict(dx, device)
    fd = (diffqr.lstsq(a, b, ridge=lam + h) - diffqr.lstsq(a, b, ridge=lam - h)) / (2 * h)
    assert relative_error([to_host(dx)], [fd]) < TOL
    assert abs(float(lam_bar) - np.sum(x_bar * fd)) < TOL * abs(np.sum(x_bar * fd))


def test_none_cotangents_are_zero(rng, device):
    a = to_device(random_matrix(rng, (5, 3)), device)
    q, r = diffqr.qr(a)
    a_bar = diffqr.qr_vjp(a, q, r, None, None)
    assert_strict(a_bar, device)
    assert not np.any(to_host(a_bar))
