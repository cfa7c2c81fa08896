"""Distributed QR and least squares on row-sharded JAX arrays: the TSQR rules inside ``shard_map``.

Each function is a ``jax.custom_jvp`` whose tangent map is a ``linear_call``: the forward-mode
rule (one ``psum`` of an ``n × n`` matrix), with the reverse-mode rule as its transpose (again
one ``psum``), so ``jvp``, ``grad``, ``vjp`` and ``jit`` all run diffqr's rules, never JAX's
differentiation of the two QR levels.  First order only.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax
from jax.custom_derivatives import SymbolicZero, linear_call
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from .._backends.jax import BACKEND as XP
from .._rules import tsqr

Array = Any


def _shard_map(f, mesh, in_specs, out_specs):
    """``jax.shard_map`` (JAX ≥ 0.6) or ``jax.experimental.shard_map`` (older), unchecked: the
    outputs declared replicated are replicated (every device computes them from the same
    all-gathered or all-reduced values), and no autodiff runs through the map."""
    if hasattr(jax, "shard_map"):
        return jax.shard_map(f, mesh=mesh, in_specs=in_specs, out_specs=out_specs,
                             check_vma=False)
    from jax.experimental.shard_map import shard_map

    return shard_map(f, mesh, in_specs, out_specs, check_rep=False)


class _Collectives:
    """:class:`diffqr._rules.tsqr.Collectives` over one mesh axis, inside ``shard_map``."""

    def __init__(self, axis: str, size: int) -> None:
        self.axis, self.size = axis, size

    def all_gather(self, x):
        return lax.all_gather(x, self.axis, axis=0, tiled=True)

    def all_reduce(self, x):
        return lax.psum(x, self.axis)

    def own_block(self, stacked, rows):
        return lax.dynamic_slice_in_dim(stacked, lax.axis_index(self.axis) * rows, rows, axis=0)

    def head_selector(self, a, n, block_rows):
        first = lax.axis_index(self.axis) * block_rows  # shard_map's blocks are equal
        return (jnp.arange(n)[:, None] == first + jnp.arange(a.shape[0])[None, :]).astype(a.dtype)


def _conj(xs):
    return tuple(jnp.conj(x) for x in xs)


@functools.lru_cache(maxsize=64)
def _qr_function(mesh, axis: str):
    comm, rows, rep = _Collectives(axis, mesh.shape[axis]), P(axis, None), P()
    forward = _shard_map(lambda a: tsqr.qr_forward(XP, comm, a), mesh, (rows,), (rows, rep))
    tangent = _shard_map(lambda q, r, da: tsqr.qr_jvp(XP, comm, q, r, da), mesh,
                         (rows, rep, rows), (rows, rep))
    cotangent = _shard_map(
        lambda q, r, q_bar, r_bar: tsqr.qr_vjp(XP, comm, q, r, q_bar, r_bar, summed=False),
        mesh, (rows, rep, rows, rep), rows)

    def transpose(residuals, cotangents):
        # JAX transposes with the pairing Re Σ x·y, the rules with Re Σ conj(x)·y.
        q_bar, r_bar = (jnp.zeros(x.aval.shape, x.aval.dtype) if type(x).__name__ == "Zero"
                        else x for x, _ in zip(cotangents, residuals, strict=True))
        return jnp.conj(cotangent(*residuals, *_conj((q_bar, r_bar))))

    @jax.custom_jvp
    def qr(a):
        return forward(a)

    @qr.defjvp
    def qr_jvp(primals, tangents):
        q, r = qr(primals[0])
        dq, dr = linear_call(lambda res, da: tangent(*res, da), transpose, (q, r), tangents[0])
        return (q, r), (dq, dr)

    return jax.jit(qr)


@functools.lru_cache(maxsize=64)
def _lstsq_function(mesh, axis: str):
    comm, rows, rep = _Collectives(axis, mesh.shape[axis]), P(axis, None), P()
    forward = _shard_map(lambda a, b: tsqr.lstsq_forward(XP, comm, a, b), mesh, (rows, rows),
                         (rep, rep))
    cotangent = _shard_map(
        lambda a, b, x, r, x_bar: tsqr.lstsq_vjp(XP, None, a, b, x, r, x_bar), mesh,
        (rows, rows, rep, rep, rep), (rows, rows))

    @functools.cache
    def tangent(moving: tuple[bool, bool]):
        """The JVP map of the moving inputs only (``linear_call`` transposes every one)."""
        def local(a, b, x, r, *ts):
            ts = iter(ts)
            da, db = (next(ts) if m else None for m in moving)
            return tsqr.lstsq_jvp(XP, comm, a, b, x, r, da, db)

        return _shard_map(local, mesh, (rows, rows, rep, rep) + (rows,) * sum(moving), rep)

    def transpose(moving, residuals, x_bar):
        if type(x_bar).__name__ == "Zero":
            x_bar = jnp.zeros(x_bar.aval.shape, x_bar.aval.dtype)
        bars = _conj(cotangent(*residuals, jnp.conj(x_bar)))
        return tuple(c for c, m in zip(bars, moving, strict=True) if m)

    @jax.custom_jvp
    def lstsq(a, b):
        return forward(a, b)[0]

    @functools.partial(lstsq.defjvp, symbolic_zeros=True)
    def lstsq_jvp(primals, tangents):
        a, b = primals
        x, r = forward(a, b)
        moving = tuple(not isinstance(t, SymbolicZero) for t in tangents)
        if not any(moving):
            return x, jnp.zeros_like(x)
        dx = linear_call(lambda res, t: tangent(moving)(*res, *t),
                         functools.partial(transpose, moving), (a, b, x, r),
                         tuple(t for t, m in zip(tangents, moving, strict=True) if m))
        return x, dx

    return jax.jit(lstsq)


def _check(a: Array, name: str, mesh, axis: str) -> None:
    if axis not in mesh.axis_names:
        raise ValueError(f"axis={axis!r} is not an axis of mesh (its axes: {mesh.axis_names})")
    if a.ndim != 2:
        raise ValueError(f"{name} must be a matrix (2-D) with rows sharded over axis={axis!r}; "
                         f"got shape {a.shape}")
    size = mesh.shape[axis]
    if a.shape[0] % size:
        raise ValueError(f"{name} has {a.shape[0]} rows, not divisible by the {size} devices of "
                         f"axis={axis!r} (shard_map needs equal row blocks; pad with zero rows)")
    sharding = getattr(a, "sharding", None)
    spec = sharding.spec if isinstance(sharding, NamedSharding) else None
    if spec is not None and len(spec) > 1 and spec[1] is not None:
        raise ValueError(f"{name} is sharded over its columns ({spec}); distributed QR needs rows "
                         f"sharded over axis={axis!r} and whole columns: P({axis!r}, None)")


def _check_dtype(a: Array, name: str) -> None:
    if jnp.dtype(a.dtype).name not in ("float32", "float64", "complex64", "complex128"):
        raise TypeError(f"{name} must be float32, float64, complex64 or complex128; got "
                        f"{jnp.dtype(a.dtype).name}")


def qr(a: Array, mesh, axis: str) -> tuple[Array, Array]:
    """``(Q, R)`` of a row-sharded ``a``; see :func:`diffqr.distributed.qr`."""
    _check(a, "A", mesh, axis)
    _check_dtype(a, "A")
    m, n = a.shape
    if m < n:
        raise ValueError(f"A is wide ({m} × {n}): distributed QR needs global rows m >= columns n")
    return _qr_function(mesh, axis)(a)


def lstsq(a: Array, b: Array, mesh, axis: str) -> Array:
    """``X`` replicated; see :func:`diffqr.distributed.lstsq`."""
    _check(a, "A", mesh, axis)
    _check_dtype(a, "A")
    vector = b.ndim == 1
    if vector:
        b = b[:, None]
    _check(b, "B", mesh, axis)
    if b.shape[0] != a.shape[0]:
        raise ValueError(f"B has {b.shape[0]} rows but A has {a.shape[0]}: they must match")
    if b.dtype != a.dtype:
        raise TypeError(f"B has dtype {b.dtype} but A has {a.dtype}: they must match")
    m, n = a.shape
    if m < n:
        raise ValueError(f"A is wide ({m} × {n}): distributed lstsq needs global rows m >= "
                         "columns n")
    x = _lstsq_function(mesh, axis)(a, b)
    return x[:, 0] if vector else x
