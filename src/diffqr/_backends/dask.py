"""Dask adapter: lazy, chunk-parallel QR/LQ and the explicit rules on ``dask.array.Array``.

Dask has no autodiff, so ``apply`` runs the forward only and the rules are called explicitly
(``diffqr.qr_vjp``, ...).  Every operation below builds a graph and computes nothing.  Matrices are
split into row chunks along the long axis ``m``; the small ``k × k`` factors live in one chunk.

- Tall QR (several row chunks): dask's TSQR, then the gauge moved to LAPACK's (the signs that
  Householder QR of the whole matrix would give, read off the leading ``k × k`` block of ``Q``), so
  the factors equal ``numpy.linalg.qr``'s.
- Wide QR: the leading ``m × m`` block is factored in one chunk, ``R2 = Qᴴ A2`` per column chunk
  (conjugated: dask's own ``sfqr`` uses ``Qᵀ`` and is wrong for complex input).
- LQ is the QR of ``Aᴴ``: wide LQ is TSQR over the column chunks of ``A``.
- Column pivots of a tall matrix are LAPACK ``geqp3``'s on the small ``R`` of ``A`` (a tree of
  ``R``-only QRs over the row chunks): ``A`` and ``R`` have the same Gram matrix, so ``geqp3``
  makes the same choices.  Wide and batched pivots run ``geqp3`` on each whole matrix.
- Least squares (``qr_r`` of ``[A | B]``) uses the same ``R``-only tree: no ``Q`` at all.
- Batched input, complete mode and anything in a single chunk: LAPACK on each whole matrix.
- Rules: ``(k × m) @ (m × k)`` products are dask's tree reductions over the row chunks;
  ``(m × k) @ (k × k)`` products and triangular solves with the small ``R`` run row block by row
  block.  Nothing of size ``m`` is gathered into one chunk.

Rank checks: values are unknown while the graph is built (``to_host`` returns ``None``), so the
eager :class:`~diffqr.RankDeficientError` check is skipped there; instead every triangular solve
checks the diagonal of its small factor when its chunk is computed and raises the same error then.
"""

from __future__ import annotations

import string

import dask.array as da
import numpy as np

from .._rules.checks import check_invertible, check_triangular_pivots
from .base import Backend
from .numpy import BACKEND as NUMPY
from .numpy import householder_pivots

# Consecutive R blocks merged per QR in the R-only reduction tree.
_TREE_WIDTH = 8


def _whole(a: da.Array, *axes: int) -> da.Array:
    """``a`` rechunked so that each of ``axes`` is a single chunk (no-op when it already is)."""
    axes = tuple(axis % a.ndim for axis in axes)
    if all(a.numblocks[axis] == 1 for axis in axes):
        return a
    return a.rechunk({axis: -1 for axis in axes})


def _indices(ndim: int) -> str:
    return string.ascii_lowercase[:ndim]


def _is_complex(a: da.Array) -> bool:
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


def _solve_kernel(r: np.ndarray, b: np.ndarray, *labels: np.ndarray, upper: bool, left: bool,
                  adjoint: bool, size: int) -> np.ndarray:
    # The eager check, deferred to compute time (see the module docstring); ``labels`` (one
    # block per batch axis, of the matrices' global batch indices) name them in the error.
    batch_labels = (np.stack(np.broadcast_arrays(*(x[..., 0, 0] for x in labels)), axis=-1)
                    if labels else None)
    check_triangular_pivots(NUMPY, r, size=size, batch_labels=batch_labels)
    return NUMPY.solve_triangular(r, b, upper=upper, left=left, adjoint=adjoint)


def _general_solve_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    check_invertible(NUMPY, a)  # the rules' eager check, deferred as in _solve_kernel
    return np.linalg.solve(a, b)


def _finite_or_raise(block: np.ndarray, message: str) -> np.ndarray:
    if not np.isfinite(block).all():
        raise ValueError(message)
    return block


def _take_columns_kernel(a: np.ndarray, perm: np.ndarray) -> np.ndarray:
    return NUMPY.take_columns(a, perm)


# ---------------------------------------------------------------------- graph builders


def _small_with_blocks(kernel, small: da.Array, b: da.Array, *, chunked_axis: int, dtype,
                       labelled: bool = False, **kwargs) -> da.Array:
    """``kernel(small, block)`` for each block of ``b``, ``small`` (…, k, k) whole in every call.

    ``b`` keeps its chunks along ``chunked_axis`` (-2: row blocks, -1: column blocks) and is made
    whole along the other matrix axis; batch axes are matched block by block.  ``labelled``
    also passes, per batch axis, the block of that axis' global indices (shape ``(…, 1, 1)``).
    """
    small = _whole(small, -2, -1)
    b = _whole(b, -1 if chunked_axis == -2 else -2)
    batch = _indices(b.ndim - 2)
    small_batch = batch[len(batch) - (small.ndim - 2):] if small.ndim > 2 else ""
    out = batch + "yz"
    labels = []
    if labelled and small.ndim == b.ndim:  # a broadcast small matrix has no labels to map
        for axis, chunks in enumerate(b.chunks[:-2]):
            shape = [1] * b.ndim
            shape[axis] = b.shape[axis]
            grid = da.arange(b.shape[axis], chunks=chunks).reshape(shape)
            labels += [grid, batch + "st"]
    return da.blockwise(kernel, out, small, small_batch + "uv", b, out, *labels, dtype=dtype,
                        concatenate=True, **kwargs)


def _per_matrix_qr(a: da.Array, complete: bool) -> tuple[da.Array, da.Array]:
    """LAPACK QR of every matrix, each whole in one chunk (batches stay chunked)."""
    m, n = a.shape[-2:]
    k = m if complete else min(m, n)
    return da.apply_gufunc(
        _qr_kernel, "(m,n)->(m,k),(k,n)", _whole(a, -2, -1), output_sizes={"k": k},
        output_dtypes=(a.dtype, a.dtype), complete=complete,
    )


def _tall_qr(a: da.Array) -> tuple[da.Array, da.Array]:
    """TSQR over the row chunks, moved to LAPACK's gauge."""
    q, r = da.linalg.tsqr(_whole(a, -1))
    k = r.shape[-1]
    gauge = da.blockwise(_lapack_gauge, "j", _whole(q[:k], 0), "ij", _whole(r, 0, 1), "ij",
                         dtype=a.dtype, concatenate=True, m=a.shape[0])
    return q * gauge, gauge.conj()[:, None] * r


def _wide_qr(a: da.Array) -> tuple[da.Array, da.Array]:
    """QR of the leading ``m × m`` block in one chunk, then ``R2 = Qᴴ A2`` per column chunk."""
    m = a.shape[-2]
    q, r1 = _per_matrix_qr(a[:, :m], complete=False)
    r2 = BACKEND.matmul(BACKEND.mH(q), a[:, m:])
    return q, da.concatenate([r1, r2], axis=-1)


def _tall_r(a: da.Array) -> da.Array:
    """``R`` of a tall matrix (rows' signs not LAPACK's): a tree of ``R``-only QRs over row
    chunks, ``_TREE_WIDTH`` blocks per node; no ``Q`` is formed."""
    n = a.shape[-1]
    r = _whole(a, -1)
    while True:
        r = r.map_blocks(_r_kernel, chunks=(tuple(min(c, n) for c in r.chunks[0]), (n,)),
                         dtype=a.dtype)
        if r.numblocks[0] == 1:
            return r
        sizes = r.chunks[0]
        r = r.rechunk({0: tuple(sum(sizes[i : i + _TREE_WIDTH])
                                for i in range(0, len(sizes), _TREE_WIDTH))})


def _per_matrix_pivots(a: da.Array, rank: int | None) -> da.Array:
    return da.apply_gufunc(householder_pivots, "(m,n)->(n)", _whole(a, -2, -1),
                           meta=np.empty((0,) * (a.ndim - 1), dtype=np.int64), rank=rank)


def _lower_mask(a: da.Array, k: int) -> da.Array:
    # da.tril/triu build their mask "like" the input, which warns for complex input.
    return da.tri(*a.shape[-2:], k=k, dtype=bool, chunks=a.chunks[-2:])


def _several_row_chunks(a: da.Array) -> bool:
    # Without columns the R-only tree would never shrink its (empty) row chunks to one.
    return a.ndim == 2 and a.numblocks[0] > 1 and a.shape[-1] > 0


class DaskBackend(Backend):
    name = "dask"

    def matmul(self, a, b):
        return da.matmul(a, b)

    def mH(self, a):
        t = da.swapaxes(a, -1, -2)
        return t.conj() if _is_complex(t) else t

    def tril(self, a, k=0):
        return da.where(_lower_mask(a, k), a, 0)

    def triu(self, a, k=0):
        return da.where(_lower_mask(a, k - 1), 0, a)

    def solve_triangular(self, r, b, *, upper, left=True, adjoint=False):
        size = max(r.shape[-1], *b.shape[-2:])
        return _small_with_blocks(
            _solve_kernel, r, b, chunked_axis=-1 if left else -2,
            dtype=np.result_type(r.dtype, b.dtype), labelled=True, upper=upper, left=left,
            adjoint=adjoint, size=size,
        )

    def solve(self, a, b):
        return _small_with_blocks(_general_solve_kernel, a, b, chunked_axis=-1,
                                  dtype=np.result_type(a.dtype, b.dtype))

    def concat(self, arrays, axis):
        return da.concatenate(arrays, axis=axis)

    def zeros_like(self, a):
        return da.zeros_like(a)

    def eye_like(self, a, n):
        return da.eye(n, chunks=n, dtype=a.dtype)

    def real(self, a):
        return da.real(a)

    def to_host(self, a):
        # Values exist only after compute; the checks run inside the solves instead.
        return None

    def deferred_finite_check(self, a, message):
        return a.map_blocks(_finite_or_raise, message=message, dtype=a.dtype)

    def dtype_name(self, a):
        return np.dtype(a.dtype).name

    def householder_qr(self, a, *, complete):
        m, n = a.shape[-2:]
        if complete or a.ndim > 2 or a.numblocks == (1, 1):
            return _per_matrix_qr(a, complete)
        if m < n:
            return _wide_qr(a)
        if a.numblocks[0] == 1:
            return _per_matrix_qr(a, complete)
        return _tall_qr(a)

    def qr_r(self, a):
        # Least squares needs only R: the R-only tree, no Q and no gauge (rows' signs are free).
        if a.shape[-2] >= a.shape[-1] and _several_row_chunks(a):
            return _tall_r(a)
        return self.householder_qr(a, complete=False)[1]

    def column_pivots(self, a, rank):
        m, n = a.shape[-2:]
        if m > n and _several_row_chunks(a):
            return _per_matrix_pivots(_tall_r(a), rank)
        return _per_matrix_pivots(a, rank)

    def take_columns(self, a, perm):
        perm = da.asarray(perm)
        batch = _indices(a.ndim - 2)
        perm_batch = batch[len(batch) - (perm.ndim - 1):]
        return da.blockwise(_take_columns_kernel, batch + "ij", _whole(a, -1), batch + "ij",
                            _whole(perm, -1), perm_batch + "j", dtype=a.dtype)

    def apply(self, primitive, inputs, options):
        # No autodiff in Dask: the forward only; the rules are called explicitly.
        return primitive.forward(self, *inputs, **options)


BACKEND = DaskBackend()
