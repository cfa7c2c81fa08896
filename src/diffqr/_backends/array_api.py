"""Array API adapter: any array whose namespace diffqr does not handle natively (array-api-strict,
CuPy, ...), through the standard's operations in that namespace, on the array's device.

No autodiff here (the explicit rules ``qr_vjp`` ... are called as for NumPy).  The linalg
extension's ``qr`` is the forward pass; pivots and triangular solves come from
:mod:`.array_api_linalg` unless the namespace has its own (CuPy: ``cupyx.scipy.linalg``).
Values are read on the host only as a single ``bool`` (is ``A`` finite), a Python scalar (a 0-d
ridge), ``|diag R|`` (k numbers per matrix, for the rank-deficiency error) and the singular
values of ``Q[:n, :n] − I`` (complete mode's derivative), all computed on the device.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from . import array_api_linalg as linalg
from ._host import dlpack_copy_to_host
from .base import Array, Backend

_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float16", "float32", "float64", "complex64", "complex128")


def namespace_of(x: Any) -> Any:
    """The Array API namespace of ``x`` (array-api-compat's wrapper where it has one)."""
    try:
        import array_api_compat
    except ImportError:  # the standard's own protocol still names the namespace
        return x.__array_namespace__()
    return array_api_compat.array_namespace(x)


class ArrayApiBackend(Backend):
    """The vocabulary over one Array API namespace ``ns``."""

    def __init__(self, ns: Any):
        self.ns = ns
        self.name = f"array_api:{ns.__name__}"
        self._dtype_names = {getattr(ns, d): d for d in _DTYPES if hasattr(ns, d)}
        self._native_solve = linalg.native_triangular_solver(ns)

    def _complex(self, a: Array) -> bool:
        return self.ns.isdtype(a.dtype, "complex floating")

    def mH(self, a):
        t = self.ns.matrix_transpose(a)
        return self.ns.conj(t) if self._complex(t) else t

    def tril(self, a, k=0):
        return self.ns.tril(a, k=k)

    def triu(self, a, k=0):
        return self.ns.triu(a, k=k)

    def solve_triangular(self, r, b, *, upper, left=True, adjoint=False):
        if self._native_solve is not None and r.ndim == b.ndim == 2:
            return self._native_solve(r, b, upper=upper, left=left, adjoint=adjoint)
        return linalg.solve_triangular(self.ns, r, b, upper=upper, left=left, adjoint=adjoint)

    def cholesky(self, a):
        try:
            return self.ns.linalg.cholesky(a, upper=True)
        except Exception:  # each namespace has its own LinAlgError: not positive definite
            return self.ns.full_like(a, float("nan"))

    def solve(self, a, b):
        return self.ns.linalg.solve(a, b)

    def concat(self, arrays, axis):
        return self.ns.concat(arrays, axis=axis)

    def sum(self, a, axis):
        return self.ns.sum(a, axis=axis)

    def zeros_like(self, a):
        return self.ns.zeros_like(a)

    def eye_like(self, a, n):
        return self.ns.eye(n, dtype=a.dtype, device=a.device)

    def real(self, a):
        return self.ns.real(a) if self._complex(a) else a

    def where(self, condition, a, b):
        return self.ns.where(condition, a, b)

    def to_host(self, a):
        # Only a 0-d array (a ridge) crosses to the host, as a Python scalar: the standard's
        # __float__/__complex__ work on every device, while a whole array may refuse to.
        if a.ndim == 0:
            return np.asarray(complex(a) if self._complex(a) else float(a))
        return None

    def deferred_finite_check(self, a, message):
        if not bool(self.ns.all(self.ns.isfinite(a))):  # reduced on the device: one bool back
            raise ValueError(message)
        return a

    def abs_diagonal_on_host(self, a):
        return _small_to_host(self.ns, self.ns.abs(self.ns.linalg.diagonal(a)))

    def singular_values_on_host(self, a):
        return _small_to_host(self.ns, self.ns.linalg.svdvals(a)) if a.size else None

    def dtype_name(self, a):
        return self._dtype_names.get(a.dtype, str(a.dtype))

    def householder_qr(self, a, *, complete):
        return tuple(self.ns.linalg.qr(a, mode="complete" if complete else "reduced"))

    def column_pivots(self, a, rank):
        return linalg.householder_pivots(self.ns, a, rank)

    def take_columns(self, a, perm):
        index = self.ns.broadcast_to(perm[..., None, :], a.shape)
        return self.ns.take_along_axis(a, index, axis=-1)

    def apply(self, primitive, inputs, options):
        # No autodiff in the standard: the rules are called explicitly (diffqr.qr_vjp, ...).
        return primitive.forward(self, *inputs, **options)


def _small_to_host(ns: Any, d: Array) -> np.ndarray | None:
    """A small array (``|diag R|``) as NumPy through DLPack (a copy to the CPU where the device
    is another), or ``None`` when the namespace cannot export it (the check is then skipped)."""
    try:
        return dlpack_copy_to_host(d)
    except Exception:  # no DLPack to the CPU: no eager check, as under tracing
        return None


@functools.cache
def backend_of_namespace(ns: Any) -> ArrayApiBackend:
    return ArrayApiBackend(ns)


def backend_for_arrays(arrays: dict[str, Any]) -> ArrayApiBackend:
    """The adapter for arrays of one namespace (and one device); ``TypeError`` otherwise."""
    spaces = {name: namespace_of(x) for name, x in arrays.items()}
    if len({id(ns) for ns in spaces.values()}) > 1:
        listing = ", ".join(f"{k} is from {ns.__name__}" for k, ns in spaces.items())
        raise TypeError(f"all arrays must come from one array namespace, but {listing}")
    devices = {name: x.device for name, x in arrays.items() if hasattr(x, "device")}
    if len({repr(d) for d in devices.values()}) > 1:
        listing = ", ".join(f"{k} is on {d!r}" for k, d in devices.items())
        raise ValueError(f"all arrays must be on one device, but {listing}; move them first")
    ns = next(iter(spaces.values()))
    # Checked on every call: array-api-strict can switch its extensions off at run time.
    if not hasattr(ns, "linalg") or not hasattr(ns.linalg, "qr"):
        raise TypeError(
            f"the array namespace {ns.__name__} has no linalg extension (linalg.qr), which "
            "diffqr needs; enable it, or convert the arrays to NumPy, PyTorch, JAX or CuPy"
        )
    return backend_of_namespace(ns)
