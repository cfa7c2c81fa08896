"""The public decompositions and solver: validate, dispatch to the adapter, apply the primitive,
wrap the result."""

from __future__ import annotations

from typing import Any

from ._dispatch import as_numpy_if_plain, backend_for
from ._primitives import LSTSQ, QR, QR_GRAM
from ._results import LQResult, PivotedLQResult, PivotedQRResult, PivotedRResult, QRResult
from ._validate import (
    LQ_MODES,
    QR_MODES,
    check_finite,
    check_flag,
    check_matrix,
    check_option,
    check_rank,
    resolve_method,
)
from ._validate_lstsq import lstsq_problem

Array = Any


def factor(
    A: Array, *, mode: str, pivoting: bool, rank: int | None, check_finite_: bool, argument: str,
    method: str = "householder", adjoint: bool = False,
) -> tuple[Array, Array, Array | None]:
    """Differentiable (pivoted, truncated) QR of ``A``: ``(Q, R, P or None)``.

    With ``adjoint``, the QR of ``Aᴴ`` returned as ``(Qᴴ, Rᴴ, P or None)``: LQ's ``Q`` and ``L``.
    """
    xp = backend_for(**{argument: A})
    m, n = check_matrix(xp, argument, A)
    if adjoint:
        m, n = n, m
    k = check_rank(rank, m, n)
    if rank is not None and mode == "complete":
        raise ValueError("mode='complete' has no truncated form; use rank=None or mode='reduced'")
    check_flag("pivoting", pivoting)
    check_flag("check_finite", check_finite_)
    method = resolve_method(xp, method, mode=mode, pivoting=pivoting, k=k, m=m, n=n)
    if check_finite_:
        A = check_finite(xp, argument, A)
    options = {"mode": mode, "rank": k, "method": method}
    primitive, order = QR, slice(None)
    if mode == "r" and k == min(m, n):  # R alone: the derivative defined everywhere
        primitive, order, options = QR_GRAM, slice(None, None, -1), {"method": method}
    if not pivoting:
        q, r = (xp.apply_adjoint if adjoint else xp.apply)(primitive, (A,), options)[order]
        return q, r, None
    if adjoint:
        A = xp.mH(A)
    perm = xp.column_pivots(A, rank if rank is None else k)
    q, r = xp.apply(primitive, (xp.take_columns(A, perm),), options)[order]
    return (xp.mH_resolved(q), xp.mH_resolved(r), perm) if adjoint else (q, r, perm)


def qr(
    A: Array,
    /,
    *,
    mode: str = "reduced",
    pivoting: bool = False,
    rank: int | None = None,
    check_finite: bool = True,
    method: str = "householder",
) -> QRResult | PivotedQRResult | PivotedRResult | Array:
    """Differentiable QR decomposition ``A = Q R`` of a (batch of) matrices.

    Parameters
    ----------
    A : array, shape (..., m, n)
        NumPy array, torch.Tensor, jax.Array, tf.Tensor, MXNet NDArray, dask array,
        paddle.Tensor, an array
        of any other Array API namespace (array-api-strict, CuPy, ...; same namespace and device
        out) or a NumPy array traced by HIPS autograd; float32, float64, complex64 or
        complex128.
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
    method : {"householder", "cholesky", "auto"}
        How the forward pass factors ``A`` (the derivative rules are the same).
        ``"householder"``: LAPACK, the same outputs as the framework's ``linalg.qr``.
        ``"cholesky"``: shifted CholeskyQR2/3 for tall-skinny ``A`` (reduced mode, no pivoting or
        rank), R with a positive diagonal; orthonormal to rounding up to ``κ(A)`` near ``1/eps``,
        ``ValueError`` beyond (eager mode only).  ``"auto"``: ``"cholesky"`` for ``m >= 4 n``
        where it applies and is the faster forward pass for the framework (NumPy), falling
        back to Householder when it cannot vouch for its ``Q``; ``"householder"`` otherwise.

    Returns
    -------
    QRResult(Q, R), PivotedQRResult(Q, R, P); for ``mode="r"`` R alone, or PivotedRResult(R, P)
        with ``pivoting=True``
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
    q, r, perm = factor(
        A, mode=mode, pivoting=pivoting, rank=rank, check_finite_=check_finite, argument="A",
        method=method,
    )
    if mode == "r":
        return r if perm is None else PivotedRResult(r, perm)
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
    q_factor, l_factor, perm = factor(
        A, mode=mode, pivoting=pivoting, rank=rank, check_finite_=check_finite, argument="A",
        adjoint=True,
    )
    if perm is None:
        return LQResult(l_factor, q_factor)
    return PivotedLQResult(l_factor, q_factor, perm)


def lstsq(A: Array, B: Array, /, *, ridge: Array | float = 0.0, check_finite: bool = True
          ) -> Array:
    """Differentiable least squares: ``min ‖A X − B‖² + ridge·‖X‖²`` through a QR factorization.

    Parameters
    ----------
    A : array, shape (..., m, n)
        Deep or square (``m >= n``): full column rank, the least-squares solution.  Wide
        (``m < n``): full row rank, the minimum-norm solution.  With ``ridge > 0`` any rank.
    B : array, shape (..., m) or (..., m, r)
        Right-hand side(s), same dtype as ``A``; a vector when 1-d or shaped ``A.shape[:-1]``
        (as in ``torch.linalg.lstsq``).  The batch dimensions of ``A`` and ``B`` broadcast
        (pass a batch of vectors as (..., m, 1) to broadcast it).
    ridge : float or 0-d real array, optional
        Tikhonov weight ``λ >= 0``.  An array of the framework (``float32`` for
        ``float32``/``complex64`` ``A``) is differentiated too.  Deep ``A`` is solved through the
        QR of ``[A; √λ I]``, wide ``A`` through the dual ``X = Aᴴ (A Aᴴ + λ I)⁻¹ B`` with the
        QR of ``[Aᴴ; √λ I]`` (smaller, and continuous at ``λ = 0``).
    check_finite : bool
        Raise ``ValueError`` for NaN/Inf entries (eager evaluation only).

    Returns
    -------
    array, shape (..., n) or (..., n, r)
        ``X``, same type as ``A``, equal to ``numpy.linalg.lstsq`` on full-rank input.
        Its derivatives (reverse, forward, any order) are the direct rules: a few triangular
        solves with the factor of the forward pass, never the derivative of the QR factors.

    Raises
    ------
    RankDeficientError
        ``A`` is numerically rank deficient and ``ridge == 0`` (eager evaluation only).
    ValueError, TypeError
        Shapes of ``A`` and ``B`` that do not match, ``ridge < 0``, bad dtypes, non-finite input.
    """
    problem = lstsq_problem(A, B, ridge, check_finite)
    primitive = LSTSQ[problem.lam is not None]
    x, _ = problem.xp.apply(primitive, problem.inputs(), {"dual": problem.dual})
    return problem.as_rhs(x)
