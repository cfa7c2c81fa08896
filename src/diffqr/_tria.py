"""``tria``: the lower-triangular square root ``L`` with ``L Lᴴ = A Aᴴ`` (square-root filtering)."""

from __future__ import annotations

from typing import Any

from ._decompositions import factor
from ._dispatch import as_numpy_if_plain

Array = Any


def tria(A: Array, /, *, check_finite: bool = True) -> Array:
    """Triangularize ``A``: lower-triangular ``L`` with ``L Lᴴ = A Aᴴ``, differentiable everywhere.

    ``L = qr(Aᴴ, mode="r")ᴴ`` (LAPACK's diagonal signs, as ``jnp.linalg.qr``/``numpy`` give and
    square-root Kalman filters use).  Its derivative is exact at full row rank and, where ``A``
    is rank deficient or zero, finite and Gram-consistent, ``dL Lᴴ + L dLᴴ = dA Aᴴ + A dAᴴ``, so
    everything that depends on ``A`` through ``A Aᴴ`` gets its exact derivative (see
    docs/square-root-filtering.md).  It never raises :class:`RankDeficientError`.

    Parameters
    ----------
    A : array, shape (..., m, n)
        Any framework's array diffqr accepts (as for :func:`diffqr.qr`); real or complex.
    check_finite : bool
        Raise ``ValueError`` for NaN/Inf entries (eager evaluation only).  With ``False``, NaN or
        Inf input gives NaN in ``L``.

    Returns
    -------
    array, shape (..., m, min(m, n))
        ``L``, same type as ``A``.
    """
    A = as_numpy_if_plain(A)
    _, lower, _ = factor(A, mode="r", pivoting=False, rank=None, check_finite_=check_finite,
                         argument="A", adjoint=True)
    return lower
