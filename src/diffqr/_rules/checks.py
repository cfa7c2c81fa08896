"""Eager checks that turn a would-be NaN/Inf derivative into a :class:`RankDeficientError`.

They run only where the values are known (``xp.to_host`` returns an array); under jit, graph
tracing, vmap or compilation they are skipped and the result is documented as non-finite.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._backends.base import Backend
from .._errors import RankDeficientError

Array = Any


def pivot_tolerance(dtype: np.dtype, size: int) -> float:
    """Relative size below which a diagonal entry counts as zero: ``max(m, n) · eps``."""
    return max(size, 1) * float(np.finfo(dtype).eps)


def check_triangular_pivots(xp: Backend, r1: Array, size: int,
                            batch_labels: np.ndarray | None = None) -> None:
    """Raise if ``|R_ii| <= tol · max_j |R_jj|`` for the triangular block a rule solves with.

    ``batch_labels`` (one index tuple per matrix of ``r1``) names the batch elements in the
    message when ``r1`` is a block of a larger batch (a Dask chunk).
    """
    diag = xp.abs_diagonal_on_host(r1)
    if diag is None or diag.size == 0:
        return
    tol = pivot_tolerance(diag.dtype, size) * diag.max(axis=-1, keepdims=True)
    bad = (diag <= tol) | ~np.isfinite(diag)
    if not bad.any():
        return
    batch = tuple(int(i) for i in np.argwhere(bad)[0][:-1])
    indices = np.flatnonzero(bad[batch]).tolist()
    first = indices[0]
    label = batch if batch_labels is None else tuple(int(i) for i in batch_labels[batch])
    in_batch = f" of batch element {label}" if batch else ""
    raise RankDeficientError(
        f"the derivative divides by diagonal entries {indices}{in_batch} of the triangular factor "
        f"(|R_ii| = {diag[batch][first]:.3g} <= {pivot_tolerance(diag.dtype, size):.1e}"
        " · max |R_jj|):"
        " the leading columns of A (rows, for LQ) are numerically linearly dependent, so this "
        "derivative is undefined. Use pivoting=True, with rank=k for a matrix of rank k, "
        "or ridge > 0 in lstsq."
    )


def check_invertible(xp: Backend, a: Array) -> None:
    """Raise if the small square matrix ``a`` (``Qnn − I`` of complete mode) is singular."""
    values = xp.singular_values_on_host(a)
    if values is None or values.size == 0:
        return
    smallest = values[..., -1]
    if np.any(~np.isfinite(smallest)) or np.any(smallest <= pivot_tolerance(values.dtype, 1)):
        raise RankDeficientError(
            "the derivative of the complete-mode Q needs Q[:n, :n] − I to be invertible, and it is "
            "singular here. Use mode='reduced' (the derivative of the span of the completion "
            "is then taken through Q1) or rotate A."
        )
