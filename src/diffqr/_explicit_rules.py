"""The explicit derivative rules (``qr_vjp``, ``lstsq_jvp``, ...): validate the arguments, dispatch,
and evaluate the shared rule on the caller's arrays (for frameworks without autodiff, or to use
a rule directly)."""

from __future__ import annotations

from typing import Any

from ._dispatch import as_numpy_if_plain, backend_and_arrays
from ._primitives import gram_solver
from ._rules import gram as gram_rules
from ._rules import lstsq as lstsq_rules
from ._rules import qr as qr_rules
from ._validate import check_factors, check_shaped_like
from ._validate_lstsq import broadcast_batch, lstsq_problem, ridge_tangent, unbroadcast

Array = Any


def _rule_backend(**arrays: Array):
    return backend_and_arrays(**{name: as_numpy_if_plain(value)
                                 for name, value in arrays.items()})


def qr_vjp(A: Array, Q: Array, R: Array, Q_bar: Array | None, R_bar: Array | None, /, *,
           gram: bool = False) -> Array:
    """Reverse-mode rule of QR: the cotangent of ``A`` from those of ``Q`` and ``R``.

    Parameters
    ----------
    A : array (..., m, n)
        The factorized matrix (``A[..., :, P]`` for pivoted factors).
    Q, R : arrays (..., m, k), (..., k, n)
        Factors of ``A`` with any locally constant diagonal phase (LAPACK's, a positive
        diagonal), any ``k <= min(m, n)``, or complete-mode factors (Q m × m) of a deep A.
    Q_bar, R_bar : arrays or None
        Cotangents ``∂ℓ/∂Re X + i ∂ℓ/∂Im X`` (PyTorch's convention); ``None`` means zero.
    gram : bool
        The rule of ``qr(A, mode="r")`` and ``tria`` (reduced factors): defined for every ``A``,
        exact at full rank, Gram-consistent at rank deficiency (docs/square-root-filtering.md).

    Returns
    -------
    array (..., m, n)
        ``Ā`` in the same convention.
    """
    xp, a = _rule_backend(A=A, Q=Q, R=R, Q_bar=Q_bar, R_bar=R_bar)
    check_factors(xp, a, "Q", "R", complete_axis=-2)  # complete deep QR: Q m × m
    check_shaped_like(xp, a, {"Q_bar": "Q", "R_bar": "R"})
    if gram:
        _check_gram(xp, a)
        return gram_rules.gram_vjp(xp, a["A"], a["Q"], a["R"], a["Q_bar"], a["R_bar"])
    return qr_rules.qr_vjp(xp, a["A"], a["Q"], a["R"], a["Q_bar"], a["R_bar"])


def qr_jvp(A: Array, Q: Array, R: Array, dA: Array, /, *, gram: bool = False
           ) -> tuple[Array, Array]:
    """Forward-mode rule of QR: ``(dQ, dR)`` from the tangent ``dA`` (shapes as in ``qr_vjp``).

    With ``gram=True``, the rule of ``qr(A, mode="r")`` (see :func:`qr_vjp`).
    """
    xp, a = _rule_backend(A=A, Q=Q, R=R, dA=dA)
    check_factors(xp, a, "Q", "R", complete_axis=-2)  # complete deep QR: Q m × m
    check_shaped_like(xp, a, {"dA": "A"})
    if gram:
        _check_gram(xp, a)
        return gram_rules.gram_jvp(xp, a["A"], a["Q"], a["R"], a["dA"])
    return qr_rules.qr_jvp(xp, a["A"], a["Q"], a["R"], a["dA"])


def lq_vjp(A: Array, L: Array, Q: Array, L_bar: Array | None, Q_bar: Array | None, /) -> Array:
    """Reverse-mode rule of LQ ``A = L Q``: ``Ā = qr_vjp(Aᴴ, Qᴴ, Lᴴ, Q̄ᴴ, L̄ᴴ)ᴴ``."""
    xp, a = _rule_backend(A=A, L=L, Q=Q, L_bar=L_bar, Q_bar=Q_bar)
    check_factors(xp, a, "L", "Q", complete_axis=-1)  # complete wide LQ: Q n × n
    check_shaped_like(xp, a, {"L_bar": "L", "Q_bar": "Q"})
    h = _conj_transpose_or_none(xp)
    return xp.mH_resolved(
        qr_rules.qr_vjp(xp, h(a["A"]), h(a["Q"]), h(a["L"]), h(a["Q_bar"]), h(a["L_bar"]))
    )


def lq_jvp(A: Array, L: Array, Q: Array, dA: Array, /) -> tuple[Array, Array]:
    """Forward-mode rule of LQ: ``(dL, dQ)`` from ``dA``."""
    xp, a = _rule_backend(A=A, L=L, Q=Q, dA=dA)
    check_factors(xp, a, "L", "Q", complete_axis=-1)  # complete wide LQ: Q n × n
    check_shaped_like(xp, a, {"dA": "A"})
    dq, dr = qr_rules.qr_jvp(xp, xp.mH(a["A"]), xp.mH(a["Q"]), xp.mH(a["L"]), xp.mH(a["dA"]))
    return xp.mH_resolved(dr), xp.mH_resolved(dq)


def _check_gram(xp, a: dict) -> None:
    if xp.shape(a["Q"])[-1] != min(xp.shape(a["A"])[-2:]):
        raise ValueError("gram=True needs the reduced factors: Q (..., m, min(m, n)), "
                         "R (..., min(m, n), n)")


def _conj_transpose_or_none(xp):
    return lambda x: None if x is None else xp.mH(x)


# ---------------------------------------------------------------------- least squares


def lstsq_vjp(A: Array, B: Array, X: Array, X_bar: Array | None, /, *,
              ridge: Array | float = 0.0, return_ridge_bar: bool = False) -> tuple[Array, ...]:
    """Reverse-mode rule of :func:`lstsq`: ``(Ā, B̄)`` from ``X̄`` (``∂ℓ/∂Re X + i ∂ℓ/∂Im X``).

    Parameters
    ----------
    A, B : arrays
        As for :func:`lstsq`.
    X : array
        ``lstsq(A, B, ridge=ridge)``.
    X_bar : array or None
        Cotangent of ``X`` (``None`` means zero).
    ridge : float or 0-d array
        The ridge ``λ`` that produced ``X``.
    return_ridge_bar : bool
        Also return ``λ̄``, a 0-d real array (defined at ``λ = 0`` too, as the one-sided
        derivative).

    Returns
    -------
    (A_bar, B_bar) or (A_bar, B_bar, ridge_bar)
        Shaped like ``A``, ``B`` (and 0-d).
    """
    X, X_bar = as_numpy_if_plain(X), as_numpy_if_plain(X_bar)
    p = lstsq_problem(A, B, ridge, False, X=X, X_bar=X_bar)
    xp, X, X_bar = p.xp, p.others["X"], p.others["X_bar"]
    if X_bar is None:
        out = (xp.zeros_like(p.a), p.as_ridge(0.0), xp.zeros_like(p.b))
    else:
        _, r = lstsq_rules.solve_forward(xp, p.a, p.lam, p.b, dual=p.dual)
        x, x_bar = (broadcast_batch(xp, p.as_matrix(y), p.a) for y in (X, X_bar))
        out = lstsq_rules.lstsq_vjp(xp, gram_solver(xp, r), p.a, p.lam, p.b, x, x_bar,
                                    dual=p.dual)
    a_bar, lam_bar, b_bar = out
    out = (unbroadcast(xp, a_bar, p.a_shape), unbroadcast(xp, p.as_rhs(b_bar), p.b_shape))
    if not return_ridge_bar:
        return out
    return (*out, xp.sum(lam_bar, tuple(range(len(xp.shape(lam_bar))))))


def lstsq_jvp(A: Array, B: Array, X: Array, dA: Array | None, dB: Array | None, /, *,
              ridge: Array | float = 0.0, d_ridge: Array | float | None = None) -> Array:
    """Forward-mode rule of :func:`lstsq`: the tangent ``dX`` from ``dA``, ``dB`` (and ``dλ``).

    Parameters
    ----------
    A, B, X : arrays
        As for :func:`lstsq_vjp`.
    dA, dB : arrays or None
        Tangents shaped like ``A`` and ``B`` (``None`` means zero).
    ridge : float or 0-d array
        The ridge ``λ`` that produced ``X``.
    d_ridge : float or 0-d array, optional
        Tangent of ``λ``.

    Returns
    -------
    array
        ``dX``, shaped like ``X``.
    """
    X, dA, dB = (as_numpy_if_plain(y) for y in (X, dA, dB))
    d_ridge = None if d_ridge is None else ridge_tangent(d_ridge)
    p = lstsq_problem(A, B, ridge, False, X=X, dA=dA, dB=dB,
                       d_ridge=None if isinstance(d_ridge, float) else d_ridge)
    xp, X, dA, dB = p.xp, p.others["X"], p.others["dA"], p.others["dB"]
    if p.others["d_ridge"] is not None:  # an array, converted like the others
        d_ridge = p.others["d_ridge"]
    _, r = lstsq_rules.solve_forward(xp, p.a, p.lam, p.b, dual=p.dual)
    x, da, db = (None if y is None else broadcast_batch(xp, y, p.a, p.b)
                 for y in (p.as_matrix(X), dA, p.as_matrix(dB)))
    dlam = None if d_ridge is None else p.as_ridge(d_ridge)
    dx = lstsq_rules.lstsq_jvp(xp, gram_solver(xp, r), p.a, p.lam, p.b, x, da, dlam, db,
                               dual=p.dual)
    return p.as_rhs(dx)
