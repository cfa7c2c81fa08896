"""The public NumPy API: outputs, pivoting, truncation, bad input, rank deficiency, hygiene."""

from __future__ import annotations

import subprocess
import sys

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


class TestBadInput:
    def test_unknown_mode(self):
        with pytest.raises(ValueError, match="mode must be one of"):
            diffqr.qr(np.eye(3), mode="economic")
        with pytest.raises(ValueError, match="mode"):
            diffqr.lq(np.eye(3), mode="r")

    def test_too_few_dimensions(self):
        with pytest.raises(ValueError, match="A must have at least 2 dimensions"):
            diffqr.qr(np.ones(3))

    @pytest.mark.parametrize("dtype", ["int64", "bool", "float16", "int32"])
    def test_unsupported_dtype(self, dtype):
        with pytest.raises(TypeError, match=f"A has dtype {dtype}"):
            diffqr.qr(np.ones((3, 3), dtype=dtype))

    @pytest.mark.parametrize("rank", [0, 4, -1])
    def test_rank_out_of_range(self, rank):
        with pytest.raises(ValueError, match="rank must satisfy"):
            diffqr.qr(np.eye(3), pivoting=True, rank=rank)

    def test_rank_type(self):
        with pytest.raises(TypeError, match="rank must be an int"):
            diffqr.qr(np.eye(3), rank=2.0)

    def test_rank_with_complete_mode(self):
        with pytest.raises(ValueError, match="complete"):
            diffqr.qr(np.eye(3), rank=2, mode="complete")

    def test_non_finite(self):
        a = np.eye(3)
        a[1, 2] = np.nan
        with pytest.raises(ValueError, match="NaN or Inf"):
            diffqr.qr(a)
        diffqr.qr(a, check_finite=False)  # the user may opt out

    def test_pivoting_must_be_bool(self):
        with pytest.raises(TypeError, match="pivoting"):
            diffqr.qr(np.eye(3), pivoting="yes")

    def test_options_are_keyword_only(self):
        with pytest.raises(TypeError):
            diffqr.qr(np.eye(3), "complete")

    def test_lists_are_accepted(self):
        q, r = diffqr.qr([[1.0, 2.0], [3.0, 4.0]])
        np.testing.assert_allclose(q @ r, [[1.0, 2.0], [3.0, 4.0]])


def test_inputs_are_not_modified(rng):
    a = random_matrix(rng, (6, 4), "complex128")
    keep = a.copy()
    q, r, p = diffqr.qr(a, pivoting=True)
    diffqr.lq(a, pivoting=True)
    args = [a, q, r, np.ones_like(q), np.ones_like(r)]
    saved = [x.copy() for x in args]
    diffqr.qr_vjp(np.take_along_axis(a, p[None, :], -1), *args[1:])
    diffqr.qr_jvp(a, *diffqr.qr(a), a)
    np.testing.assert_array_equal(a, keep)
    for x, y in zip(args, saved, strict=True):
        np.testing.assert_array_equal(x, y)


def test_import_loads_no_framework():
    code = (
        "import sys, numpy as np, diffqr\n"
        "q, r = diffqr.qr(np.eye(3)); diffqr.qr(np.eye(3), pivoting=True); diffqr.lq(np.eye(3))\n"
        "diffqr.qr_vjp(np.eye(3), q, r, q, r)\n"
        "bad = [m for m in ('torch', 'jax', 'tensorflow', 'mxnet', 'dask') if m in sys.modules]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
