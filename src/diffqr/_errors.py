"""Exceptions raised by diffqr."""

from __future__ import annotations


class RankDeficientError(ValueError):
    """The block a derivative divides by is numerically singular.

    Raised by eager backward passes and JVPs when ``|R_ii| <= tol * max_j |R_jj|`` for a diagonal
    entry of the triangular factor the rule solves with (``tol`` is of order ``max(m, n) * eps``).
    The derivative of an unpivoted QR is undefined there; column pivoting (``pivoting=True``) and a
    truncated rank (``rank=k``) give well-defined derivatives, and ``ridge > 0`` regularizes
    least squares.
    """
