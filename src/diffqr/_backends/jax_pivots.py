"""Column pivots for JAX: LAPACK ``geqp3`` through ``lax.linalg.qr(..., pivoting=True)`` where
this JAX has it (0.4.36 and later), else the host helper through ``jax.pure_callback``.

Both are jit- and vmap-able and return a constant permutation (``stop_gradient``), so the
derivative rules are the same.  The choice is by feature detection, not by version string.
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._host import householder_pivots

NATIVE_PIVOTING = "pivoting" in inspect.signature(lax.linalg.qr).parameters
# The callback gets the whole batch (leading axes) in one call: ``vmap_method`` in newer JAX,
# ``vectorized=True`` before it existed.
_CALLBACK_PARAMETERS = inspect.signature(jax.pure_callback).parameters
_BATCHED_CALLBACK = ({"vmap_method": "broadcast_all"} if "vmap_method" in _CALLBACK_PARAMETERS
                     else {"vectorized": True})


def geqp3_pivots(a: jax.Array) -> jax.Array:
    """The ``geqp3`` permutation ``(..., n)`` of a non-empty batch ``a``, as JAX's pivot dtype
    (int64 with x64 on, else int32)."""
    dtype = jax.dtypes.canonicalize_dtype(np.int64)
    if NATIVE_PIVOTING:  # read at call time: the tests switch it to test the callback
        return lax.linalg.qr(a, pivoting=True, full_matrices=False)[2].astype(dtype)
    shape = jax.ShapeDtypeStruct((*a.shape[:-2], a.shape[-1]), dtype)
    return jax.pure_callback(lambda x: householder_pivots(np.asarray(x)).astype(dtype),
                             shape, a, **_BATCHED_CALLBACK)


def column_pivots(a: jax.Array, rank: int | None) -> jax.Array:
    """Column-pivoting permutation of ``a`` (see ``Backend.column_pivots``), constant under
    every transformation."""
    a = lax.stop_gradient(a)
    if 0 in a.shape[-2:]:
        perm = jnp.broadcast_to(jnp.arange(a.shape[-1]), (*a.shape[:-2], a.shape[-1]))
    else:
        perm = geqp3_pivots(a)
    if rank is not None:
        # As householder_pivots: trailing pivots sorted, so P is locally constant in A.
        perm = jnp.concatenate([perm[..., :rank], jnp.sort(perm[..., rank:], axis=-1)], -1)
    return perm.astype(jax.dtypes.canonicalize_dtype(np.int64))
