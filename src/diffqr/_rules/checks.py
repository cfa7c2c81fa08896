"""Eager checks that turn a would-be NaN/Inf derivative into a :class:`RankDeficientError`.

They run only where the values are known (``xp.to_host`` returns an array); under jit, graph
tracing, vmap or compilation they are skipped and the result is documented as non-finite.  The
checks themselves are host code (:mod:`diffqr._backends._host`), shared with the Dask adapter,
which runs them inside its chunk kernels.
"""

from __future__ import annotations

from typing import Any

from .._backends import _host
from .._backends.base import Backend

Array = Any
pivot_tolerance = _host.pivot_tolerance


def check_triangular_pivots(xp: Backend, r1: Array, size: int) -> None:
    """Raise if ``|R_ii| <= tol · max_j |R_jj|`` for the triangular block a rule solves with."""
    diag = xp.abs_diagonal_on_host(r1)
    if diag is not None:
        _host.check_triangular_pivots(diag, size)


def check_invertible(xp: Backend, a: Array) -> None:
    """Raise if the small square matrix ``a`` (``Qnn − I`` of complete mode) is singular."""
    values = xp.singular_values_on_host(a)  # on the device where the arrays stay there
    if values is not None and values.size:
        _host.check_singular_values(values)
