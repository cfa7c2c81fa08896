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
rules' :class:`~diffqr.RankDeficientError` checks (``check_diagonal``) become a step of the graph
on the small factor, with the rules' own tolerance and message, and raise when it is computed.
"""

from __future__ import annotations

import dask.array as da
import numpy as np

from .base import Backend, operand_names
from .dask_tsqr import (
    check_diagonal_kernel,
    finite_or_raise,
    general_solve_kernel,
    indices,
    is_complex,
    lower_mask,
    per_matrix_pivots,
    per_matrix_qr,
    several_row_chunks,
    small_with_blocks,
    solve_kernel,
    take_columns_kernel,
    tall_qr,
    tall_r,
    whole,
    wide_qr,
)


class DaskBackend(Backend):
    name = "dask"
    # As da.linalg.lstsq(dask_A, numpy_B): the right-hand side (and its rules' X, X̄, dB).
    numpy_operands = frozenset({"B", "X", "X_bar", "dB"})

    def promote_numpy_operands(self, arrays, numpy_names):
        arrays = {k: da.asarray(v) if k in numpy_names else v for k, v in arrays.items()}
        operands = operand_names(arrays)
        dtype = np.result_type(*(arrays[k].dtype for k in operands))  # NumPy's promotion
        return {k: v.astype(dtype) if k in operands else v for k, v in arrays.items()}

    def matmul(self, a, b):
        return da.matmul(a, b)

    def mH(self, a):
        t = da.swapaxes(a, -1, -2)
        return t.conj() if is_complex(t) else t

    def tril(self, a, k=0):
        return da.where(lower_mask(a, k), a, 0)

    def triu(self, a, k=0):
        return da.where(lower_mask(a, k - 1), 0, a)

    def solve_triangular(self, r, b, *, upper, left=True, adjoint=False):
        return small_with_blocks(solve_kernel, r, b, chunked_axis=-1 if left else -2,
                                 dtype=np.result_type(r.dtype, b.dtype), upper=upper, left=left,
                                 adjoint=adjoint)

    def solve(self, a, b):
        return small_with_blocks(general_solve_kernel, a, b, chunked_axis=-1,
                                  dtype=np.result_type(a.dtype, b.dtype))

    def concat(self, arrays, axis):
        return da.concatenate(arrays, axis=axis)

    def zeros_like(self, a):
        return da.zeros_like(a)

    def eye_like(self, a, n):
        return da.eye(n, chunks=n, dtype=a.dtype)

    def real(self, a):
        return da.real(a)

    def where(self, condition, a, b):
        return da.where(condition, a, b)

    def to_host(self, a):
        # Values exist only after compute: the checks are steps of the graph (check_diagonal).
        return None

    def check_diagonal(self, a, check):
        return whole(a, -2, -1).map_blocks(check_diagonal_kernel, check=check, dtype=a.dtype,
                                           meta=np.empty((0,) * a.ndim, dtype=a.dtype))

    def deferred_finite_check(self, a, message):
        return a.map_blocks(finite_or_raise, message=message, dtype=a.dtype)

    def dtype_name(self, a):
        return np.dtype(a.dtype).name

    def householder_qr(self, a, *, complete):
        m, n = a.shape[-2:]
        if complete or a.ndim > 2 or a.numblocks == (1, 1):
            return per_matrix_qr(a, complete)
        if m < n:
            return wide_qr(a)
        if a.numblocks[0] == 1:
            return per_matrix_qr(a, complete)
        return tall_qr(a)

    def qr_r(self, a):
        # Least squares needs only R: the R-only tree, no Q and no gauge (rows' signs are free).
        if a.shape[-2] >= a.shape[-1] and several_row_chunks(a):
            return tall_r(a)
        return self.householder_qr(a, complete=False)[1]

    def column_pivots(self, a, rank):
        m, n = a.shape[-2:]
        if m > n and several_row_chunks(a):
            return per_matrix_pivots(tall_r(a), rank)
        return per_matrix_pivots(a, rank)

    def take_columns(self, a, perm):
        perm = da.asarray(perm)
        batch = indices(a.ndim - 2)
        perm_batch = batch[len(batch) - (perm.ndim - 1):]
        return da.blockwise(take_columns_kernel, batch + "ij", whole(a, -1), batch + "ij",
                            whole(perm, -1), perm_batch + "j", dtype=a.dtype)

    def apply(self, primitive, inputs, options):
        # No autodiff in Dask: the forward only; the rules are called explicitly.
        return self.forward(primitive, inputs, options)


BACKEND = DaskBackend()
