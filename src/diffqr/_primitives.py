"""Differentiable primitives: a native forward plus the shared VJP and JVP rules.

Each framework adapter turns a :class:`Primitive` into a function of its own autodiff system with
one generic hook (``Backend.apply``): a ``torch.autograd.Function``, a ``jax.custom_jvp``, a
``tf.custom_gradient``, an ``mx.autograd.Function``.  Adding a primitive here adds it to every
framework at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._backends.base import Backend
from ._cholesky_qr import cholesky_qr
from ._rules import qr as qr_rules

Array = Any
Arrays = tuple[Array, ...]


@dataclass(frozen=True, eq=False)
class Primitive:
    """A function of arrays with its derivative rules.

    ``forward(xp, *inputs, **options) -> outputs`` uses native, non-differentiated kernels.
    ``vjp(xp, inputs, outputs, cotangents, **options) -> one cotangent per input`` and
    ``jvp(xp, inputs, outputs, tangents, **options) -> one tangent per output`` are written over the
    vocabulary; ``None`` stands for a zero cotangent/tangent on the way in.
    """

    name: str
    forward: Callable[..., Arrays]
    vjp: Callable[..., Arrays]
    jvp: Callable[..., Arrays]
    num_inputs: int
    option_names: tuple[str, ...]


def _qr_forward(xp: Backend, a: Array, *, mode: str, rank: int, method: str) -> Arrays:
    if method != "householder":  # "cholesky" or "auto" (the API checked the shape and options)
        factors = cholesky_qr(xp, a)
        if factors is not None:
            return factors
        if method == "cholesky":
            raise ValueError(
                "method='cholesky' cannot factor A: it is numerically rank deficient (condition "
                "number near 1/eps), or its values are not known here (jit/graph tracing). "
                "Use method='householder' (or 'auto', which falls back to it)."
            )
    q, r = xp.householder_qr(a, complete=mode == "complete")
    if rank < min(xp.shape(a)[-2:]):
        q, r = q[..., :, :rank], r[..., :rank, :]
    return q, r


def _qr_vjp(xp: Backend, inputs: Arrays, outputs: Arrays, cotangents: Arrays, **_: Any) -> Arrays:
    return (qr_rules.qr_vjp(xp, inputs[0], *outputs, *cotangents),)


def _qr_jvp(xp: Backend, inputs: Arrays, outputs: Arrays, tangents: Arrays, **_: Any) -> Arrays:
    if tangents[0] is None:
        return tuple(xp.zeros_like(x) for x in outputs)
    return qr_rules.qr_jvp(xp, inputs[0], *outputs, tangents[0])


QR = Primitive("qr", _qr_forward, _qr_vjp, _qr_jvp, num_inputs=1,
               option_names=("mode", "rank", "method"))

# Every primitive, so adapters can build their hooks up front (outside any tracing).
PRIMITIVES = (QR,)
