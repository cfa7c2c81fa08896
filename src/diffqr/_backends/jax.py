"""JAX adapter: each primitive becomes a ``jax.custom_jvp`` running the shared forward-mode rule.

Reverse mode comes from JAX transposing that rule (it is linear in the tangents and built from
transposable operations), so ``grad``, ``jvp``, ``vjp``, ``jit``, ``vmap`` and higher orders all
work, and the complex cotangent convention is JAX's own.  Inside the JVP rule the outputs come from
the ``custom_jvp`` function itself, so differentiating the rule again uses the rule.

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
from jax.custom_derivatives import SymbolicZero

from .base import Backend
from .numpy import take_columns


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
            function = _FUNCTIONS[key] = _custom_jvp(primitive, options)
        return function(*inputs)


BACKEND = JaxBackend()

# One custom_jvp per primitive and options: the options are closed over (static), so jit and vmap
# see only arrays, and each variant is traced once per shape.
_FUNCTIONS: dict[tuple, jax.custom_jvp] = {}


def _custom_jvp(primitive, options: dict) -> jax.custom_jvp:
    auxiliary = primitive.auxiliary  # trailing outputs the rules use but never differentiate

    def forward(*inputs):
        return tuple(primitive.forward(BACKEND, *inputs, **options))

    @jax.custom_jvp
    def function(*inputs):
        return forward(*inputs)

    def jvp(primals, tangents):
        outputs = function(*primals)
        # Known-zero tangents reach the rules as None, which skip their terms.
        tangents = tuple(None if isinstance(t, SymbolicZero) else t for t in tangents)
        out_tangents = primitive.jvp(BACKEND, primals, outputs, tangents, **options)
        out_tangents = tuple(jnp.zeros_like(y) if t is None else t
                             for y, t in zip(outputs, out_tangents, strict=False))
        if auxiliary:
            out_tangents += _auxiliary_tangents(forward, auxiliary, primals, tangents)
        return outputs, out_tangents

    function.defjvp(jvp, symbolic_zeros=True)
    function.__name__ = function.__qualname__ = f"diffqr_{primitive.name}"
    return function


def _auxiliary_tangents(forward, count: int, primals: tuple, tangents: tuple) -> tuple:
    """Tangents of the auxiliary outputs, by JAX's own differentiation of the forward pass.

    The rules never use them at first order.  They matter one order up: when JAX linearizes a
    rule, a nested primitive applied to tangents is inlined (partial evaluation drops custom JVP
    rules), so its forward pass, which solves with an auxiliary factor, is differentiated
    natively by the outer transformation, and that needs the factor's true tangent.  Under jit
    the native JVP is dead code at first order; eagerly it costs one more forward pass.  Inputs
    with a known-zero tangent stay constants (no ``inf · 0`` from ``√λ`` at ``λ = 0``).
    """
    moving = [i for i, t in enumerate(tangents) if t is not None]

    def auxiliary_outputs(*varying):
        inputs = list(primals)
        for i, x in zip(moving, varying, strict=True):
            inputs[i] = x
        return forward(*inputs)[-count:]

    return tuple(jax.jvp(auxiliary_outputs, tuple(primals[i] for i in moving),
                         tuple(tangents[i] for i in moving))[1])
