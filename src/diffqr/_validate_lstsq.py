"""Validation of least-squares arguments: the checked, broadcast problem every ``lstsq`` function
works on (shapes, dtypes, the ridge), and the reverse broadcasting of its cotangents."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._backends.base import Backend
from ._dispatch import as_numpy_if_plain, backend_and_arrays
from ._validate import check_finite, check_matrix, check_rhs, check_ridge_value

Array = Any


@dataclass(frozen=True)
class LstsqProblem:
    """A validated least-squares problem: batches broadcast, ``B`` a matrix, ``λ`` (..., 1, 1)."""

    xp: Backend
    a: Array
    lam: Array | None
    b: Array
    vector: bool
    a_shape: tuple[int, ...]
    b_shape: tuple[int, ...]
    # The rules' further arguments (X, X̄, dA, ...), NumPy ones converted like B.
    others: dict[str, Array] = field(default_factory=dict)

    @property
    def dual(self) -> bool:
        return self.a_shape[-2] < self.a_shape[-1]

    def inputs(self) -> tuple[Array, ...]:
        return (self.a, self.b) if self.lam is None else (self.a, self.lam, self.b)

    def as_matrix(self, x: Array | None) -> Array | None:
        """A ``B``- or ``X``-like argument in matrix form."""
        return x if x is None or not self.vector else x[..., None]

    def as_rhs(self, x: Array) -> Array:
        """Back from matrix form to the shape of ``X`` (a vector when ``B`` was one)."""
        return x[..., 0] if self.vector else x

    def as_ridge(self, value: Array | float) -> Array:
        """``value`` (a number or a 0-d array) as the real ``(..., 1, 1)`` array of ``λ``."""
        return _ridge_like(self.xp, self.a, value)


def _ridge_like(xp: Backend, a: Array, value: Array | float) -> Array:
    """:meth:`LstsqProblem.as_ridge` for ``a``: a function, so that ``lstsq_problem`` calls no
    method of the dataclass it is building (paddle's ``to_static`` cannot trace that call)."""
    if isinstance(value, np.ndarray):  # 1 × 1: NumPy < 2 would not promote by a 0-d array
        value = value.reshape(1, 1)
    return xp.real(xp.zeros_like(a[..., :1, :1])) + value


def _ridge_argument(ridge: Any) -> Array | float:
    """A Python/NumPy real number as ``float``; an array as it is (checked later)."""
    if isinstance(ridge, numbers.Real) and not isinstance(ridge, bool):
        check_ridge_value(float(ridge))
        return float(ridge)
    if ridge is None or isinstance(ridge, (bool, np.bool_, str)):
        raise TypeError(f"ridge must be a real number or a 0-d real array; got {ridge!r}")
    ridge = as_numpy_if_plain(ridge)
    if isinstance(ridge, np.ndarray) and ridge.dtype.kind != "f":  # before any conversion
        raise TypeError(f"ridge must be real floating point; got dtype {ridge.dtype}")
    return ridge


def broadcast_batch(xp: Backend, x: Array, *templates: Array) -> Array:
    """``x`` (..., p, q) broadcast to the batch dimensions of every template (..., ·, ·)."""
    for t in templates:
        if xp.shape(x)[:-2] != np.broadcast_shapes(xp.shape(x)[:-2], xp.shape(t)[:-2]):
            x = x + xp.zeros_like(t[..., :1, :1])
    return x


def lstsq_problem(A: Array, B: Array, ridge: Any, check_finite_: bool, **others: Array
                   ) -> LstsqProblem:
    A, B = as_numpy_if_plain(A), as_numpy_if_plain(B)
    ridge = _ridge_argument(ridge)
    ridge_array = None if isinstance(ridge, float) else ridge
    xp, arrays = backend_and_arrays(A=A, B=B, ridge=ridge_array, **others)
    A, B, ridge_array = arrays.pop("A"), arrays.pop("B"), arrays.pop("ridge")
    others = arrays
    if ridge_array is not None:
        ridge = ridge_array
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
    a, b = broadcast_batch(xp, A, b), broadcast_batch(xp, b, A)
    problem = LstsqProblem(xp, a, None, b, vector, xp.shape(A), xp.shape(B), others)
    if ridge_array is None and ridge == 0:
        return problem
    lam = _ridge_like(xp, a, ridge)
    if xp.dtype_name(lam) != real_dtype:
        raise TypeError(f"ridge has dtype {xp.dtype_name(ridge_array)}; pass it as "
                        f"{real_dtype} to match A of dtype {xp.dtype_name(A)}")
    return LstsqProblem(xp, a, lam, b, vector, xp.shape(A), xp.shape(B), others)


def unbroadcast(xp: Backend, x: Array, shape: tuple[int, ...]) -> Array:
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


def ridge_tangent(d_ridge: Any) -> Array | float:
    if isinstance(d_ridge, numbers.Real) and not isinstance(d_ridge, bool):
        return float(d_ridge)
    return as_numpy_if_plain(d_ridge)
