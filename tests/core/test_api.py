"""The public NumPy API: outputs, pivoting, truncation, rank deficiency (bad input and hygiene:
test_bad_input.py, test_hygiene.py)."""

from __future__ import annotations

import numpy as np
import pytest

import diffqr
from diffqr._verify import central_difference, random_matrix, relative_error


@pytest.mark.parametrize("shape", [(5, 5), (7, 4), (4, 7), (3, 6, 4), (0, 3), (3, 0)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
@pytest.mark.parametrize("mode", ["reduced", "complete"])
def test_qr_equals_numpy(rng, shape, dtype, mode):
    a = random_matrix(rng, shape, dtype)
    q, r = diffqr.qr(a, mode=mode)
    q_ref, r_ref = np.linalg.qr(a, mode=mode)
    assert q.dtype == a.dtype and r.dtype == a.dtype
    np.testing.assert_array_equal(q, q_ref)
    np.testing.assert_array_equal(r, r_ref)


def test_mode_r_returns_r_only(rng):
    a = random_matrix(rng, (6, 4))
    np.testing.assert_array_equal(diffqr.qr(a, mode="r"), np.linalg.qr(a, mode="r"))


@pytest.mark.parametrize("shape", [(7, 4), (4, 7), (5, 5), (2, 6, 5), (2, 5, 6)])
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_pivoted_qr(rng, shape, dtype):
    a = random_matrix(rng, shape, dtype)
    q, r, p = diffqr.qr(a, pivoting=True)
    assert p.dtype == np.int64 and p.shape == (*shape[:-2], shape[-1])
    np.testing.assert_allclose(q @ r, np.take_along_axis(a, p[..., None, :], -1), atol=1e-13)
    d = np.abs(np.diagonal(r, axis1=-2, axis2=-1))
    assert np.all(d[..., :-1] >= d[..., 1:] * (1 - 1e-12))
    eye = np.broadcast_to(np.eye(q.shape[-1]), (*shape[:-2], q.shape[-1], q.shape[-1]))
    np.testing.assert_allclose(q.conj().swapaxes(-1, -2) @ q, eye, atol=1e-13)


def test_pivoted_lq(rng):
    a = random_matrix(rng, (3, 7, 4), "complex128")
    l_factor, q, p = diffqr.lq(a, pivoting=True)
    np.testing.assert_allclose(l_factor @ q, np.take_along_axis(a, p[..., :, None], -2),
                               atol=1e-13)
    assert np.allclose(np.triu(l_factor, 1), 0)


def test_truncated_rank_shapes(rng):
    a = random_matrix(rng, (2, 9, 7))
    q, r, p = diffqr.qr(a, pivoting=True, rank=3)
    assert q.shape == (2, 9, 3) and r.shape == (2, 3, 7) and p.shape == (2, 7)


def test_rank_deficient_gradient_raises_and_pivoted_truncation_is_finite(rng):
    """Leading columns dependent: the unpivoted derivative is undefined, rank-3 pivoted is not."""
    a = random_matrix(rng, (8, 3)) @ random_matrix(rng, (3, 6))
    a[:, 1] = 3 * a[:, 0]
    q, r = diffqr.qr(a)
    with pytest.raises(diffqr.RankDeficientError, match="pivoting=True"):
        diffqr.qr_vjp(a, q, r, np.ones_like(q), None)
    with pytest.raises(diffqr.RankDeficientError):
        diffqr.qr_jvp(a, q, r, np.ones_like(a))
    q, r, p = diffqr.qr(a, pivoting=True, rank=3)
    b = np.take_along_axis(a, p[None, :], -1)
    da = random_matrix(rng, a.shape)
    dq, dr = diffqr.qr_jvp(b, q, r, da[:, p])
    fd = central_difference(lambda x: list(diffqr.qr(x, pivoting=True, rank=3)[:2]), [a], [da])
    assert np.isfinite(dq).all() and relative_error([dq, dr], fd) < 1e-6


def test_dependent_leading_columns_full_row_rank(rng):
    """Wide A with full row rank but dependent leading columns: pivoting rescues the gradient."""
    a = random_matrix(rng, (3, 6))
    a[:, 1] = a[:, 0]
    q, r = diffqr.qr(a)
    with pytest.raises(diffqr.RankDeficientError):
        diffqr.qr_vjp(a, q, r, None, np.ones_like(r))
    q, r, p = diffqr.qr(a, pivoting=True)
    a_bar = diffqr.qr_vjp(a[:, p], q, r, None, np.ones_like(r))
    assert np.isfinite(a_bar).all()
