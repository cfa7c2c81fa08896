"""The public functions: validate, dispatch to the adapter, wrap the result."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._backends import as_numpy_if_plain, backend_for
from ._backends.base import Backend
from ._primitives import LSTSQ, QR, gram_solver
from ._results import LQResult, PivotedLQResult, PivotedQRResult, QRResult
from ._rules import lstsq as lstsq_rules
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
    check_rhs,
    check_ridge_value,
    check_shaped_like,
    resolve_method,
)

Array = Any


def _factor(
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
    if not pivoting:
        q, r = (xp.apply_adjoint if adjoint else xp.apply)(QR, (A,), options)
        return q, r, None
    if adjoint:
        A = xp.mH(A)
    perm = xp.column_pivots(A, rank if rank is None else k)
    q, r = xp.apply(QR, (xp.take_columns(A, perm),), options)
    return (xp.mH(q), xp.mH(r), perm) if adjoint else (q, r, perm)


def qr(
    A: Array,
    /,
    *,
    mode: str = "reduced",
    pivoting: bool = False,
    rank: int | None = None,
    check_finite: bool = True,
    method: str = "householder",
) -> QRResult | PivotedQRResult | Array:
    """Differentiable QR decomposition ``A = Q R`` of a (batch of) matrices.

    Parameters
    ----------
    A : array, shape (..., m, n)
        NumPy array, torch.Tensor, jax.Array, tf.Tensor, MXNet NDArray, dask array, an array
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
        A, mode=mode, pivoting=pivoting, rank=rank, check_finite_=check_finite, argument="A",
        method=method,
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
    q_factor, l_factor, perm = _factor(
        A, mode=mode, pivoting=pivoting, rank=rank, check_finite_=check_finite, argument="A",
        adjoint=True,
    )
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


# ---------------------------------------------------------------------- least squares


@dataclass(frozen=True)
class _Lstsq:
    """A validated least-squares problem: batches broadcast, ``B`` a matrix, ``λ`` (..., 1, 1)."""

    xp: Backend
    a: Array
    lam: Array | None
    b: Array
    vector: bool
    a_shape: tuple[int, ...]
    b_shape: tuple[int, ...]

    @property
    def dual(self) -> bool:
        return self.a_shape[-2] < self.a_shape[-1]

    def inputs(self) -> tuple[Array, ...]:
        return (self.a, self.b) if self.lam is None else (self.a, self.lam, self.b)

    def primitive(self):
        return LSTSQ[self.lam is not None]

    def as_matrix(self, x: Array | None) -> Array | None:
        """A ``B``- or ``X``-like argument in matrix form."""
        return x if x is None or not self.vector else x[..., None]

    def as_rhs(self, x: Array) -> Array:
        """Back from matrix form to the shape of ``X`` (a vector when ``B`` was one)."""
        return x[..., 0] if self.vector else x

    def as_ridge(self, value: Array | float) -> Array:
        """``value`` (a number or a 0-d array) as the real ``(..., 1, 1)`` array of ``λ``."""
        return self.xp.real(self.xp.zeros_like(self.a[..., :1, :1])) + value


def _ridge_argument(ridge: Any) -> Array | float:
    """A Python/NumPy real number as ``float``; an array as it is (checked later)."""
    if isinstance(ridge, numbers.Real) and not isinstance(ridge, bool):
        check_ridge_value(float(ridge))
        return float(ridge)
    ridge = as_numpy_if_plain(ridge)
    if ridge is None or isinstance(ridge, (bool, str)):
        raise TypeError(f"ridge must be a real number or a 0-d real array; got {ridge!r}")
    return ridge


def _broadcast_batch(xp: Backend, x: Array, *templates: Array) -> Array:
    """``x`` (..., p, q) broadcast to the batch dimensions of every template (..., ·, ·)."""
    for t in templates:
        if xp.shape(x)[:-2] != np.broadcast_shapes(xp.shape(x)[:-2], xp.shape(t)[:-2]):
            x = x + xp.zeros_like(t[..., :1, :1])
    return x


def _lstsq_problem(A: Array, B: Array, ridge: Any, check_finite_: bool, **others: Array
                   ) -> _Lstsq:
    A, B = as_numpy_if_plain(A), as_numpy_if_plain(B)
    ridge = _ridge_argument(ridge)
    ridge_array = None if isinstance(ridge, float) else ridge
    xp = backend_for(A=A, B=B, ridge=ridge_array, **others)
    check_matrix(xp, "A", A)
    vector = check_rhs(xp, A, B)
    if check_finite_:
        A, B = check_finite(xp, "A", A), check_finite(xp, "B", B)
    real_dtype = "float32" if xp.dtype_name(A) in ("float32", "complex64") else "float64"
    if ridge_array is not None:
        if xp.shape(ridge_array) != ():
            raise ValueError(f"ridge must be a number or a 0-d array; got shape "
                             f"{xp.shape(ridge_array)}")
        if xp.dtype_name(ridge_array) not in ("float32", "float64"):
            raise TypeError(f"ridge must be real floating point ({real_dtype} for A of dtype "
                            f"{xp.dtype_name(A)}); got dtype {xp.dtype_name(ridge_array)}")
        host = xp.to_host(ridge_array)
        if host is not None:
            check_ridge_value(float(host))
    b = B[..., None] if vector else B
    a, b = _broadcast_batch(xp, A, b), _broadcast_batch(xp, b, A)
    problem = _Lstsq(xp, a, None, b, vector, xp.shape(A), xp.shape(B))
    if ridge_array is None and ridge == 0:
        return problem
    lam = problem.as_ridge(ridge)
    if xp.dtype_name(lam) != real_dtype:
        raise TypeError(f"ridge has dtype {xp.dtype_name(ridge_array)}; pass it as "
                        f"{real_dtype} to match A of dtype {xp.dtype_name(A)}")
    return _Lstsq(xp, a, lam, b, vector, xp.shape(A), xp.shape(B))


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
    problem = _lstsq_problem(A, B, ridge, check_finite)
    x, _ = problem.xp.apply(problem.primitive(), problem.inputs(), {"dual": problem.dual})
    return problem.as_rhs(x)


def _unbroadcast(xp: Backend, x: Array, shape: tuple[int, ...]) -> Array:
    """Sum the cotangent ``x`` of a broadcast array back to the array's ``shape``."""
    x_shape = xp.shape(x)
    lead = len(x_shape) - len(shape)
    ones = [i for i, (s, t) in enumerate(zip(shape, x_shape[lead:], strict=True))
            if s == 1 and t != 1]
    axes = (*range(lead), *(lead + i for i in ones))
    if not axes:
        return x
    x = xp.sum(x, axes)
    return x[tuple(None if i in ones else slice(None) for i in range(len(shape)))] if ones else x


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
    p = _lstsq_problem(A, B, ridge, False, X=X, X_bar=X_bar)
    xp = p.xp
    if X_bar is None:
        out = (xp.zeros_like(p.a), p.as_ridge(0.0), xp.zeros_like(p.b))
    else:
        _, r = lstsq_rules.solve_forward(xp, p.a, p.lam, p.b, dual=p.dual)
        x, x_bar = (_broadcast_batch(xp, p.as_matrix(y), p.a) for y in (X, X_bar))
        out = lstsq_rules.lstsq_vjp(xp, gram_solver(xp, r), p.a, p.lam, p.b, x, x_bar,
                                    dual=p.dual)
    a_bar, lam_bar, b_bar = out
    out = (_unbroadcast(xp, a_bar, p.a_shape), _unbroadcast(xp, p.as_rhs(b_bar), p.b_shape))
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
    d_ridge = None if d_ridge is None else _ridge_tangent(d_ridge)
    p = _lstsq_problem(A, B, ridge, False, X=X, dA=dA, dB=dB,
                       d_ridge=None if isinstance(d_ridge, float) else d_ridge)
    xp = p.xp
    _, r = lstsq_rules.solve_forward(xp, p.a, p.lam, p.b, dual=p.dual)
    x, da, db = (None if y is None else _broadcast_batch(xp, y, p.a, p.b)
                 for y in (p.as_matrix(X), dA, p.as_matrix(dB)))
    dlam = None if d_ridge is None else p.as_ridge(d_ridge)
    dx = lstsq_rules.lstsq_jvp(xp, gram_solver(xp, r), p.a, p.lam, p.b, x, da, dlam, db,
                               dual=p.dual)
    return p.as_rhs(dx)


def _ridge_tangent(d_ridge: Any) -> Array | float:
    if isinstance(d_ridge, numbers.Real) and not isinstance(d_ridge, bool):
        return float(d_ridge)
    return as_numpy_if_plain(d_ridge)
