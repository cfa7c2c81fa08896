"""Checks that turn a would-be NaN/Inf derivative into a :class:`RankDeficientError`.

They run where the values are known, or become known: eagerly at once, on lazy arrays (Dask)
when the checked array is computed (:meth:`~diffqr._backends.base.Backend.check_diagonal`; use
the array it returns).  Under jit, graph tracing, vmap or compilation they are skipped and the
result is documented as non-finite.  The checks themselves are host code
(:mod:`diffqr._backends._host`).
"""

from __future__ import annotations

import functools
from typing import Any

from .._backends import _host
from .._backends.base import Backend

Array = Any
pivot_tolerance = _host.pivot_tolerance


def check_triangular_pivots(xp: Backend, r1: Array, size: int) -> Array:
    """``r1``, checked: raise if ``|R_ii| <= tol · max_j |R_jj|`` for the triangular block a rule
    solves with (``size`` = ``max(m, n)`` of ``A``, see :func:`pivot_tolerance`)."""
    return xp.check_diagonal(r1, functools.partial(_host.check_triangular_pivots, size=size))


def check_invertible(xp: Backend, a: Array) -> None:
    """Raise if the small square matrix ``a`` (``Qnn − I`` of complete mode) is singular."""
    values = xp.singular_values_on_host(a)  # on the device where the arrays stay there
    if values is not None and values.size:
        _host.check_singular_values(values)
