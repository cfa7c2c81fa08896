"""Dask kernels and graph builders: TSQR with LAPACK's gauge, the ``R``-only reduction tree,
per-matrix LAPACK, and small-factor-times-blocks products (see the Dask adapter's docstring).

Kernels run on NumPy chunks; the rules' rank checks run in a kernel of their own on the small
factor (the values exist only then), and complete mode's ``Qnn − I`` check inside its solve.
"""

from __future__ import annotations

import string

import dask.array as da
import numpy as np

from .. import _tuning
from . import _host


def whole(a: da.Array, *axes: int) -> da.Array:
    """``a`` rechunked so that each of ``axes`` is a single chunk (no-op when it already is)."""
    axes = tuple(axis % a.ndim for axis in axes)
    if all(a.numblocks[axis] == 1 for axis in axes):
        return a
    return a.rechunk({axis: -1 for axis in axes})


def indices(ndim: int) -> str:
    return string.ascii_lowercase[:ndim]


def is_complex(a: da.Array) -> bool:
    return np.issubdtype(a.dtype, np.complexfloating)


# ---------------------------------------------------------------------- kernels (run on chunks)


def _qr_kernel(a: np.ndarray, complete: bool) -> tuple[np.ndarray, np.ndarray]:
    return np.linalg.qr(a, mode="complete" if complete else "reduced")


def _r_kernel(a: np.ndarray) -> np.ndarray:
    return np.linalg.qr(a, mode="r")


def householder_signs(top: np.ndarray, m: int) -> np.ndarray:
    """Signs ``S`` with ``Q S`` = LAPACK's ``Q`` when ``Q`` and LAPACK's differ by signs only.

    ``top`` is the leading ``k × k`` block of ``Q`` (``m × k``, orthonormal columns).  Householder
    QR of ``Q`` is LU elimination of ``Q − [S; 0]`` with ``S_jj = −sign(Re pivot)`` (Ballard et al.,
    2015, "Reconstructing Householder vectors from tall-skinny QR"); the pivots need only the top
    block.  LAPACK skips the reflection (``S_jj = sign(pivot)``) for a real pivot when the rest of
    the column is zero: always in the last row of a square matrix, and where the pivot has unit
    modulus.  Householder reflectors are unchanged by real column scalings, so ``A = Q R`` and ``Q``
    get the same ones and LAPACK's factors of ``A`` are ``(Q S, S R)``.
    """
    u = np.array(top, dtype=np.result_type(top.dtype, np.float64))
    k = u.shape[-1]
    signs = np.ones(k)
    for j in range(k):
        pivot = u[j, j]
        if (j == m - 1 or abs(pivot) >= 1) and pivot.imag == 0:
            signs[j] = 1.0 if pivot.real >= 0 else -1.0
            continue
        signs[j] = -1.0 if pivot.real >= 0 else 1.0
        u[j + 1 :, j + 1 :] -= np.outer(u[j + 1 :, j], u[j, j + 1 :]) / (pivot - signs[j])
    return signs


def _lapack_gauge(top: np.ndarray, r: np.ndarray, m: int) -> np.ndarray:
    """Unit-modulus ``D`` with ``(Q D, Dᴴ R)`` LAPACK's factors, from ``Q[:k]`` and ``R``."""
    diagonal = np.diagonal(r).copy()
    modulus = np.abs(diagonal)
    phase = np.where(modulus > 0, diagonal / np.where(modulus > 0, modulus, 1), 1)
    return (phase * householder_signs(top * phase, m)).astype(top.dtype)


def solve_kernel(r: np.ndarray, b: np.ndarray, *, upper: bool, left: bool, adjoint: bool
                  ) -> np.ndarray:
    if left:
        return _host.solve_triangular(r, b, lower=not upper, trans="C" if adjoint else "N")
    # x op(r) = b  <=>  op(r)ᴴ xᴴ = bᴴ
    return _host_mh(_host.solve_triangular(r, _host_mh(b), lower=not upper,
                                           trans="N" if adjoint else "C"))


def _host_mh(a: np.ndarray) -> np.ndarray:
    t = np.swapaxes(a, -1, -2)
    return np.conj(t) if np.iscomplexobj(t) else t


def check_diagonal_kernel(block: np.ndarray, check, block_info=None) -> np.ndarray:
    # A rule's rank check (Backend.check_diagonal), deferred to compute time; the offset of the
    # block in the batch lets its message name the element of the whole batch.
    offset = tuple(start for start, _ in block_info[0]["array-location"][:-2])
    check(np.abs(np.diagonal(block, axis1=-2, axis2=-1)), batch_offset=offset)
    return block


def general_solve_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    _host.check_invertible(a)  # the rule's check_invertible, deferred (its tolerance has no size)
    return np.linalg.solve(a, b)


def finite_or_raise(block: np.ndarray, message: str) -> np.ndarray:
    if not np.isfinite(block).all():
        raise ValueError(message)
    return block


def take_columns_kernel(a: np.ndarray, perm: np.ndarray) -> np.ndarray:
    return _host.take_columns(a, np.broadcast_to(perm, (*a.shape[:-2], a.shape[-1])),
                              np.take_along_axis)


# ---------------------------------------------------------------------- graph builders


def small_with_blocks(kernel, small: da.Array, b: da.Array, *, chunked_axis: int, dtype,
                       **kwargs) -> da.Array:
    """``kernel(small, block)`` for each block of ``b``, ``small`` (…, k, k) whole in every call.

    ``b`` keeps its chunks along ``chunked_axis`` (-2: row blocks, -1: column blocks) and is made
    whole along the other matrix axis; batch axes are matched block by block.
    """
    small = whole(small, -2, -1)
    b = whole(b, -1 if chunked_axis == -2 else -2)
    batch = indices(b.ndim - 2)
    small_batch = batch[len(batch) - (small.ndim - 2):] if small.ndim > 2 else ""
    out = batch + "yz"
    return da.blockwise(kernel, out, small, small_batch + "uv", b, out, dtype=dtype,
                        concatenate=True, **kwargs)


def per_matrix_qr(a: da.Array, complete: bool) -> tuple[da.Array, da.Array]:
    """LAPACK QR of every matrix, each whole in one chunk (batches stay chunked)."""
    m, n = a.shape[-2:]
    k = m if complete else min(m, n)
    return da.apply_gufunc(
        _qr_kernel, "(m,n)->(m,k),(k,n)", whole(a, -2, -1), output_sizes={"k": k},
        output_dtypes=(a.dtype, a.dtype), complete=complete,
    )


def tall_qr(a: da.Array) -> tuple[da.Array, da.Array]:
    """TSQR over the row chunks, moved to LAPACK's gauge."""
    q, r = da.linalg.tsqr(whole(a, -1))
    k = r.shape[-1]
    gauge = da.blockwise(_lapack_gauge, "j", whole(q[:k], 0), "ij", whole(r, 0, 1), "ij",
                         dtype=a.dtype, concatenate=True, m=a.shape[0])
    return q * gauge, gauge.conj()[:, None] * r


def wide_qr(a: da.Array) -> tuple[da.Array, da.Array]:
    """QR of the leading ``m × m`` block in one chunk, then ``R2 = Qᴴ A2`` per column chunk."""
    m = a.shape[-2]
    q, r1 = per_matrix_qr(a[:, :m], complete=False)
    r2 = da.matmul(q.T.conj() if is_complex(q) else q.T, a[:, m:])
    return q, da.concatenate([r1, r2], axis=-1)


def tall_r(a: da.Array) -> da.Array:
    """``R`` of a tall matrix (rows' signs not LAPACK's): a tree of ``R``-only QRs over row
    chunks, ``_tuning.DASK_TREE_WIDTH`` blocks per node; no ``Q`` is formed."""
    n = a.shape[-1]
    r = whole(a, -1)
    while True:
        r = r.map_blocks(_r_kernel, chunks=(tuple(min(c, n) for c in r.chunks[0]), (n,)),
                         dtype=a.dtype)
        if r.numblocks[0] == 1:
            return r
        sizes = r.chunks[0]
        r = r.rechunk({0: tuple(sum(sizes[i : i + _tuning.DASK_TREE_WIDTH])
                                for i in range(0, len(sizes), _tuning.DASK_TREE_WIDTH))})


def per_matrix_pivots(a: da.Array, rank: int | None) -> da.Array:
    return da.apply_gufunc(_host.householder_pivots, "(m,n)->(n)", whole(a, -2, -1),
                           meta=np.empty((0,) * (a.ndim - 1), dtype=np.int64), rank=rank)


def lower_mask(a: da.Array, k: int) -> da.Array:
    # da.tril/triu build their mask "like" the input, which warns for complex input.
    return da.tri(*a.shape[-2:], k=k, dtype=bool, chunks=a.chunks[-2:])


def several_row_chunks(a: da.Array) -> bool:
    # Without columns the R-only tree would never shrink its (empty) row chunks to one.
    return a.ndim == 2 and a.numblocks[0] > 1 and a.shape[-1] > 0
