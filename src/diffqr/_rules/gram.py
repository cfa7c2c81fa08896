"""The Gram-consistent derivative of the triangular factor alone (``qr(A, mode="r")``, ``tria``).

With ``A = Q R`` (``Q`` m × k with orthonormal columns, ``R`` k × n, k = min(m, n)) and the
tangent ``X = Qᴴ dA``, every tangent of the form::

    dR = X − Ω R,   Ω skew-Hermitian (k × k)

satisfies ``dRᴴ R + Rᴴ dR = dAᴴ A + Aᴴ dA``: the ``Ω`` terms cancel and ``Xᴴ R = dAᴴ A``.  The
exact derivative is the one ``Ω`` that makes ``dR`` upper triangular, the skew part of
``C = X1 R1⁻¹`` (``X1`` the first k columns).  Here ``R1⁻¹`` is replaced by ``R̃1⁻¹``, where
``R̃1 = R1 + Δ`` lifts each pivot with ``|R_jj| <= max(m, n) · eps · s`` to ``R_jj + s``
(``s = ‖diag R1‖₂``, or 1 when ``R1 = 0``): equal to the exact rule at full rank, finite and still
Gram-consistent at rank deficiency.  The decision is elementwise (``xp.where``), so it is the same
per batch member, eagerly and under jit/vmap/compile.  Derivation: docs/square-root-filtering.md.
"""

from __future__ import annotations

from typing import Any

from .._backends.base import Backend
from .checks import pivot_tolerance

Array = Any


def lifted_pivots(xp: Backend, r1: Array, size: int) -> Array:
    """``R̃1 = R1 + Δ``: numerically zero pivots of the square ``R1`` raised to ``s = ‖diag R1‖``.

    ``size`` is ``max(m, n)`` of ``A``: the tolerance is ``size · eps · s``.
    """
    diag = xp.tril(xp.triu(r1))
    squares = xp.real(diag * xp.mH(diag))  # diag(|R_jj|²), a real diagonal matrix
    ones = xp.zeros_like(squares[..., :, :1]) + 1.0  # (..., k, 1)
    column = xp.matmul(squares, ones)  # |R_jj|² as a column
    total = xp.matmul(xp.mH(ones), column) + 0.0 * column  # s², broadcast to (..., k, 1)
    tol = pivot_tolerance(xp.dtype_name(squares), size)
    small = column <= (tol * tol) * total
    positive = total > 0.0
    s = xp.where(positive, total, ones) ** 0.5  # 1 when R1 = 0; no √0 for higher derivatives
    lift = xp.where(small, s, 0.0 * s)
    return r1 + xp.real_times(lift, xp.eye_like(r1, xp.shape(r1)[-1]))


def _skew(xp: Backend, c: Array) -> Array:
    """``Ω = tril(C, −1) − tril(C, −1)ᴴ + i Im diag C``: makes ``(C − Ω) R`` upper triangular."""
    lower = xp.tril(c, -1)
    diag = xp.tril(xp.triu(c))
    return lower - xp.mH(lower) + 0.5 * (diag - xp.mH(diag))


def _skew_adjoint(xp: Backend, w: Array) -> Array:
    """Adjoint of :func:`_skew` in ``Re tr(Xᴴ Y)``: ``tril(W − Wᴴ, −1) + i Im diag W``."""
    d = w - xp.mH(w)
    return xp.tril(d, -1) + 0.5 * xp.tril(xp.triu(d))


def _lead(xp: Backend, x: Array, k: int) -> Array:
    """The first ``k`` columns; ``x`` itself when that is all of it (a full slice is an alias
    view, which ``torch.vmap`` cannot batch)."""
    return x if xp.shape(x)[-1] == k else x[..., :, :k]


def gram_jvp(xp: Backend, a: Array, q: Array, r: Array, da: Array) -> tuple[Array, Array]:
    """``(dQ, dR)``: ``dR = X − Ω R`` with ``X = Qᴴ dA``, ``Ω`` the skew part of ``C = X1 R̃1⁻¹``.

    ``dQ = Y − Q (C − Ω P)`` with ``Y = dA1 R̃1⁻¹`` and ``P = R1 R̃1⁻¹`` (``I`` at full rank, where
    this is QR's exact ``dQ``): finite everywhere, so that the rule differentiates again exactly
    at full rank (it uses ``Q``).
    """
    m, n = xp.shape(a)[-2:]
    k = xp.shape(q)[-1]
    if k == 0:  # nothing to differentiate (and slices past an empty axis are out of bounds)
        return xp.zeros_like(q), xp.zeros_like(r)
    r1 = _lead(xp, r, k)
    lifted = lifted_pivots(xp, r1, max(m, n))
    x = xp.matmul(xp.mH(q), da)
    c = xp.solve_triangular(lifted, _lead(xp, x, k), upper=True, left=False)
    omega = _skew(xp, c)
    dr = x - xp.matmul(omega, r)
    y = xp.solve_triangular(lifted, _lead(xp, da, k), upper=True, left=False)
    p = xp.solve_triangular(lifted, r1, upper=True, left=False)
    dq = y - xp.matmul(q, c - xp.matmul(omega, p))
    return dq, dr


def gram_vjp(xp: Backend, a: Array, q: Array, r: Array, q_bar: Array | None,
             r_bar: Array | None) -> Array:
    """The transpose of :func:`gram_jvp`, with ``W = R̄ Rᴴ − Qᴴ Q̄ Pᴴ`` and ``S = skew*(W)``::

        Ā = [Q R̄1 + (Q̄ − Q (Qᴴ Q̄ + S)) R̃1⁻ᴴ | Q R̄2]
    """
    m, n = xp.shape(a)[-2:]
    k = xp.shape(q)[-1]
    if (q_bar is None and r_bar is None) or k == 0:
        return xp.zeros_like(a)
    r1 = _lead(xp, r, k)
    lifted = lifted_pivots(xp, r1, max(m, n))
    w = None if r_bar is None else xp.matmul(r_bar, xp.mH(r))
    if q_bar is None:  # R alone: the solve on k × k
        g = -_skew_adjoint(xp, w)
        left = xp.matmul(q, _lead(xp, r_bar, k) + xp.solve_triangular(
            lifted, g, upper=True, left=False, adjoint=True))
    else:
        qq = xp.matmul(xp.mH(q), q_bar)
        p = xp.solve_triangular(lifted, r1, upper=True, left=False)
        w2 = -xp.matmul(qq, xp.mH(p))
        s = _skew_adjoint(xp, w2 if w is None else w + w2)
        g = q_bar - xp.matmul(q, qq + s)
        left = xp.solve_triangular(lifted, g, upper=True, left=False, adjoint=True)
        if r_bar is not None:
            left = left + xp.matmul(q, _lead(xp, r_bar, k))
    if n == k:
        return left
    right = xp.matmul(q, r_bar[..., :, k:]) if r_bar is not None else xp.zeros_like(a[..., :, k:])
    return xp.concat([left, right], axis=-1)
