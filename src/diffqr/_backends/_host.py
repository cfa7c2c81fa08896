"""Host helpers on NumPy buffers, shared by the adapters: LAPACK pivots, batched triangular
solves, column gathers and the eager rank checks.

The lowest layer of diffqr besides ``_errors`` and ``_tuning``: it imports neither the adapters nor
anything above them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg

from .. import _tuning
from .._errors import RankDeficientError


def batch_last(a: np.ndarray) -> np.ndarray:
    """``a`` (…, m, n) copied so that entry ``(i, j)`` of all matrices is contiguous."""
    return np.moveaxis(np.ascontiguousarray(np.moveaxis(a, (-2, -1), (0, 1))), (0, 1), (-2, -1))


def solve_triangular(r: np.ndarray, b: np.ndarray, *, lower: bool, trans: str) -> np.ndarray:
    """``op(r) x = b`` (``trans`` "N", "T" or "C") over leading batch axes (old SciPy does not
    batch); a batch of small systems goes to NumPy's batched LU in one call (a fast path)."""
    kwargs = {"lower": lower, "trans": trans, "check_finite": False}
    shape = np.broadcast_shapes(r.shape[:-2], b.shape[:-2])
    if r.size == 0 or b.size == 0:  # SciPy < 1.12 rejects empty systems ("illegal value")
        return np.zeros(shape + b.shape[-2:], dtype=np.result_type(r, b))
    if r.ndim == 2 and b.ndim == 2:
        return scipy.linalg.solve_triangular(r, b, **kwargs)
    r = np.broadcast_to(r, shape + r.shape[-2:])
    b = np.broadcast_to(b, shape + b.shape[-2:])
    if r.shape[-1] <= _tuning.HOST_BATCHED_LU_MAX_SIZE and _tuning.fast_paths_enabled():
        return _solve_triangular_by_lu(r, b, lower=lower, trans=trans)
    out = np.empty(shape + b.shape[-2:], dtype=np.result_type(r, b))
    for index in np.ndindex(*shape):
        out[index] = scipy.linalg.solve_triangular(r[index], b[index], **kwargs)
    return out


def _solve_triangular_by_lu(r: np.ndarray, b: np.ndarray, *, lower: bool, trans: str
                            ) -> np.ndarray:
    """``op(r) x = b`` by ``np.linalg.solve`` (batched LU), as accurate as the triangular solve.

    The system matrix is made upper triangular (reversing the order of the rows and columns of a
    lower one), so partial pivoting swaps no rows, the LU is ``I · op(r)`` exactly, and ``getrs``
    is a triangular substitution like ``trtrs`` (equal to rounding: other BLAS kernels).
    """
    s = r if trans == "N" else np.swapaxes(r, -1, -2)
    if trans == "C":
        s = np.conj(s)
    solve = _substitute if s.shape[-1] <= _tuning.HOST_SUBSTITUTION_MAX_SIZE else np.linalg.solve
    if lower == (trans == "N"):  # op(r) is lower triangular
        flip = np.s_[..., ::-1, :]
        x = solve(s[..., ::-1, ::-1], b[flip])
        return x[flip]
    return solve(s, b)


def _substitute(s: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``s x = b`` for a batch of tiny upper-triangular ``s``: back substitution row by row, each
    step one operation over the whole batch (LAPACK's per-matrix calls cost more)."""
    k = s.shape[-1]
    x = np.empty(b.shape, dtype=np.result_type(s, b))
    for i in range(k - 1, -1, -1):
        row = b[..., i, :] - np.einsum("...j,...jc->...c", s[..., i, i + 1 :], x[..., i + 1 :, :])
        x[..., i, :] = row / s[..., i, i, None]
    return x


def cholesky_upper(a: np.ndarray) -> np.ndarray:
    """Upper-triangular ``r`` with ``rᴴ r = a`` over leading batch axes; all NaN where ``a`` is
    not numerically positive definite (for adapters whose framework has no such kernel)."""
    try:
        return np.conj(np.swapaxes(np.linalg.cholesky(a), -1, -2))
    except np.linalg.LinAlgError:
        return np.full_like(a, np.nan)


def householder_pivots(a: np.ndarray, rank: int | None = None) -> np.ndarray:
    """Column pivots of LAPACK's ``geqp3`` for each matrix of a batch, as int64 ``(..., n)``.

    With ``rank``, the pivots after the first ``rank`` are sorted: for a matrix of rank ``rank``
    LAPACK orders them by rounding noise, and sorting keeps ``P`` locally constant in ``A``.
    """
    n = a.shape[-1]
    # An explicit batch size: reshape cannot infer -1 when a dimension is 0.
    flat = a.reshape((int(np.prod(a.shape[:-2])), *a.shape[-2:]))
    perms = np.empty((flat.shape[0], n), dtype=np.int64)
    for i, matrix in enumerate(flat):
        if matrix.size:
            perms[i] = scipy.linalg.qr(matrix, mode="r", pivoting=True, check_finite=False)[1]
        else:
            perms[i] = np.arange(n)
    if rank is not None:
        perms[:, rank:] = np.sort(perms[:, rank:], axis=-1)
    return perms.reshape((*a.shape[:-2], n))


def dlpack_copy_to_host(x: Any) -> np.ndarray:
    """A NumPy copy of any DLPack array, copied to the CPU where it lives elsewhere."""
    try:
        return np.array(np.from_dlpack(x, device="cpu", copy=True))
    except TypeError:  # NumPy < 2.1 has no device/copy keywords: CPU exports only
        return np.array(np.from_dlpack(x))


def take_columns(a: Any, perm: Any, take_along_axis) -> Any:
    """``a[..., :, perm]`` for a batch of permutations, via the framework's take-along-axis."""
    return take_along_axis(a, perm[..., None, :], -1)


# ---------------------------------------------------------------------- eager rank checks


def pivot_tolerance(dtype: np.dtype, size: int) -> float:
    """Relative size below which a diagonal entry counts as zero: ``max(m, n) · eps``."""
    return max(size, 1) * float(np.finfo(dtype).eps)


def small_pivots(diag: np.ndarray, size: int, batch_offset: tuple[int, ...] = ()
                 ) -> tuple[tuple[int, ...], list[int], float] | None:
    """The rank check, written once: for ``|diag R|`` (..., k), ``None`` if every
    ``|R_ii| > tol · max_j |R_jj|`` (and finite), else (the first offending matrix's batch index,
    counted from ``batch_offset`` when ``diag`` is a block of a larger batch, e.g. a Dask chunk;
    the offending ``i`` of that matrix; its first offending ``|R_ii|``)."""
    if diag.size == 0:
        return None
    tol = pivot_tolerance(diag.dtype, size) * diag.max(axis=-1, keepdims=True)
    bad = (diag <= tol) | ~np.isfinite(diag)
    if not bad.any():
        return None
    local = tuple(int(i) for i in np.argwhere(bad)[0][:-1])
    indices = np.flatnonzero(bad[local]).tolist()
    offset = batch_offset or (0,) * len(local)
    batch = tuple(i + int(o) for i, o in zip(local, offset, strict=True))
    return batch, indices, float(diag[local][indices[0]])


def check_triangular_pivots(diag: np.ndarray, size: int, batch_offset: tuple[int, ...] = ()
                            ) -> None:
    """Raise :class:`RankDeficientError` for the triangular block a derivative solves with
    (``batch_offset``: as in :func:`small_pivots`)."""
    found = small_pivots(diag, size, batch_offset)
    if found is None:
        return
    batch, indices, value = found
    in_batch = f" of batch element {batch}" if batch else ""
    raise RankDeficientError(
        f"the derivative divides by diagonal entries {indices}{in_batch} of the triangular factor "
        f"(|R_ii| = {value:.3g} <= {pivot_tolerance(diag.dtype, size):.1e}"
        " · max |R_jj|):"
        " the leading columns of A (rows, for LQ) are numerically linearly dependent, so this "
        "derivative is undefined. Use pivoting=True, with rank=k for a matrix of rank k, "
        "or ridge > 0 in lstsq."
    )


def check_invertible(host: np.ndarray) -> None:
    """Raise if the small square matrix ``host`` (``Qnn − I`` of complete mode) is singular."""
    if host.size:
        check_singular_values(np.linalg.svd(host, compute_uv=False))


def check_singular_values(values: np.ndarray) -> None:
    """:func:`check_invertible` from the singular values (..., k) of ``Qnn − I``."""
    smallest = values[..., -1]
    if np.any(~np.isfinite(smallest)) or np.any(smallest <= pivot_tolerance(values.dtype, 1)):
        raise RankDeficientError(
            "the derivative of the complete-mode Q needs Q[:n, :n] − I to be invertible, and it is "
            "singular here. Use mode='reduced' (the derivative of the span of the completion "
            "is then taken through Q1) or rotate A."
        )
