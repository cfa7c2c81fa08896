"""The public functions: validate, dispatch to the adapter, wrap the result."""

from __future__ import annotations

from typing import Any

from ._backends import as_numpy_if_plain, backend_for
from ._primitives import QR
from ._results import LQResult, PivotedLQResult, PivotedQRResult, QRResult
from ._rules import qr as qr_rules
from ._validate import (
    LQ_MODES,
    QR_MODES,
    check_factors,
    check_finite,
    check_flag,
    check_matrix,
    check_option,
    check_rank,
    check_shaped_like,
)

Array = Any


def _factor(
    A: Array, *, mode: str, pivoting: bool, rank: int | None, check_finite_: bool, argument: str
) -> tuple[Array, Array, Array | None]:
    """Differentiable (pivoted, truncated) QR of ``A``: ``(Q, R, P or None)``."""
    xp = backend_for(**{argument: A})
    m, n = check_matrix(xp, argument, A)
    k = check_rank(rank, m, n)
    if rank is not None and mode == "complete":
        raise ValueError("mode='complete' has no truncated form; use rank=None or mode='reduced'")
    check_flag("pivoting", pivoting)
    check_flag("check_finite", check_finite_)
    if check_finite_:
        check_finite(xp, argument, A)
    perm = None
    if pivoting:
        perm = xp.column_pivots(A, rank if rank is None else k)
        A = xp.take_columns(A, perm)
    q, r = xp.apply(QR, (A,), {"mode": mode, "rank": k})
    return q, r, perm


def qr(
    A: Array,
    /,
    *,
    mode: str = "reduced",
    pivoting: bool = False,
    rank: int | None = None,
    check_finite: bool = True,
) -> QRResult | PivotedQRResult | Array:
    """Differentiable QR decomposition ``A = Q R`` of a (batch of) matrices.

    Parameters
    ----------
    A : array, shape (..., m, n)
        NumPy array, torch.Tensor, jax.Array, tf.Tensor, MXNet NDArray or dask array;
        float32, float64, complex64 or complex128.
    mode : {"reduced", "complete", "r"}
        ``"reduced"``: Q (..., m, k), R (..., k, n) with k = min(m, n).  ``"complete"``: Q is
        (..., m, m); its last m − n columns are LAPACK's Householder completion, and their
        derivative is the exact derivative of that completion.  ``"r"``: return only R (still
        differentiable).
    pivoting : bool
        Column pivoting (LAPACK ``geqp3``): ``A[..., :, P] == Q @ R`` with ``|diag R|``
        non-increasing.  The permutation is held constant under differentiation.
    rank : int, optional
        Truncate to the leading ``rank`` columns of Q and rows of R.  With ``pivoting=True`` this
        is a rank-revealing QR whose derivative is finite for any A of rank ≥ ``rank``.
    check_finite : bool
        Raise ``ValueError`` for NaN/Inf entries (eager evaluation only).

    Returns
    -------
    QRResult(Q, R), PivotedQRResult(Q, R, P), or R alone for ``mode="r"``
        Arrays of the same type as ``A``.  ``P`` is int64 ``(..., n)``.

    Raises
    ------
    ValueError, TypeError
        Bad mode, rank, shape or dtype.
    RankDeficientError
        From the backward pass / JVP when the leading columns are numerically dependent.
    """
    A = as_numpy_if_plain(A)
    check_option("mode", mode, QR_MODES)
    q, r, perm = _factor(
        A, mode=mode, pivoting=pivoting, rank=rank, check_finite_=check_finite, argument="A"
    )
    if mode == "r":
        return r if perm is None else (r, perm)
    return QRResult(q, r) if perm is None else PivotedQRResult(q, r, perm)


def lq(
    A: Array,
    /,
    *,
    mode: str = "reduced",
    pivoting: bool = False,
    rank: int | None = None,
    check_finite: bool = True,
) -> LQResult | PivotedLQResult:
    """Differentiable LQ decomposition ``A = L Q`` (``L`` lower triangular, ``Q Qᴴ = I``).

    Computed as the conjugate transpose of the QR of ``Aᴴ``; its derivative is the adjoint of
    that QR's, which covers wide LQ (the adjoint of deep QR) and deep LQ (of wide QR).

    Parameters
    ----------
    A : array, shape (..., m, n)
    mode : {"reduced", "complete"}
        ``"reduced"``: L (..., m, k), Q (..., k, n), k = min(m, n); ``"complete"``: Q (..., n, n).
    pivoting : bool
        Row pivoting: ``A[..., P, :] == L @ Q`` with ``|diag L|`` non-increasing.
    rank : int, optional
        Truncate to the leading ``rank`` columns of L and rows of Q.
    check_finite : bool
        Raise ``ValueError`` for NaN/Inf entries (eager evaluation only).

    Returns
    -------
    LQResult(L, Q) or PivotedLQResult(L, Q, P)
    """
    A = as_numpy_if_plain(A)
    check_option("mode", mode, LQ_MODES)
    xp = backend_for(A=A)
    check_matrix(xp, "A", A)
    q, r, perm = _factor(
        xp.mH(A),
        mode=mode,
        pivoting=pivoting,
        rank=rank,
        check_finite_=check_finite,
        argument="A",
    )
    l_factor, q_factor = xp.mH(r), xp.mH(q)
    if perm is None:
        return LQResult(l_factor, q_factor)
    return PivotedLQResult(l_factor, q_factor, perm)


# ---------------------------------------------------------------------- explicit rules


def _rule_backend(**arrays: Array):
    arrays = {name: as_numpy_if_plain(value) for name, value in arrays.items()}
    return backend_for(**arrays), arrays


def qr_vjp(A: Array, Q: Array, R: Array, Q_bar: Array | None, R_bar: Array | None, /) -> Array:
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

    Returns
    -------
    array (..., m, n)
        ``Ā`` in the same convention.
    """
    xp, a = _rule_backend(A=A, Q=Q, R=R, Q_bar=Q_bar, R_bar=R_bar)
    check_factors(xp, a, "Q", "R", complete_axis=-2)  # complete deep QR: Q m × m
    check_shaped_like(xp, a, {"Q_bar": "Q", "R_bar": "R"})
    return qr_rules.qr_vjp(xp, a["A"], a["Q"], a["R"], a["Q_bar"], a["R_bar"])


def qr_jvp(A: Array, Q: Array, R: Array, dA: Array, /) -> tuple[Array, Array]:
    """Forward-mode rule of QR: ``(dQ, dR)`` from the tangent ``dA`` (shapes as in ``qr_vjp``)."""
    xp, a = _rule_backend(A=A, Q=Q, R=R, dA=dA)
    check_factors(xp, a, "Q", "R", complete_axis=-2)  # complete deep QR: Q m × m
    check_shaped_like(xp, a, {"dA": "A"})
    return qr_rules.qr_jvp(xp, a["A"], a["Q"], a["R"], a["dA"])


def lq_vjp(A: Array, L: Array, Q: Array, L_bar: Array | None, Q_bar: Array | None, /) -> Array:
    """Reverse-mode rule of LQ ``A = L Q``: ``Ā = qr_vjp(Aᴴ, Qᴴ, Lᴴ, Q̄ᴴ, L̄ᴴ)ᴴ``."""
    xp, a = _rule_backend(A=A, L=L, Q=Q, L_bar=L_bar, Q_bar=Q_bar)
    check_factors(xp, a, "L", "Q", complete_axis=-1)  # complete wide LQ: Q n × n
    check_shaped_like(xp, a, {"L_bar": "L", "Q_bar": "Q"})
    h = _conj_transpose_or_none(xp)
    return xp.mH(
        qr_rules.qr_vjp(xp, h(a["A"]), h(a["Q"]), h(a["L"]), h(a["Q_bar"]), h(a["L_bar"]))
    )


def lq_jvp(A: Array, L: Array, Q: Array, dA: Array, /) -> tuple[Array, Array]:
    """Forward-mode rule of LQ: ``(dL, dQ)`` from ``dA``."""
    xp, a = _rule_backend(A=A, L=L, Q=Q, dA=dA)
    check_factors(xp, a, "L", "Q", complete_axis=-1)  # complete wide LQ: Q n × n
    check_shaped_like(xp, a, {"dA": "A"})
    dq, dr = qr_rules.qr_jvp(xp, xp.mH(a["A"]), xp.mH(a["Q"]), xp.mH(a["L"]), xp.mH(a["dA"]))
    return xp.mH(dr), xp.mH(dq)


def _conj_transpose_or_none(xp):
    return lambda x: None if x is None else xp.mH(x)
