"""Named results of the decompositions."""

from __future__ import annotations

from typing import Any, NamedTuple


class QRResult(NamedTuple):
    """``A == Q @ R``; ``Q`` has orthonormal columns, ``R`` is upper triangular (trapezoidal)."""

    Q: Any
    R: Any


class PivotedQRResult(NamedTuple):
    """``A[..., :, P] == Q @ R`` with ``|diag R|`` non-increasing; ``P`` is int64 ``(..., n)``."""

    Q: Any
    R: Any
    P: Any


class PivotedRResult(NamedTuple):
    """``qr(A, mode="r", pivoting=True)``: ``R`` of ``A[..., :, P] == Q @ R``; ``P`` int64
    ``(..., n)``."""

    R: Any
    P: Any


class LQResult(NamedTuple):
    """``A == L @ Q``; ``L`` is lower triangular (trapezoidal), ``Q`` has orthonormal rows."""

    L: Any
    Q: Any


class PivotedLQResult(NamedTuple):
    """``A[..., P, :] == L @ Q`` (row pivoting); ``P`` is int64 ``(..., m)``."""

    L: Any
    Q: Any
    P: Any
