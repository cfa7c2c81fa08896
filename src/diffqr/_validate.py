"""Argument checks shared by every public function: clear errors that name the argument."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _tuning
from ._backends.base import SUPPORTED_DTYPES, Backend

QR_MODES = ("reduced", "complete", "r")
LQ_MODES = ("reduced", "complete")
QR_METHODS = ("householder", "cholesky", "auto")


def check_option(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name} must be one of {choices}; got {value!r}")


def check_flag(name: str, value: Any) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r}")


def check_matrix(xp: Backend, name: str, a: Any) -> tuple[int, int]:
    """``a`` is a (batch of) matrices of a supported dtype; returns ``(m, n)``."""
    if a is None:
        raise TypeError(f"{name} must be an array of shape (..., m, n); got None")
    shape = xp.shape(a)
    if len(shape) < 2:
        raise ValueError(
            f"{name} must have at least 2 dimensions (..., m, n); got shape {shape}. "
            "Reshape a vector to (m, 1) or (1, n)."
        )
    dtype = xp.dtype_name(a)
    if dtype not in SUPPORTED_DTYPES:
        raise TypeError(
            f"{name} has dtype {dtype}; diffqr supports {', '.join(SUPPORTED_DTYPES)}. "
            f"Cast it first, e.g. to float64 (or complex128)."
        )
    return shape[-2], shape[-1]


def check_finite(xp: Backend, name: str, a: Any) -> Any:
    """Reject NaN/Inf entries where the values are known (skipped under tracing).

    Returns ``a``, or for lazy arrays (Dask) an array that raises when it is computed.
    """
    message = (
        f"{name} contains NaN or Inf entries; QR of non-finite input is meaningless. "
        "Clean the input, or pass check_finite=False to skip this check."
    )
    host = xp.to_host(a)
    if host is None:
        return xp.deferred_finite_check(a, message)
    if not np.isfinite(host).all():
        raise ValueError(message)
    return a


def check_rank(rank: Any, m: int, n: int) -> int:
    """``rank`` as an int in ``[1, min(m, n)]``; ``None`` means full rank."""
    full = min(m, n)
    if rank is None:
        return full
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)):
        raise TypeError(f"rank must be an int or None; got {type(rank).__name__}")
    if not 1 <= rank <= full:
        raise ValueError(f"rank must satisfy 1 <= rank <= min(m, n) = {full}; got {rank}")
    return int(rank)


def check_ridge_value(value: float, name: str = "ridge") -> None:
    """A ridge ``λ`` must be finite and ``>= 0``."""
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    if value < 0:
        raise ValueError(
            f"{name} must be >= 0 (it weights the penalty λ‖X‖²); got {value}. Use ridge=0 for "
            "plain least squares."
        )


def check_rhs(xp: Backend, a: Any, b: Any) -> bool:
    """Check ``B`` against ``A`` for ``lstsq``; True if ``B`` is a (batch of) vector(s).

    ``B`` is a vector right-hand side when it is 1-d or shaped ``A.shape[:-1]`` (PyTorch's rule),
    otherwise a matrix (..., m, r).  The batch dimensions broadcast.
    """
    a_shape, b_shape = xp.shape(a), xp.shape(b)
    dtype_a, dtype_b = xp.dtype_name(a), xp.dtype_name(b)
    if dtype_b != dtype_a:
        raise TypeError(
            f"A has dtype {dtype_a} but B has dtype {dtype_b}; cast B to {dtype_a} (or both to "
            "one of float32, float64, complex64, complex128)."
        )
    vector = len(b_shape) == 1 or tuple(b_shape) == tuple(a_shape[:-1])
    if len(b_shape) == 0 or b_shape[-1 if vector else -2] != a_shape[-2]:
        raise ValueError(
            f"A has shape {a_shape} (..., m, n) and B has shape {b_shape}; B must be (..., m) or "
            f"(..., m, r) with m = {a_shape[-2]} rows, like A."
        )
    try:
        np.broadcast_shapes(a_shape[:-2], b_shape[:-1] if vector else b_shape[:-2])
    except ValueError:
        raise ValueError(
            f"A has shape {a_shape} and B has shape {b_shape}: their batch dimensions do not "
            "broadcast against each other."
        ) from None
    return vector


def resolve_method(
    xp: Backend, method: Any, *, mode: str, pivoting: bool, k: int, m: int, n: int
) -> str:
    """Validate ``method``; ``"auto"`` stays ``"auto"`` (CholeskyQR with a Householder fallback)
    only where CholeskyQR applies and pays off, and becomes ``"householder"`` elsewhere."""
    check_option("method", method, QR_METHODS)
    eligible = mode in ("reduced", "r") and not pivoting and k == n <= m
    if method == "cholesky" and not eligible:
        raise ValueError(
            "method='cholesky' computes the reduced QR (mode='reduced' or 'r') of a tall or square "
            f"matrix (m >= n) without pivoting or rank truncation; got shape (..., {m}, {n}), "
            f"mode={mode!r}, pivoting={pivoting}, rank={k}. Use method='householder' or 'auto'."
        )
    if method == "auto":
        tall_skinny = eligible and m >= _tuning.AUTO_CHOLESKY_ASPECT * n
        faster = xp.name in _tuning.CHOLESKY_QR_IS_FASTER
        return "auto" if tall_skinny and faster else "householder"
    return method


def check_factors(
    xp: Backend, arrays: dict[str, Any], left: str, right: str, *, complete_axis: int
) -> None:
    """``arrays[left]`` (..., m, k) and ``arrays[right]`` (..., k, n) can factor ``arrays["A"]``.

    ``k <= min(m, n)``, or ``k == A.shape[complete_axis]`` for complete-mode factors (m for QR,
    n for LQ).  Without this check a
    mis-shaped factor could broadcast silently into a wrong result.
    """
    shape = xp.shape(arrays["A"])
    m, n = check_matrix(xp, "A", arrays["A"])
    check_matrix(xp, left, arrays[left])
    check_matrix(xp, right, arrays[right])
    left_shape, right_shape = xp.shape(arrays[left]), xp.shape(arrays[right])
    k = left_shape[-1]
    if (
        left_shape[:-1] != shape[:-1]
        or right_shape != (*shape[:-2], k, n)
        or not (k <= min(m, n) or k == shape[complete_axis])
    ):
        raise ValueError(
            f"{left} and {right} must be factors of A, shaped (..., m, k) and (..., k, n) with "
            f"k <= min(m, n) (or complete-mode factors), for A of shape {shape}; got {left} "
            f"{left_shape} and {right} {right_shape}. Pass the factors diffqr returned for A."
        )


def check_shaped_like(xp: Backend, arrays: dict[str, Any], pairs: dict[str, str]) -> None:
    """Each given ``arrays[name]`` (cotangent or tangent) has the shape of ``arrays[like]``."""
    for name, like in pairs.items():
        if arrays[name] is None:
            continue
        check_matrix(xp, name, arrays[name])
        if xp.shape(arrays[name]) != xp.shape(arrays[like]):
            raise ValueError(
                f"{name} must have the shape of {like}, {xp.shape(arrays[like])}; got "
                f"{xp.shape(arrays[name])} (batch dimensions are not broadcast)"
            )
