"""Reverse- and forward-mode rules of the QR decomposition, written once for every framework.

Notation (see docs/math.md for the derivations): ``A`` is ``(..., m, n)``, ``Q`` is ``(..., m, k)``
with orthonormal columns and ``R = [R1 | R2]`` is ``(..., k, n)`` with ``R1`` ``k × k`` upper
triangular and invertible.  ``A = [A1 | A2]`` is split the same way.  Cotangents follow PyTorch's
convention ``X̄ = ∂ℓ/∂Re X + i ∂ℓ/∂Im X``, so that ``dℓ = Re tr(X̄ᴴ dX)``.

``xp`` is a :class:`diffqr._backends.base.Backend`; every operation goes through it or through
slicing and arithmetic on the arrays, so the rules differentiate again in autodiff frameworks.
"""

from __future__ import annotations

from typing import Any

from .. import _tuning
from .._backends.base import Backend
from .checks import check_invertible, check_triangular_pivots

Array = Any


def copyltu(xp: Backend, m: Array) -> Array:
    """``copyltu(M) = tril(M, -1) + tril(M, -1)ᴴ + Re diag(M)``, in one select (real ``M``).

    Taking only the real part of the diagonal matters for complex input: the imaginary part of
    ``diag(M)`` belongs to the gauge (the phases of ``diag R``), not to ``A``.
    """
    h = xp.triangles(m, xp.mH(m))
    if xp.dtype_name(h).startswith("complex"):
        h = 0.5 * (h + xp.mH(h))  # off the diagonal h is Hermitian already: only Re M_ii changes
    return h


def upper_from_skew(xp: Backend, c: Array) -> Array:
    """``triu(C, 1) + tril(C, -1)ᴴ + Re diag(C)``: the ``C − Ω`` of the forward rule (upper)."""
    diag = xp.tril(xp.triu(c))
    return xp.triu(c, 1) + xp.mH(xp.tril(c, -1)) + 0.5 * (diag + xp.mH(diag))


def _is_complete_deep(q: Array, r: Array, xp: Backend) -> bool:
    """True for complete-mode factors of a deep matrix: ``Q`` is ``m × m``, ``R`` ``m × n``."""
    m, kq = xp.shape(q)[-2:]
    kr, n = xp.shape(r)[-2:]
    return kq == m and kr == m and n < m


def _split_min_size() -> int:
    """``k`` from which the QR VJP splits ``copyltu(M)`` into blocks (a fast path; see
    :mod:`diffqr._tuning`)."""
    if not _tuning.fast_paths_enabled():
        return 1 << 62
    return _tuning.QR_VJP_SPLIT_MIN_SIZE


def _m_matrix(xp: Backend, q: Array, r1: Array, q_bar: Array | None, r1_bar: Array | None
              ) -> Array:
    """``M = R R̄ᴴ − Q̄ᴴ Q`` (one cotangent may be ``None``); also for blocks of the factors."""
    if r1_bar is None:
        return -xp.matmul(xp.mH(q_bar), q)
    m = xp.matmul(r1, xp.mH(r1_bar))
    return m if q_bar is None else xp.addmm(m, xp.mH(q_bar), q, alpha=-1.0)


def _copyltu_m(xp: Backend, q: Array, r: Array, q_bar: Array | None, r_bar: Array | None,
               min_size: int | None = None) -> Array:
    """``copyltu(M)`` for ``M = R R̄ᴴ − Q̄ᴴ Q``, computing only the blocks of ``M`` it reads.

    ``R`` (k × n, n ≥ k) is upper trapezoidal.  With rows and columns split in halves,
    ``copyltu(M) = [[copyltu(M11), M21ᴴ], [M21, copyltu(M22)]]``: the top-right block ``M12`` is
    never needed, and ``M11``, ``M22`` are again such ``M`` (of ``R``'s top rows, and of its
    bottom rows without their zero columns), split the same way.  Two levels skip 3/8 of the
    ``Q̄ᴴ Q`` product and, ``R`` being trapezoidal, over half of ``R R̄ᴴ``.
    """
    k = xp.shape(q)[-1]
    if min_size is None:
        min_size = _split_min_size()
    if k < min_size:
        return copyltu(xp, _m_matrix(xp, q, r, q_bar, r_bar))
    h = k // 2
    min_size = 2 * _tuning.QR_VJP_SPLIT_LEAF

    def part(x: Array | None, rows: slice, columns: slice) -> Array | None:
        return None if x is None else x[..., rows, columns]

    top, bottom, all_, right = slice(0, h), slice(h, k), slice(None), slice(h, None)
    c11 = _copyltu_m(xp, q[..., :, top], r[..., top, :], part(q_bar, all_, top),
                     part(r_bar, top, all_), min_size)
    c22 = _copyltu_m(xp, q[..., :, bottom], r[..., bottom, right], part(q_bar, all_, bottom),
                     part(r_bar, bottom, right), min_size)
    # M21 = R[bottom, :] R̄[top, :]ᴴ − Q̄2ᴴ Q1, where R[bottom, :h] = 0
    m21 = _m_matrix(xp, q[..., :, top], r[..., bottom, right], part(q_bar, all_, bottom),
                    part(r_bar, top, right))
    return xp.block_2x2(c11, xp.mH(m21), m21, c22)


def _square_q_h(xp: Backend, q: Array, r1: Array, q_bar: Array, r1_bar: Array | None) -> Array:
    """``H`` with ``Q̄ + Q copyltu(M) = Q H`` for a square ``Q`` (square or wide ``A``).

    There ``Q̄ = Q X`` with ``X = Qᴴ Q̄``, and ``X − copyltu(Xᴴ) = tril(X − Xᴴ, −1) + i Im diag X``,
    so ``H = copyltu(R R̄ᴴ) + tril(X − Xᴴ, −1) + ½ diag(X − Xᴴ)``.  Only the skew part of ``X``
    remains, formed entry by entry: ``Q̄ + Q copyltu(M)`` would cancel ``Q̄`` against ``Q Qᴴ Q̄``
    and lose the ``R̄`` term when ``‖R R̄ᴴ‖ ≪ eps ‖Q̄‖`` (a 1 × n matrix, whose ``Q = ±1`` is
    locally constant, is the extreme case).  The same two products as the general form.
    """
    x = xp.matmul(xp.mH(q), q_bar)
    skew = x - xp.mH(x)
    del x  # temporaries released early: peak memory of the backward
    if r1_bar is None:
        lower, upper = skew, xp.zeros_like(skew)
    else:  # copyltu(R R̄ᴴ) = [P below and on the diagonal | Pᴴ above] for a real diagonal
        p = xp.matmul(r1, xp.mH(r1_bar))
        lower, upper = skew + p, xp.mH(p)
        del p
    del skew
    h = xp.triangles(lower, upper)
    if xp.dtype_name(h).startswith("complex"):  # diagonal: ½ (skew + P + Pᴴ), not skew + P
        h = h - 0.5 * xp.tril(xp.triu(lower - upper))
    return h


def _square_vjp(
    xp: Backend, q: Array, r1: Array, q_bar: Array | None, r1_bar: Array | None
) -> Array:
    """The paper's rule for a full-rank square/deep block.

    ``M = R R̄ᴴ − Q̄ᴴ Q``,  ``Ā = (Q̄ + Q copyltu(M)) R⁻ᴴ``  (``R⁻ᴴ`` by a triangular solve).
    Three products (two of them partial, see :func:`_copyltu_m`) and one solve, with at most
    three ``m × k`` or ``k × k`` temporaries alive at once.
    """
    if q_bar is None and r1_bar is None:
        return xp.zeros_like(q)
    m, k = xp.shape(q)[-2:]
    if q_bar is not None and m == k and k < _tuning.QR_VJP_SPLIT_MIN_SIZE:
        g = xp.matmul(q, _square_q_h(xp, q, r1, q_bar, r1_bar))
    else:
        h = _copyltu_m(xp, q, r1, q_bar, r1_bar)
        g = xp.matmul(q, h) if q_bar is None else xp.addmm(q_bar, q, h)
        del h  # free it before the solve allocates its result
    return xp.right_solve_consuming(r1, g)  # g is ours: adapters may solve in place


def _householder_completion(xp: Backend, q: Array, n: int) -> tuple[Array, Array, Array]:
    """``Q1``, ``Q2`` and ``Z = Qpn (Qnn − I)⁻¹`` of a complete Householder ``Q`` (m × m)."""
    q1, q2 = q[..., :, :n], q[..., :, n:]
    qnn, qpn = q1[..., :n, :], q1[..., n:, :]
    shifted = qnn - xp.eye_like(qnn, n)
    check_invertible(xp, shifted)
    z = xp.mH(xp.solve(xp.mH(shifted), xp.mH(qpn)))
    return q1, q2, z


def qr_vjp(
    xp: Backend, a: Array, q: Array, r: Array, q_bar: Array | None, r_bar: Array | None
) -> Array:
    """``Ā`` from ``Q̄, R̄`` for every shape: square, deep, wide, truncated rank ``k``, complete.

    One rule covers them all.  With ``R̄ = [R̄1 | R̄2]``::

        Ā2 = Q R̄2,   Ā1 = square_rule(Q, R1, Q̄ + A2 R̄2ᴴ, R̄1),   Ā = [Ā1 | Ā2]

    For complete deep factors the cotangent of the completion ``Q2`` is first pulled back onto
    ``Q1`` through the derivative of the Householder completion (the transpose of
    :func:`_completion_jvp`).
    """
    if 0 in xp.shape(a)[-2:]:  # nothing to differentiate (and Dask mis-sizes 0-width chunks)
        return xp.zeros_like(a)
    if _is_complete_deep(q, r, xp):
        n = xp.shape(r)[-1]
        r = r[..., :n, :]
        if r_bar is not None:
            r_bar = r_bar[..., :n, :]
        if q_bar is not None:
            q, q2, z = _householder_completion(xp, q, n)
            q_bar = _completion_vjp(xp, q, q2, z, q_bar, n)
        else:
            q = q[..., :, :n]
    k = xp.shape(q)[-1]
    n = xp.shape(r)[-1]
    r1 = r[..., :, :k]
    r1 = check_triangular_pivots(xp, r1, size=max(xp.shape(q)[-2], n))
    if n == k:
        return _square_vjp(xp, q, r1, q_bar, r_bar)
    a2 = a[..., :, k:]
    r1_bar = r2_bar = None
    if r_bar is not None:
        r1_bar, r2_bar = r_bar[..., :, :k], r_bar[..., :, k:]
        q_bar = (xp.matmul(a2, xp.mH(r2_bar)) if q_bar is None
                 else xp.addmm(q_bar, a2, xp.mH(r2_bar)))
    a1_bar = _square_vjp(xp, q, r1, q_bar, r1_bar)
    if r2_bar is None:
        return xp.concat([a1_bar, xp.zeros_like(a2)], axis=-1)
    return xp.concat_product(a1_bar, q, r2_bar)


def qr_jvp(xp: Backend, a: Array, q: Array, r: Array, da: Array) -> tuple[Array, Array]:
    """``(dQ, dR)`` from ``dA``; the same shapes as :func:`qr_vjp`.

    ``C = Qᴴ dA1 R1⁻¹``, ``U = triu(C, 1) + tril(C, -1)ᴴ + Re diag C``::

        dR1 = U R1,   dQ = dA1 R1⁻¹ − Q U,   dR2 = dQᴴ A2 + Qᴴ dA2
    """
    complete_deep = _is_complete_deep(q, r, xp)
    q_full = q
    n = xp.shape(r)[-1]
    if complete_deep:
        q, r = q[..., :, :n], r[..., :n, :]
    k = xp.shape(q)[-1]
    r1 = r[..., :, :k]
    r1 = check_triangular_pivots(xp, r1, size=max(xp.shape(q)[-2], n))
    y = xp.solve_triangular(r1, da[..., :, :k], upper=True, left=False)
    u = upper_from_skew(xp, xp.matmul(xp.mH(q), y))
    dr = xp.matmul(u, r1)
    dq = y - xp.matmul(q, u)
    if n > k:
        dr2 = xp.matmul(xp.mH(dq), a[..., :, k:]) + xp.matmul(xp.mH(q), da[..., :, k:])
        dr = xp.concat([dr, dr2], axis=-1)
    if complete_deep:
        dq = _completion_jvp(xp, q_full, dq, n)
        m = xp.shape(q_full)[-1]
        dr = xp.concat([dr, xp.zeros_like(q_full[..., : m - n, :n])], axis=-2)
    return dq, dr


def _completion_jvp(xp: Backend, q: Array, dq1: Array, n: int) -> Array:
    """Tangent of the full ``Q`` when ``Q2`` is LAPACK's Householder completion.

    Papanicolopulos (2024), eqs. 32-33: with ``Z = Qpn (Qnn − I)⁻¹``::

        dQ2 = dQ1 Zᴴ − (Q1 + Q2 Z)(dQpn − Z dQnn)ᴴ
    """
    q1, q2, z = _householder_completion(xp, q, n)
    dqnn, dqpn = dq1[..., :n, :], dq1[..., n:, :]
    w = q1 + xp.matmul(q2, z)
    dq2 = xp.matmul(dq1, xp.mH(z)) - xp.matmul(w, xp.mH(dqpn - xp.matmul(z, dqnn)))
    return xp.concat([dq1, dq2], axis=-1)


def _completion_vjp(xp: Backend, q1: Array, q2: Array, z: Array, q_bar: Array, n: int) -> Array:
    """Transpose of :func:`_completion_jvp`: the cotangent of ``Q1`` given that of ``[Q1 | Q2]``.

    With ``G = Q̄2ᴴ (Q1 + Q2 Z)``:  ``Q̄1' = Q̄1 + Q̄2 Z + [Zᴴ G ; −G]`` (row blocks n, m − n).
    """
    q1_bar, q2_bar = q_bar[..., :, :n], q_bar[..., :, n:]
    g = xp.matmul(xp.mH(q2_bar), q1 + xp.matmul(q2, z))
    rows = xp.concat([xp.matmul(xp.mH(z), g), -g], axis=-2)
    return q1_bar + xp.matmul(q2_bar, z) + rows
