"""What the Array API standard's linalg extension lacks, built from standard operations.

Everything runs inside the array's own namespace and on its device (every constant is created
with ``device=``): column pivots (LAPACK ``geqp3``'s choice) and a batched triangular solve.
Nothing here converts to NumPy, so a GPU array or array-api-strict's ``Device("device1")``
never leaves its device.
"""

from __future__ import annotations

from typing import Any

from .. import _tuning

Array = Any
Namespace = Any



def _device(x: Array) -> Any:
    return x.device


def householder_pivots(xp: Namespace, a: Array, rank: int | None) -> Array:
    """Column pivots ``(..., n)`` (int64, on ``a``'s device) of column-pivoted Householder QR.

    LAPACK ``geqp3``'s choice: at step ``j`` the column of largest remaining norm (the first in
    the current order on ties, like ``idamax``) trades places with column ``j`` in the
    permutation — the matrix itself is never permuted — and a reflector clears it below row
    ``j``.  The remaining norms are downdated by the row the step finished, and recomputed where
    cancellation has eaten half their digits (``geqp3``'s test); each step drops that row.  With
    a truncation ``rank`` the pivots after the first ``rank`` are sorted, as in the NumPy
    adapter.
    """
    *batch, m, n = a.shape
    columns = xp.arange(n, dtype=xp.int64, device=a.device)
    perm = xp.broadcast_to(columns, (*batch, n))
    tol = float(xp.finfo(a.dtype).eps) ** 0.5
    w = a
    norms = reference = xp.linalg.vector_norm(w, axis=-2)  # (..., n), by column of A
    for j in range(min(m, n)):
        current = xp.take_along_axis(norms, perm, axis=-1)
        p = xp.argmax(xp.where(columns >= j, current, -1.0), axis=-1)[..., None]  # position
        chosen = xp.take_along_axis(perm, p, axis=-1)  # (..., 1): a column of A
        swap = xp.where(columns == j, p, xp.where(columns == p, j, columns))
        perm = xp.take_along_axis(perm, swap, axis=-1)
        index = xp.broadcast_to(chosen[..., None, :], (*w.shape[:-1], 1))
        x = xp.take_along_axis(w, index, axis=-1)  # (..., m - j, 1)
        alpha = x[..., :1, :]
        size = xp.abs(alpha)
        phase = xp.where(size > 0, alpha / xp.where(size > 0, size, 1.0), 1.0)
        # u = x + phase ‖x‖ e_1 reflects x onto −phase ‖x‖ e_1
        u = xp.concat([alpha + phase * xp.linalg.vector_norm(x, axis=-2, keepdims=True),
                       x[..., 1:, :]], axis=-2)
        uh = _mH(xp, u)
        uu = xp.real(uh @ u) if _is_complex(xp, u) else uh @ u
        scale = xp.where(uu > 0, 2.0 / xp.where(uu > 0, uu, 1.0), 0.0)
        w = w - u @ ((scale * uh) @ w)
        ratio = xp.abs(w[..., 0, :]) / xp.where(norms > 0, norms, 1.0)
        kept = xp.clip(1.0 - ratio * ratio, min=0.0)
        w = w[..., 1:, :]
        stale = kept * (norms / xp.where(reference > 0, reference, 1.0)) ** 2 <= tol
        norms = norms * kept ** 0.5
        if bool(xp.any(stale & (norms > 0))):  # one bool per step back from the device
            exact = xp.linalg.vector_norm(w, axis=-2)
            norms = xp.where(stale, exact, norms)
            reference = xp.where(stale, exact, reference)
    if rank is not None and rank < n:
        perm = xp.concat([perm[..., :rank], xp.sort(perm[..., rank:], axis=-1)], axis=-1)
    return perm


def _is_complex(xp: Namespace, x: Array) -> bool:
    return xp.isdtype(x.dtype, "complex floating")


def solve_upper(xp: Namespace, u: Array, b: Array) -> Array:
    """``u⁻¹ b`` for upper triangular ``u`` (..., k, k) and ``b`` (..., k, r), batched.

    Recursive halving: ``x2 = u22⁻¹ b2``, ``x1 = u11⁻¹ (b1 − u12 x2)``; leaves of order
    :data:`diffqr._tuning.ARRAY_API_TRIANGULAR_LEAF` go to the namespace's ``linalg.solve`` on
    their upper triangle, which for a triangle with a nonzero diagonal is back substitution (no
    row swaps, ``L = I``).
    """
    k = u.shape[-1]
    if k <= _tuning.ARRAY_API_TRIANGULAR_LEAF:
        batch = _broadcast_batch(u.shape[:-2], b.shape[:-2])
        u = xp.broadcast_to(xp.triu(u), (*batch, k, k))
        b = xp.broadcast_to(b, (*batch, *b.shape[-2:]))
        return xp.linalg.solve(u, b) if k else b
    h = k // 2
    x2 = solve_upper(xp, u[..., h:, h:], b[..., h:, :])
    x1 = solve_upper(xp, u[..., :h, :h], b[..., :h, :] - u[..., :h, h:] @ x2)
    return xp.concat([x1, x2], axis=-2)


def _broadcast_batch(s: tuple[int, ...], t: tuple[int, ...]) -> tuple[int, ...]:
    import numpy as np  # shapes only: tuples of ints, no arrays

    return tuple(np.broadcast_shapes(tuple(s), tuple(t)))


def solve_triangular(xp: Namespace, r: Array, b: Array, *, upper: bool, left: bool,
                     adjoint: bool) -> Array:
    """``op(r) x = b`` (``left``) or ``x op(r) = b``; ``op`` = identity or ``ᴴ``.

    Every case becomes an upper triangular left solve: ``x op(r) = b`` is ``op(r)ᴴ xᴴ = bᴴ``,
    and a lower triangle ``l`` is upper after reversing its rows and columns (``J l J``).
    """
    if not left:
        adjoint = not adjoint
        b = _mH(xp, b)
    if adjoint:
        r, upper = _mH(xp, r), not upper
    if upper:
        x = solve_upper(xp, r, b)
    else:
        x = xp.flip(solve_upper(xp, xp.flip(r, axis=(-2, -1)), xp.flip(b, axis=-2)), axis=-2)
    return x if left else _mH(xp, x)


def _mH(xp: Namespace, a: Array) -> Array:
    t = xp.matrix_transpose(a)
    return xp.conj(t) if _is_complex(xp, t) else t


def native_triangular_solver(ns: Any):
    """The namespace's own triangular solve (2-D only) where one is known: CuPy's cupyx.

    Untested here (no GPU); the generic blocked solve is the fallback everywhere else.
    """
    if not ns.__name__.endswith("cupy"):
        return None
    try:
        from cupyx.scipy.linalg import solve_triangular
    except ImportError:
        return None

    def solve(r, b, *, upper, left, adjoint):
        if left:
            return solve_triangular(r, b, lower=not upper, trans="C" if adjoint else "N")
        t = solve_triangular(r, ns.conj(b.T), lower=not upper, trans="N" if adjoint else "C")
        return ns.conj(t.T)

    return solve
