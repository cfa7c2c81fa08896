"""JAX adapter: the array vocabulary over ``jax.Array``, and the autodiff hook ``apply``: each
primitive becomes a ``jax.custom_jvp`` whose tangent map is a JAX primitive
(:mod:`.jax_tangent`), so reverse mode runs diffqr's VJP rule.

Rank deficiency: eager ``grad``/``jvp`` raise :class:`diffqr.RankDeficientError` (the checks read
concrete values).  Under ``jit``, ``vmap`` or higher-order tracing the values are unknown, the
checks are skipped, and a derivative through a singular triangular block is non-finite
(``inf``/``nan``) or, for a nearly singular one, meaninglessly large.

Pivots come from LAPACK ``geqp3`` (:mod:`.jax_pivots`: natively, or by a host callback before
JAX 0.4.36); they are ``int64`` when ``jax_enable_x64`` is on, else ``int32`` (JAX's widest
integer then).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._host import take_columns
from .base import ANY_ARGUMENT, Backend, operand_names
from .jax_pivots import column_pivots
from .jax_tangent import custom_jvp


def _broadcast_batches(a: jax.Array, b: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``a`` and ``b`` with common leading batch axes (``triangular_solve`` does not broadcast)."""
    batch = jnp.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return jnp.broadcast_to(a, batch + a.shape[-2:]), jnp.broadcast_to(b, batch + b.shape[-2:])


class JaxBackend(Backend):
    name = "jax"
    numpy_operands = ANY_ARGUMENT  # as jnp.linalg.lstsq: NumPy in either position

    def promote_numpy_operands(self, arrays, numpy_names):
        # jnp.asarray (float64 → float32 with x64 off), then jnp's promotion of the operands.
        arrays = {k: jnp.asarray(v) if k in numpy_names else v for k, v in arrays.items()}
        operands = operand_names(arrays)
        dtype = jnp.result_type(*(arrays[k] for k in operands))
        return {k: v.astype(dtype) if k in operands else v for k, v in arrays.items()}

    def matmul(self, a, b):
        return jnp.matmul(a, b)

    def mH(self, a):
        return jnp.conj(jnp.swapaxes(a, -1, -2))

    def tril(self, a, k=0):
        return jnp.tril(a, k)

    def triu(self, a, k=0):
        return jnp.triu(a, k)

    def solve_triangular(self, r, b, *, upper, left=True, adjoint=False):
        r, b = _broadcast_batches(r, b)
        return lax.linalg.triangular_solve(
            r, b, left_side=left, lower=not upper, transpose_a=adjoint, conjugate_a=adjoint
        )

    def cholesky(self, a):
        return self.mH(jnp.linalg.cholesky(a))  # NaN where a is not positive definite

    def solve(self, a, b):
        return jnp.linalg.solve(a, b)

    def concat(self, arrays, axis):
        return jnp.concatenate(arrays, axis=axis)

    def zeros_like(self, a):
        return jnp.zeros_like(a)

    def eye_like(self, a, n):
        return jnp.eye(n, dtype=a.dtype)

    def real(self, a):
        return jnp.real(a)

    def where(self, condition, a, b):
        return jnp.where(condition, a, b)

    def max_abs(self, a):
        return jnp.max(jnp.abs(a), axis=(-2, -1), keepdims=True)

    def unless_flagged(self, flagged, outputs, fallback):
        return lax.cond(jnp.any(flagged), lambda _: tuple(fallback()), lambda x: x, tuple(outputs))

    def fused(self, function, *args, **options):
        key = (function, tuple(sorted(options.items())))
        if key not in _JITTED:
            _JITTED[key] = jax.jit(lambda *arrays: function(self, *arrays, **options))
        return _JITTED[key](*args)

    def to_host(self, a):
        if isinstance(a, jax.core.Tracer):
            return None
        return np.asarray(a)

    def dtype_name(self, a):
        return np.dtype(a.dtype).name

    def householder_qr(self, a, *, complete):
        return jnp.linalg.qr(a, mode="complete" if complete else "reduced")

    def qr_r(self, a):
        m, n = a.shape[-2:]
        if m < n and not _wide_qr_has_jvp():
            # R of a wide A is [R1 | Q1ᴴ A2] with A[:, :m] = Q1 R1, whose QR JAX differentiates
            # (the lstsq rules' auxiliary factor needs a derivative of this forward pass).
            q, r = jnp.linalg.qr(a[..., :m])
            return jnp.concatenate([r, self.matmul(self.mH(q), a[..., m:])], axis=-1)
        return jnp.linalg.qr(a, mode="r")

    def column_pivots(self, a, rank):
        return column_pivots(a, rank)

    def take_columns(self, a, perm):
        if 0 in a.shape:  # nothing to permute (old JAX's gather rejects empty operands)
            return a
        return take_columns(a, perm, jnp.take_along_axis)

    def apply(self, primitive, inputs, options):
        key = (primitive.name, tuple(sorted(options.items())))
        function = _FUNCTIONS.get(key)
        if function is None:
            function = _FUNCTIONS[key] = custom_jvp(primitive, options, self)
        return function(*inputs)


@functools.cache
def _wide_qr_has_jvp() -> bool:
    """Whether JAX differentiates the QR of a wide matrix (JAX 0.4.30 does not); detected once."""
    try:
        jax.jvp(lambda x: jnp.linalg.qr(x, mode="r"), (jnp.ones((1, 2)),), (jnp.ones((1, 2)),))
    except NotImplementedError:
        return False
    return True


BACKEND = JaxBackend()

# One custom_jvp per primitive and options: the options are closed over (static), so jit and vmap
# see only arrays, and each variant is traced once per shape.
_FUNCTIONS: dict[tuple, jax.custom_jvp] = {}
_JITTED: dict[tuple, object] = {}  # rules compiled whole by Backend.fused
