"""What the Array API standard's linalg extension lacks, built from standard operations.

Everything runs inside the array's own namespace and on its device (every constant is created
with ``device=``): column pivots (LAPACK ``geqp3``'s choice) and a batched triangular solve.
Nothing here converts to NumPy, so a GPU array or array-api-strict's ``Device("device1")``
never leaves its device.
"""

from __future__ import annotations

from typing import Any

Array = Any
Namespace = Any

# Diagonal blocks up to this order are solved by the namespace's LU solve (exact back
# substitution on a triangle: partial pivoting swaps no rows); larger triangles split in halves,
# the off-diagonal blocks updated by one product each.
TRIANGULAR_LEAF = 32


def _device(x: Array) -> Any:
    return x.device


def householder_pivots(xp: Namespace, a: Array, rank: int | None) -> Array:
    """Column pivots ``(..., n)`` (int64, on ``a``'s device) of column-pivoted Householder QR.

    At step ``j`` the column of largest remaining norm is swapped to position ``j`` (the first
    one on ties, like LAPACK's ``idamax``) and a reflector clears it below row ``j``; the norms
    are recomputed from the reflected matrix (exact, where ``geqp3`` downdates them).  With a
    truncation ``rank`` the pivots after the first ``rank`` are sorted, as in the NumPy adapter.
    """
    *batch, m, n = a.shape
    dev = _device(a)
    columns = xp.arange(n, dtype=xp.int64, device=dev)
    rows = xp.arange(m, dtype=xp.int64, device=dev)
    perm = xp.broadcast_to(columns, (*batch, n))
    w = a
    for j in range(min(m, n)):
        below = xp.astype(rows >= j, a.dtype)[:, None]  # rows j: of the trailing block
        norms = xp.linalg.vector_norm(w * below, axis=-2)
        norms = xp.where(columns >= j, norms, -1.0)
        p = xp.argmax(norms, axis=-1)[..., None]  # (..., 1)
        swap = xp.where(columns == j, p, xp.where(columns == p, j, columns))
        perm = xp.take_along_axis(perm, swap, axis=-1)
        w = xp.take_along_axis(w, xp.broadcast_to(swap[..., None, :], w.shape), axis=-1)
        x = w[..., :, j : j + 1] * below  # (..., m, 1)
        alpha = w[..., j : j + 1, j : j + 1]
        size = xp.abs(alpha)
        phase = xp.where(size > 0, alpha / xp.where(size > 0, size, 1.0), 1.0)
        norm_x = xp.linalg.vector_norm(x, axis=-2, keepdims=True)
        e_j = xp.astype(rows == j, a.dtype)[:, None]
        u = x + phase * norm_x * e_j  # reflects x onto −phase ‖x‖ e_j
        uu = xp.sum(xp.real(xp.conj(u) * u) if _is_complex(xp, u) else u * u, axis=-2,
                    keepdims=True)
        scale = xp.where(uu > 0, 2.0 / xp.where(uu > 0, uu, 1.0), 0.0)
        w = w - u * (scale * (xp.conj(xp.matrix_transpose(u)) if _is_complex(xp, u)
                              else xp.matrix_transpose(u)) @ w)
    if rank is not None and rank < n:
        perm = xp.concat([perm[..., :rank], xp.sort(perm[..., rank:], axis=-1)], axis=-1)
    return perm


def _is_complex(xp: Namespace, x: Array) -> bool:
    return xp.isdtype(x.dtype, "complex floating")


def solve_upper(xp: Namespace, u: Array, b: Array) -> Array:
    """``u⁻¹ b`` for upper triangular ``u`` (..., k, k) and ``b`` (..., k, r), batched.

    Recursive halving: ``x2 = u22⁻¹ b2``, ``x1 = u11⁻¹ (b1 − u12 x2)``; leaves of order
    :data:`TRIANGULAR_LEAF` go to the namespace's ``linalg.solve`` on their upper triangle,
    which for a triangle with a nonzero diagonal is back substitution (no row swaps, ``L = I``).
    """
    k = u.shape[-1]
    if k <= TRIANGULAR_LEAF:
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
