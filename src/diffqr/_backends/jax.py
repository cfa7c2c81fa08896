"""JAX adapter: the array vocabulary over ``jax.Array``, and the autodiff hook ``apply``: each
primitive becomes a ``jax.custom_jvp`` whose tangent map is a JAX primitive
(:mod:`.jax_tangent`), so reverse mode runs diffqr's VJP rule.

Rank deficiency: eager ``grad``/``jvp`` raise :class:`diffqr.RankDeficientError` (the checks read
concrete values).  Under ``jit``, ``vmap`` or higher-order tracing the values are unknown, the
checks are skipped, and a derivative through a singular triangular block is non-finite
(``inf``/``nan``) or, for a nearly singular one, meaninglessly large.

Pivots are ``int64`` when ``jax_enable_x64`` is on, else ``int32`` (JAX's widest integer then).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._host import take_columns
from .base import Backend
from .jax_tangent import custom_jvp


def _broadcast_batches(a: jax.Array, b: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``a`` and ``b`` with common leading batch axes (``triangular_solve`` does not broadcast)."""
    batch = jnp.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return jnp.broadcast_to(a, batch + a.shape[-2:]), jnp.broadcast_to(b, batch + b.shape[-2:])


class JaxBackend(Backend):
    name = "jax"

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

    def to_host(self, a):
        if isinstance(a, jax.core.Tracer):
            return None
        return np.asarray(a)

    def dtype_name(self, a):
        return np.dtype(a.dtype).name

    def householder_qr(self, a, *, complete):
        return jnp.linalg.qr(a, mode="complete" if complete else "reduced")

    def qr_r(self, a):
        return jnp.linalg.qr(a, mode="r")

    def column_pivots(self, a, rank):
        # LAPACK geqp3 (batched, jit- and vmap-able); only the permutation is kept, and
        # stop_gradient makes it a constant for every transformation.
        a = lax.stop_gradient(a)
        if 0 in a.shape[-2:]:
            perm = jnp.broadcast_to(jnp.arange(a.shape[-1]), (*a.shape[:-2], a.shape[-1]))
        else:
            perm = lax.linalg.qr(a, pivoting=True, full_matrices=False)[2]
        if rank is not None:
            # As householder_pivots: trailing pivots sorted, so P is locally constant in A.
            perm = jnp.concatenate([perm[..., :rank], jnp.sort(perm[..., rank:], axis=-1)], -1)
        return perm.astype(jax.dtypes.canonicalize_dtype(np.int64))

    def take_columns(self, a, perm):
        return take_columns(a, perm, jnp.take_along_axis)

    def apply(self, primitive, inputs, options):
        key = (primitive.name, tuple(sorted(options.items())))
        function = _FUNCTIONS.get(key)
        if function is None:
            function = _FUNCTIONS[key] = custom_jvp(primitive, options, self)
        return function(*inputs)


BACKEND = JaxBackend()

# One custom_jvp per primitive and options: the options are closed over (static), so jit and vmap
# see only arrays, and each variant is traced once per shape.
_FUNCTIONS: dict[tuple, jax.custom_jvp] = {}
