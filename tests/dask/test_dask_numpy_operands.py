"""NumPy right-hand sides beside a dask ``A``, as ``da.linalg.lstsq(dask_A, numpy_B)`` takes them
(NumPy promotion); NumPy ``A`` beside a dask ``B`` is refused, as dask refuses it.  The explicit
rules follow the same rule; their cotangents are checked against central differences."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

import diffqr
from diffqr._verify import adjoint_error, central_difference, random_matrix

# (A's shape, row chunk, column chunk): tall over several row chunks, wide over column chunks.
PROBLEMS = [((120, 5), 30, 5), ((5, 120), 5, 40)]


@pytest.mark.parametrize("dtype", ["float64", "complex128"])
@pytest.mark.parametrize(("shape", "rows", "cols"), PROBLEMS)
def test_lstsq_and_rules_with_a_numpy_rhs(rng, lazy, shape, rows, cols, dtype):
    a, b = random_matrix(rng, shape, dtype), random_matrix(rng, (shape[0], 2), dtype)
    x_bar, da_ = random_matrix(rng, (shape[1], 2), dtype), random_matrix(rng, shape, dtype)
    a_dask = da.from_array(a, chunks=(rows, cols))
    with lazy():  # building the graphs computes nothing
        x = diffqr.lstsq(a_dask, b)
        a_bar, b_bar = diffqr.lstsq_vjp(a_dask, b, x, x_bar)
        # dA is shaped like A: dask like A (NumPy stands only for the right-hand side).
        dx = diffqr.lstsq_jvp(a_dask, b, x, da.from_array(da_, chunks=(rows, cols)), None)
    assert all(isinstance(y, da.Array) for y in (x, a_bar, b_bar, dx))
    x, a_bar, b_bar, dx = da.compute(x, a_bar, b_bar, dx)
    np.testing.assert_allclose(x, np.linalg.lstsq(a, b, rcond=None)[0], atol=1e-10)
    # Ā (the dask argument's cotangent) and dX against central differences of NumPy's lstsq.
    db = random_matrix(rng, b.shape, dtype)
    (fd,) = central_difference(lambda p, q: [np.linalg.lstsq(p, q, rcond=None)[0]], [a, b],
                               [da_, db])
    assert adjoint_error([a_bar, b_bar], [da_, db], [x_bar], [fd]) < 1e-7
    (fd_a,) = central_difference(lambda p: [np.linalg.lstsq(p, b, rcond=None)[0]], [a], [da_])
    np.testing.assert_allclose(dx, fd_a, atol=1e-6 * np.linalg.norm(fd_a))


def test_numpy_promotion(rng):
    a = da.from_array(random_matrix(rng, (40, 3)).astype(np.float32), chunks=(10, 3))
    b = random_matrix(rng, (40, 2))
    assert diffqr.lstsq(a, b).dtype == da.linalg.lstsq(a, b)[0].dtype == np.float64


def test_numpy_matrix_beside_dask_is_refused(rng):
    a, b = random_matrix(rng, (40, 3)), random_matrix(rng, (40, 2))
    with pytest.raises(TypeError, match="A is a numpy array, B is a dask array"):
        diffqr.lstsq(a, da.from_array(b, chunks=(10, 2)))
    q, r = diffqr.qr(da.from_array(a, chunks=(10, 3)))
    with pytest.raises(TypeError, match="one framework"):
        diffqr.qr_vjp(da.from_array(a, chunks=(10, 3)), q, r, np.ones((40, 3)), None)
