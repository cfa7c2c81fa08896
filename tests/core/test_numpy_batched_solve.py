"""The NumPy backend's batched triangular solve (one ``np.linalg.solve`` call for small orders)
against SciPy's triangular solve matrix by matrix, and its effect on a batched QR VJP."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.linalg

import diffqr
from diffqr._backends.numpy import BACKEND
from diffqr._tuning import HOST_BATCHED_LU_MAX_SIZE as _BATCHED_LU_MAX_SIZE
from diffqr._tuning import HOST_SUBSTITUTION_MAX_SIZE
from diffqr._verify import adjoint_error, central_difference, random_matrix, relative_error

# (shape of r, shape of b): batches, broadcasting either way, the largest order on this path.
# Orders up to HOST_SUBSTITUTION_MAX_SIZE run by substitution, larger ones by the batched LU.
_SUB = HOST_SUBSTITUTION_MAX_SIZE
SHAPES = [((5, 3, 3), (5, 3, 4)), ((2, 3, 4, 4), (4, 2)), ((4, 4), (3, 4, 2)),
          ((6, 1, 1), (6, 1, 2)), ((4, _SUB, _SUB), (4, _SUB, 3)),
          ((4, _SUB + 1, _SUB + 1), (4, _SUB + 1, 3)),
          ((3, _BATCHED_LU_MAX_SIZE, _BATCHED_LU_MAX_SIZE), (3, _BATCHED_LU_MAX_SIZE, 5))]


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize(("upper", "left", "adjoint"),
                         list(itertools.product([True, False], repeat=3)))
def test_batched_solve_matches_scipy(rng, dtype, shapes, upper, left, adjoint):
    r_shape, b_shape = shapes
    k = r_shape[-1]
    # Well conditioned triangles, so the two solves agree to a few eps.
    r = random_matrix(rng, r_shape, dtype) + 4 * np.eye(k, dtype=dtype)
    r = np.triu(r) if upper else np.tril(r)
    b = random_matrix(rng, b_shape if left else b_shape[:-2] + b_shape[:-3:-1], dtype)
    x = BACKEND.solve_triangular(r, b, upper=upper, left=left, adjoint=adjoint)
    batch = np.broadcast_shapes(r.shape[:-2], b.shape[:-2])
    r_full = np.broadcast_to(r, batch + r.shape[-2:])
    b_full = np.broadcast_to(b, batch + b.shape[-2:])
    trans = "C" if adjoint else "N"
    expected = np.empty_like(x)
    for i in np.ndindex(*batch):
        if left:
            expected[i] = scipy.linalg.solve_triangular(r_full[i], b_full[i], lower=not upper,
                                                        trans=trans)
        else:  # x op(r) = b  <=>  op(r)ᴴ xᴴ = bᴴ
            expected[i] = scipy.linalg.solve_triangular(
                r_full[i], b_full[i].conj().T, lower=not upper, trans="N" if adjoint else "C"
            ).conj().T
    assert x.dtype == expected.dtype
    assert relative_error([x], [expected]) < 20 * k * np.finfo(dtype).eps


def test_batched_qr_vjp_of_tiny_matrices(rng):
    """A batch of 3 × 3 QRs: the solve above inside the VJP, against central differences."""
    a = random_matrix(rng, (200, 3, 3), cond=10.0)
    q, r = diffqr.qr(a)
    q_bar, r_bar = random_matrix(rng, q.shape), random_matrix(rng, r.shape)
    da = random_matrix(rng, a.shape)
    fd = central_difference(lambda x: list(diffqr.qr(x)), [a], [da])
    a_bar = diffqr.qr_vjp(a, q, r, q_bar, r_bar)
    assert adjoint_error([a_bar], [da], [q_bar, r_bar], fd) < 1e-8
