"""Least squares through QR, and its direct derivative rules, written once for every framework.

Notation (derivations in docs/lstsq.md): ``A`` is ``(..., m, n)``, ``B`` is ``(..., m, r)``, the
ridge ``λ ≥ 0`` is ``None`` (no ridge) or an array ``(..., 1, 1)``.  Two formulations, by shape:

- primal (``m ≥ n``): ``X = G⁻¹ Aᴴ B`` with the Gram matrix ``G = Aᴴ A + λ I`` (``n × n``);
- dual (``m < n``): ``X = Aᴴ Y``, ``Y = H⁻¹ B`` with ``H = A Aᴴ + λ I`` (``m × m``).

For ``λ > 0`` both are the ridge solution; at ``λ = 0`` the primal one is the least-squares
solution of a full-column-rank ``A`` and the dual one the minimum-norm solution of a
full-row-rank ``A`` (the limit ``λ → 0`` of the ridge solution).  Each Gram matrix is ``Rᴴ R``
with ``R`` the triangular factor of the stacked ``[M; √λ I]`` (``M = A`` or ``Aᴴ``), which is deep,
so the forward pass is one Householder QR and the rules are a few triangular solves with ``R``.

The rules never differentiate through ``R``: every solve with a Gram matrix goes through
``solve(m, lam, v) = (Mᴴ M + λ I)⁻¹ v``, itself a differentiable primitive (``GRAM_SOLVE``) whose
rules call it again, so derivatives of every order are exact while ``R`` is only a cached helper.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .._backends import _host
from .._backends.base import Backend
from .._errors import RankDeficientError

Array = Any
Solve = Callable[[Array, Array | None, Array], Array]


# ---------------------------------------------------------------------- forward (native)


def _scaled_identity(xp: Backend, like: Array, n: int, lam: Array) -> Array:
    """``√λ I`` (..., n, n), batched like ``lam`` (..., 1, 1)."""
    return xp.real_times(lam**0.5, xp.eye_like(like, n))


def solve_forward(xp: Backend, a: Array, lam: Array | None, b: Array, *, dual: bool
                  ) -> tuple[Array, Array]:
    """``(X, R)``: the solution and the triangular factor of the stacked matrix.

    Primal: ``R`` and ``C = Qᴴ B`` are the blocks of one QR of ``[[A, B], [√λ I, 0]]``, and
    ``X = R⁻¹ C``.  Dual: ``R`` from the QR of ``[Aᴴ; √λ I]``, and ``X = Aᴴ R⁻¹ R⁻ᴴ B`` (the
    seminormal equations, forward stable for minimum-norm problems, Paige 1973).
    """
    m, n = xp.shape(a)[-2:]
    if dual:
        s = xp.mH(a)
        if lam is not None:
            s = xp.concat([s, _scaled_identity(xp, a, m, lam)], axis=-2)
        r = xp.qr_r(s)[..., :m, :]
        r = check_solvable(xp, r, max(m, n), dual=True)
        return xp.matmul(xp.mH(a), gram_solve_forward(xp, r, b)), r
    s = xp.concat([a, b], axis=-1)
    if lam is not None:
        bottom = xp.concat([_scaled_identity(xp, a, n, lam), xp.zeros_like(b[..., :n, :])], axis=-1)
        s = xp.concat([s, bottom], axis=-2)
    r_aug = xp.qr_r(s)
    r = r_aug[..., :n, :n]
    r = check_solvable(xp, r, max(m, n), dual=False)
    return xp.solve_triangular(r, r_aug[..., :n, n:], upper=True), r


def gram_solve_forward(xp: Backend, r: Array, v: Array) -> Array:
    """``(Rᴴ R)⁻¹ v`` by two triangular solves."""
    return xp.solve_triangular(r, xp.solve_triangular(r, v, upper=True, adjoint=True), upper=True)


def check_solvable(xp: Backend, r: Array, size: int, *, dual: bool) -> Array:
    """``r``, checked: raise :class:`RankDeficientError` if the Gram matrix ``Rᴴ R`` is
    numerically singular (lazily, when ``r`` is computed, on Dask: use the returned ``r``)."""
    return xp.check_diagonal(r, functools.partial(_raise_if_unsolvable, size=size, dual=dual))


def _raise_if_unsolvable(diag: Any, size: int, dual: bool, batch_offset: tuple[int, ...] = ()
                         ) -> None:
    found = _host.small_pivots(diag, size, batch_offset)
    if found is None:
        return
    batch = found[0]
    in_batch = f" (batch element {batch})" if batch else ""
    what = ("rows: the minimum-norm solution" if dual
            else "columns: the least-squares solution")
    raise RankDeficientError(
        f"A{in_batch} has numerically dependent {what} is not unique and has no derivative "
        f"(a diagonal entry of its triangular factor is <= "
        f"{_host.pivot_tolerance(diag.dtype, size):.1e} · max |R_jj|). "
        "Pass ridge > 0 for the unique regularized solution, or drop dependent columns, e.g. "
        "with diffqr.qr(A, pivoting=True, rank=k)."
    )


# ---------------------------------------------------------------------- rules


def real_inner(xp: Backend, p: Array, q: Array) -> Array:
    """``Re tr(pᴴ q)`` per batch element, as an array ``(..., 1, 1)``."""
    d = xp.matmul(xp.mH(p), q) * xp.eye_like(p, xp.shape(p)[-1])
    ones = xp.zeros_like(d[..., :, :1]) + 1
    return xp.real(xp.matmul(xp.mH(ones), xp.matmul(d, ones)))


def _add(x: Array | None, y: Array | None) -> Array | None:
    return y if x is None else x if y is None else x + y


def _sub(x: Array | None, y: Array | None) -> Array | None:
    return _add(x, None if y is None else -y)


def _times(xp: Backend, x: Array | None, y: Array | None) -> Array | None:
    return None if x is None or y is None else xp.matmul(x, y)


def gram_solve_jvp(xp: Backend, solve: Solve, m: Array, lam: Array | None, z: Array,
                   dm: Array | None, dlam: Array | None, dv: Array | None) -> Array:
    """Tangent of ``Z = G⁻¹ V``, ``G = Mᴴ M + λ I``:  ``dZ = G⁻¹ (dV − dG Z)``,
    ``dG Z = dMᴴ M Z + Mᴴ dM Z + dλ Z``."""
    rhs = dv
    if dm is not None:
        rhs = _sub(rhs, xp.matmul(xp.mH(dm), xp.matmul(m, z)) + xp.matmul(xp.mH(m),
                                                                         xp.matmul(dm, z)))
    if dlam is not None:
        rhs = _sub(rhs, xp.real_times(dlam, z))
    return xp.zeros_like(z) if rhs is None else solve(m, lam, rhs)


def gram_solve_vjp(xp: Backend, solve: Solve, m: Array, lam: Array | None, z: Array,
                   z_bar: Array) -> tuple[Array, Array, Array]:
    """Cotangents ``(M̄, λ̄, V̄)`` of ``Z = G⁻¹ V``:  with ``T = G⁻¹ Z̄``, ``V̄ = T``,
    ``M̄ = −(M Z) Tᴴ − (M T) Zᴴ``, ``λ̄ = −Re tr(Tᴴ Z)``."""
    t = solve(m, lam, z_bar)
    m_bar = -(xp.matmul(xp.matmul(m, z), xp.mH(t)) + xp.matmul(xp.matmul(m, t), xp.mH(z)))
    return m_bar, -real_inner(xp, t, z), t


def lstsq_jvp(xp: Backend, solve: Solve, a: Array, lam: Array | None, b: Array, x: Array,
              da: Array | None, dlam: Array | None, db: Array | None, *, dual: bool) -> Array:
    """Tangent ``dX`` from ``dA``, ``dλ``, ``dB`` (any may be ``None``).

    Primal: ``dX = G⁻¹ (dAᴴ (B − A X) + Aᴴ (dB − dA X) − dλ X)``.
    Dual:   ``dX = dAᴴ Y + Aᴴ H⁻¹ (dB − dA X − A dAᴴ Y − dλ Y)``,  ``Y = H⁻¹ B``.
    """
    if dual:
        ah = xp.mH(a)
        y = solve(ah, lam, b)
        dah_y = _times(xp, _conj_transpose(xp, da), y)
        rhs = _sub(_sub(db, _times(xp, da, x)), _times(xp, a, dah_y))
        if dlam is not None:
            rhs = _sub(rhs, xp.real_times(dlam, y))
        dx = None if rhs is None else xp.matmul(ah, solve(ah, lam, rhs))
        dx = _add(dx, dah_y)
    else:
        rhs = _times(xp, xp.mH(a), _sub(db, _times(xp, da, x)))
        if da is not None:
            rhs = _add(rhs, xp.matmul(xp.mH(da), b - xp.matmul(a, x)))
        if dlam is not None:
            rhs = _sub(rhs, xp.real_times(dlam, x))
        dx = None if rhs is None else solve(a, lam, rhs)
    return xp.zeros_like(x) if dx is None else dx


def lstsq_vjp(xp: Backend, solve: Solve, a: Array, lam: Array | None, b: Array, x: Array,
              x_bar: Array, *, dual: bool) -> tuple[Array, Array, Array]:
    """Cotangents ``(Ā, λ̄, B̄)`` from ``X̄``; ``λ̄`` (..., 1, 1), also at ``λ = 0`` (one-sided).

    Primal: ``Z = G⁻¹ X̄``,  ``B̄ = A Z``,  ``Ā = (B − A X) Zᴴ − B̄ Xᴴ``,  ``λ̄ = −Re tr(Zᴴ X)``.
    Dual:   ``Y = H⁻¹ B``,  ``U = H⁻¹ A X̄``,  ``B̄ = U``,  ``Ā = Y (X̄ − Aᴴ U)ᴴ − U Xᴴ``,
    ``λ̄ = −Re tr(Uᴴ Y)``.
    """
    if dual:
        ah = xp.mH(a)
        y = solve(ah, lam, b)
        u = solve(ah, lam, xp.matmul(a, x_bar))
        a_bar = xp.matmul(y, xp.mH(x_bar - xp.matmul(ah, u))) - xp.matmul(u, xp.mH(x))
        return a_bar, -real_inner(xp, u, y), u
    z = solve(a, lam, x_bar)
    b_bar = xp.matmul(a, z)
    a_bar = xp.matmul(b - xp.matmul(a, x), xp.mH(z)) - xp.matmul(b_bar, xp.mH(x))
    return a_bar, -real_inner(xp, z, x), b_bar


def _conj_transpose(xp: Backend, a: Array | None) -> Array | None:
    return None if a is None else xp.mH(a)
