"""qr / lq / lstsq on array-api-strict arrays: values equal NumPy's (LAPACK gauge, geqp3 pivots),
outputs stay array-api-strict arrays on the input's device."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from strict_arrays import assert_strict, to_device, to_host, xp

import diffqr
from diffqr._verify import random_matrix

SHAPES = [(5, 3), (3, 5), (4, 4), (1, 1), (4, 1), (1, 4), (2, 3, 5, 4), (2, 3, 3, 6)]
DTYPES = ["float32", "float64", "complex64", "complex128"]
TOL = {"float32": 1e-5, "complex64": 1e-5, "float64": 1e-13, "complex128": 1e-13}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["reduced", "complete", "r"])
def test_qr_equals_lapack(rng, device, shape, dtype, mode):
    a = random_matrix(rng, shape, dtype)
    out = diffqr.qr(to_device(a, device), mode=mode)
    expected = diffqr.qr(a, mode=mode)
    for x, y in zip([out] if mode == "r" else out, [expected] if mode == "r" else expected,
                    strict=True):
        assert_strict(x, device, getattr(xp, dtype))
        np.testing.assert_allclose(to_host(x), y, atol=TOL[dtype], rtol=0)


@pytest.mark.parametrize("shape", [(6, 3), (3, 6), (5, 5), (1, 4), (4, 1), (2, 3, 4, 6),
                                   (2, 3, 6, 4)])
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_pivots_are_lapacks(rng, device, shape, dtype):
    a = random_matrix(rng, shape, dtype)
    q, r, p = diffqr.qr(to_device(a, device), pivoting=True)
    for x in (q, r):
        assert_strict(x, device, getattr(xp, dtype))
    assert_strict(p, device, xp.int64)
    perms = to_host(p)
    for index in np.ndindex(*shape[:-2]):
        np.testing.assert_array_equal(perms[index],
                                      scipy.linalg.qr(a[index], pivoting=True)[2])
    reconstructed = to_host(q) @ to_host(r)
    np.testing.assert_allclose(reconstructed, np.take_along_axis(a, perms[..., None, :], -1),
                               atol=1e-13)


def test_pivoted_truncation_of_a_rank_deficient_matrix(rng, device):
    a = random_matrix(rng, (2, 8, 3)) @ random_matrix(rng, (2, 3, 6))
    q, r, p = diffqr.qr(to_device(a, device), pivoting=True, rank=3)
    q_ref, r_ref, p_ref = diffqr.qr(a, pivoting=True, rank=3)
    np.testing.assert_array_equal(to_host(p), p_ref)
    np.testing.assert_allclose(to_host(q), q_ref, atol=1e-12)
    np.testing.assert_allclose(to_host(r), r_ref, atol=1e-12)


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (1, 1), (1, 4), (2, 3, 4, 6)])
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
@pytest.mark.parametrize("options", [{}, {"mode": "complete"}, {"pivoting": True},
                                     {"pivoting": True, "rank": 1}])
def test_lq_equals_numpy(rng, device, shape, dtype, options):
    a = random_matrix(rng, shape, dtype)
    out = diffqr.lq(to_device(a, device), **options)
    for x, y in zip(out, diffqr.lq(a, **options), strict=True):
        assert_strict(x, device)
        np.testing.assert_allclose(to_host(x), y, atol=1e-13, rtol=0)


@pytest.mark.parametrize(("a_shape", "b_shape"), [
    ((6, 3), (6, 2)), ((3, 6), (3, 2)), ((6, 3), (6,)), ((1, 1), (1,)), ((4, 1), (4, 1)),
    ((1, 4), (1, 2)), ((2, 3, 5, 4), (2, 3, 5)), ((2, 3, 5, 4), (5, 2)), ((3, 4, 6), (1, 4, 2)),
])
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
@pytest.mark.parametrize("ridge", [0.0, 0.3, "array"])
def test_lstsq_equals_numpy(rng, device, a_shape, b_shape, dtype, ridge):
    a, b = random_matrix(rng, a_shape, dtype, cond=10.0), random_matrix(rng, b_shape, dtype)
    lam = xp.asarray(0.2, device=device) if ridge == "array" else ridge
    x = diffqr.lstsq(to_device(a, device), to_device(b, device), ridge=lam)
    assert_strict(x, device, getattr(xp, dtype))
    expected = diffqr.lstsq(a, b, ridge=0.2 if ridge == "array" else ridge)
    np.testing.assert_allclose(to_host(x), expected, atol=1e-12, rtol=0)


def test_cholesky_method(rng, device):
    a = random_matrix(rng, (40, 5), cond=1e3)
    with pytest.raises(ValueError, match="method='householder'"):
        # CholeskyQR checks its Gram matrix on the host: not for arrays that stay on the device.
        diffqr.qr(to_device(a, device), method="cholesky")
    q, _ = diffqr.qr(to_device(a, device), method="auto")  # falls back to Householder
    np.testing.assert_allclose(to_host(q), np.linalg.qr(a)[0], atol=1e-13)


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (2, 0, 4)])
def test_empty_matrices(rng, device, shape):
    a = random_matrix(rng, shape)
    for out, expected in ((diffqr.qr(to_device(a, device)), diffqr.qr(a)),
                          (diffqr.qr(to_device(a, device), pivoting=True),
                           diffqr.qr(a, pivoting=True))):
        for x, y in zip(out, expected, strict=True):
            assert_strict(x, device)
            assert x.shape == y.shape
            np.testing.assert_array_equal(to_host(x), y)


def test_inputs_are_not_modified(rng, device):
    a, b = random_matrix(rng, (2, 6, 4), "complex128"), random_matrix(rng, (2, 6, 3), "complex128")
    a_x, b_x = to_device(a, device), to_device(b, device)
    q, r, _ = diffqr.qr(a_x, pivoting=True)
    diffqr.lq(a_x, pivoting=True, mode="reduced")
    x = diffqr.lstsq(a_x, b_x, ridge=0.1)
    diffqr.lstsq_vjp(a_x, b_x, x, x, ridge=0.1)
    diffqr.qr_vjp(a_x, diffqr.qr(a_x).Q, diffqr.qr(a_x).R, q, r)
    np.testing.assert_array_equal(to_host(a_x), a)
    np.testing.assert_array_equal(to_host(b_x), b)
