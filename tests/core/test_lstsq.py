"""diffqr.lstsq and its explicit rules on NumPy: values, finite differences, adjoint, errors."""

from __future__ import annotations

import numpy as np
import pytest

import diffqr
from diffqr._verify import adjoint_error, central_difference, random_matrix, relative_error

SHAPES = {"deep": (7, 4), "square": (5, 5), "wide": (4, 7)}
# Relative accuracy of the solution for cond(A) = 10, per dtype.
RTOL = {"float32": 2e-5, "float64": 1e-13, "complex64": 2e-5, "complex128": 1e-13}


def problem(rng, kind, dtype="float64", vector=False, batch=(), r=3):
    m, n = SHAPES[kind]
    a = random_matrix(rng, (*batch, m, n), dtype, cond=10.0)
    b = random_matrix(rng, (*batch, m) if vector else (*batch, m, r), dtype)
    return a, b


@pytest.mark.parametrize("dtype", list(RTOL))
@pytest.mark.parametrize("kind", list(SHAPES))
@pytest.mark.parametrize("vector", [False, True])
def test_equals_numpy_lstsq(rng, dtype, kind, vector):
    a, b = problem(rng, kind, dtype, vector)
    x = diffqr.lstsq(a, b)
    expected = np.linalg.lstsq(a, b, rcond=None)[0]
    assert x.dtype == a.dtype and x.shape == expected.shape
    assert np.linalg.norm(x - expected) <= RTOL[dtype] * np.linalg.norm(expected)


@pytest.mark.parametrize("kind", ["deep", "wide"])
def test_ridge_equals_regularized_normal_equations(rng, kind):
    a, b = problem(rng, kind, "complex128")
    n = a.shape[-1]
    lam = 0.3
    expected = np.linalg.solve(a.conj().T @ a + lam * np.eye(n), a.conj().T @ b)
    x = diffqr.lstsq(a, b, ridge=lam)
    assert relative_error([x], [expected]) < 1e-13
    # A 0-d array is the same ridge.
    assert relative_error([diffqr.lstsq(a, b, ridge=np.array(lam))], [expected]) < 1e-13


def test_wide_ridge_tends_to_minimum_norm(rng):
    a, b = problem(rng, "wide")
    x0 = diffqr.lstsq(a, b)
    assert relative_error([diffqr.lstsq(a, b, ridge=1e-9)], [x0]) < 1e-7


def test_ridge_solves_rank_deficient(rng):
    a, b = problem(rng, "deep")
    a[:, 1] = a[:, 0]
    n = a.shape[-1]
    x = diffqr.lstsq(a, b, ridge=0.1)
    expected = np.linalg.solve(a.T @ a + 0.1 * np.eye(n), a.T @ b)
    assert relative_error([x], [expected]) < 1e-12


def test_batches_broadcast(rng):
    a = random_matrix(rng, (2, 1, 6, 3), cond=10.0)
    b = random_matrix(rng, (4, 6, 2))
    x = diffqr.lstsq(a, b)
    assert x.shape == (2, 4, 3, 2)
    for i in range(2):
        for j in range(4):
            expected = np.linalg.lstsq(a[i, 0], b[j], rcond=None)[0]
            assert relative_error([x[i, j]], [expected]) < 1e-13
    x_bar = random_matrix(rng, x.shape)
    a_bar, b_bar = diffqr.lstsq_vjp(a, b, x, x_bar)
    assert a_bar.shape == a.shape and b_bar.shape == b.shape
    expected_a = sum(diffqr.lstsq_vjp(a[i, 0], b[j], x[i, j], x_bar[i, j])[0]
                     for i in range(2) for j in range(4))
    assert relative_error([a_bar[1, 0] + a_bar[0, 0]], [expected_a]) < 1e-12


# ---------------------------------------------------------------------- derivatives


def _tangents(rng, a, b, dtype):
    return random_matrix(rng, a.shape, dtype), random_matrix(rng, b.shape, dtype), 0.4


@pytest.mark.parametrize("dtype", ["float64", "complex128"])
@pytest.mark.parametrize("kind", list(SHAPES))
@pytest.mark.parametrize("ridge", [0.0, 0.7])
@pytest.mark.parametrize("vector", [False, True])
def test_rules_match_finite_differences(rng, dtype, kind, ridge, vector):
    a, b = problem(rng, kind, dtype, vector, batch=(2,))
    x = diffqr.lstsq(a, b, ridge=ridge)
    da, db, dlam = _tangents(rng, a, b, dtype)
    x_bar = random_matrix(rng, x.shape, dtype)
    fd = central_difference(lambda a_, b_, l_: [diffqr.lstsq(a_, b_, ridge=float(l_))],
                            [a, b, np.float64(ridge)], [da, db, np.float64(dlam if ridge else 0)])
    dx = diffqr.lstsq_jvp(a, b, x, da, db, ridge=ridge, d_ridge=dlam if ridge else None)
    assert relative_error([dx], fd) < 1e-8
    a_bar, b_bar, lam_bar = diffqr.lstsq_vjp(a, b, x, x_bar, ridge=ridge, return_ridge_bar=True)
    assert np.ndim(lam_bar) == 0 and np.isrealobj(lam_bar)
    assert adjoint_error([a_bar, b_bar, lam_bar], [da, db, dlam if ridge else 0.0], [x_bar], fd
                         ) < 1e-8


@pytest.mark.parametrize("kind", ["deep", "wide"])
def test_ridge_derivative_at_zero_is_one_sided_limit(rng, kind):
    a, b = problem(rng, kind)
    x = diffqr.lstsq(a, b)
    # Second-order one-sided differences: error ~ (h / λ_min(G))² ~ (1e-7 / 1e-2)².
    h = 1e-7
    f = [diffqr.lstsq(a, b, ridge=k * h) for k in range(3)]
    one_sided = (-3 * f[0] + 4 * f[1] - f[2]) / (2 * h)
    assert relative_error([diffqr.lstsq_jvp(a, b, x, None, None, d_ridge=1.0)], [one_sided]) < 1e-7


@pytest.mark.parametrize("kind", list(SHAPES))
@pytest.mark.parametrize("ridge", [0.0, 0.7])
def test_adjoint_identity_between_jvp_and_vjp(rng, kind, ridge):
    a, b = problem(rng, kind, "complex128", batch=(3,))
    x = diffqr.lstsq(a, b, ridge=ridge)
    da, db, dlam = _tangents(rng, a, b, "complex128")
    x_bar = random_matrix(rng, x.shape, "complex128")
    dx = diffqr.lstsq_jvp(a, b, x, da, db, ridge=ridge, d_ridge=dlam)
    grads = diffqr.lstsq_vjp(a, b, x, x_bar, ridge=ridge, return_ridge_bar=True)
    assert adjoint_error(grads, [da, db, dlam], [x_bar], [dx]) < 1e-13


def test_none_cotangents_and_tangents(rng):
    a, b = problem(rng, "deep")
    x = diffqr.lstsq(a, b)
    a_bar, b_bar = diffqr.lstsq_vjp(a, b, x, None)
    assert not a_bar.any() and not b_bar.any() and a_bar.shape == a.shape
    da = random_matrix(rng, a.shape)
    only_a = diffqr.lstsq_jvp(a, b, x, da, None)
    both = diffqr.lstsq_jvp(a, b, x, da, np.zeros_like(b))
    assert relative_error([only_a], [both]) < 1e-15
    assert not diffqr.lstsq_jvp(a, b, x, None, None).any()


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize("kind", ["deep", "wide"])
def test_rank_deficient_raises_and_suggests_ridge(rng, kind):
    a, b = problem(rng, kind)
    if kind == "deep":
        a[:, 2] = 3 * a[:, 0]
    else:
        a[2] = 3 * a[0]
    with pytest.raises(diffqr.RankDeficientError, match="ridge > 0"):
        diffqr.lstsq(a, b)
    with pytest.raises(diffqr.RankDeficientError):
        diffqr.lstsq_vjp(a, b, np.zeros((a.shape[1], 3)), np.ones((a.shape[1], 3)))


def test_bad_arguments(rng):
    a, b = problem(rng, "deep")
    with pytest.raises(ValueError, match=r"\(7, 4\).*\(6, 3\)"):
        diffqr.lstsq(a, b[:6])
    with pytest.raises(ValueError, match="batch dimensions"):
        diffqr.lstsq(np.stack([a, a]), np.stack([b, b, b]))
    with pytest.raises(ValueError, match="ridge must be >= 0"):
        diffqr.lstsq(a, b, ridge=-1.0)
    with pytest.raises(ValueError, match="ridge must be >= 0"):
        diffqr.lstsq(a, b, ridge=np.array(-1.0))
    with pytest.raises(ValueError, match="finite"):
        diffqr.lstsq(a, b, ridge=float("nan"))
    with pytest.raises(ValueError, match="0-d"):
        diffqr.lstsq(a, b, ridge=np.array([1.0]))
    with pytest.raises(TypeError, match="ridge"):
        diffqr.lstsq(a, b, ridge=True)
    with pytest.raises(TypeError, match="complex128"):
        diffqr.lstsq(a, b.astype(complex))
    with pytest.raises(TypeError, match="float32"):
        diffqr.lstsq(a.astype(np.float32), b.astype(np.float32), ridge=np.array(1.0))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        diffqr.lstsq(a[0], b[0])
    bad = b.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="B contains NaN or Inf"):
        diffqr.lstsq(a, bad)
    diffqr.lstsq(a, b, check_finite=False)


def test_inputs_not_mutated(rng):
    a, b = problem(rng, "wide")
    a0, b0 = a.copy(), b.copy()
    x = diffqr.lstsq(a, b, ridge=0.2)
    x0 = x.copy()
    diffqr.lstsq_vjp(a, b, x, np.ones_like(x), ridge=0.2, return_ridge_bar=True)
    diffqr.lstsq_jvp(a, b, x, np.ones_like(a), np.ones_like(b), ridge=0.2, d_ridge=1.0)
    assert np.array_equal(a, a0) and np.array_equal(b, b0) and np.array_equal(x, x0)
