"""qr(method="cholesky" | "auto"): shifted CholeskyQR for tall-skinny input (NumPy)."""

from __future__ import annotations

import numpy as np
import pytest

import diffqr
from diffqr._verify import adjoint_error, central_difference, random_matrix


def _orthogonality(q: np.ndarray) -> float:
    n = q.shape[-1]
    return float(np.abs(np.swapaxes(q, -1, -2).conj() @ q - np.eye(n)).max())


def _reconstruction(a: np.ndarray, q: np.ndarray, r: np.ndarray) -> float:
    return float(np.linalg.norm(q @ r - a) / np.linalg.norm(a))


@pytest.mark.parametrize("cond", [1.0, 1e4, 1e7, 1e10, 1e14])
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_orthonormal_and_accurate_up_to_high_condition(rng, cond, dtype):
    a = random_matrix(rng, (1500, 30), dtype, cond=cond)
    q, r = diffqr.qr(a, method="cholesky")
    assert _orthogonality(q) <= 1e-12
    assert _reconstruction(a, q, r) <= 1e-14
    assert np.all(np.diagonal(r).real > 0) and np.allclose(np.diagonal(r).imag, 0)
    np.testing.assert_array_equal(np.tril(r, -1), 0)


def test_same_factorization_as_householder_up_to_the_gauge(rng):
    a = random_matrix(rng, (2, 500, 30), "float64", cond=1e3)
    q, r = diffqr.qr(a, method="cholesky")
    qh, rh = np.linalg.qr(a)
    signs = np.sign(np.diagonal(rh, axis1=-2, axis2=-1))
    np.testing.assert_allclose(q, qh * signs[..., None, :], atol=1e-12)
    np.testing.assert_allclose(r, rh * signs[..., :, None], atol=1e-11 * np.abs(rh).max())


def test_float32(rng):
    a = random_matrix(rng, (2000, 20), "float32", cond=100.0)
    q, r = diffqr.qr(a, method="cholesky")
    assert q.dtype == np.float32
    assert _orthogonality(q) <= 1e-5 and _reconstruction(a, q, r) <= 1e-6


def test_never_returns_a_bad_q(rng):
    zero = np.zeros((50, 5))
    with pytest.raises(ValueError, match="method='cholesky' cannot factor A"):
        diffqr.qr(zero, method="cholesky")
    q, r = diffqr.qr(zero, method="auto")  # falls back to Householder
    np.testing.assert_array_equal(q @ r, zero)
    nan = random_matrix(rng, (50, 5))
    nan[3, 2] = np.nan
    with pytest.raises(ValueError, match="cannot factor"):
        diffqr.qr(nan, method="cholesky", check_finite=False)
    dependent = random_matrix(rng, (400, 10))
    dependent[:, 4] = dependent[:, 0] - 2 * dependent[:, 1]
    q, r = diffqr.qr(dependent, method="cholesky")
    assert _orthogonality(q) <= 1e-12 and _reconstruction(dependent, q, r) <= 1e-14


def test_auto_picks_by_shape_and_framework(rng):
    tall = random_matrix(rng, (400, 10))
    _, r = diffqr.qr(tall, method="auto")  # NumPy: CholeskyQR is the faster forward pass
    assert np.all(np.diagonal(r) > 0)
    square = random_matrix(rng, (10, 10))
    for got, expected in zip(diffqr.qr(square, method="auto"), np.linalg.qr(square), strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-13)


def test_bad_method_arguments(rng):
    a = random_matrix(rng, (8, 3))
    with pytest.raises(ValueError, match="method must be one of 'householder', 'cholesky'"):
        diffqr.qr(a, method="qr")
    for kwargs in ({"mode": "complete"}, {"pivoting": True}, {"rank": 2}):
        with pytest.raises(ValueError, match="method='cholesky' computes the reduced QR"):
            diffqr.qr(a, method="cholesky", **kwargs)
    with pytest.raises(ValueError, match="m >= n"):
        diffqr.qr(a.T, method="cholesky")


@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_rules_hold_in_the_positive_diagonal_gauge(rng, dtype):
    a = random_matrix(rng, (40, 6), dtype)
    q, r = diffqr.qr(a, method="cholesky")
    q_bar, r_bar = random_matrix(rng, q.shape, dtype), random_matrix(rng, r.shape, dtype)
    da = random_matrix(rng, a.shape, dtype)
    fd = central_difference(lambda x: list(diffqr.qr(x, method="cholesky")), [a], [da])
    a_bar = diffqr.qr_vjp(a, q, r, q_bar, r_bar)
    assert adjoint_error([a_bar], [da], [q_bar, r_bar], fd) < 1e-8
    dq, dr = diffqr.qr_jvp(a, q, r, da)
    np.testing.assert_allclose(dq, fd[0], atol=1e-7)
    np.testing.assert_allclose(dr, fd[1], atol=1e-7)
