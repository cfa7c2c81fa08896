"""JAX autodiff hook: each primitive as a ``jax.custom_jvp`` whose tangent map is the JAX
primitive ``diffqr_tangent``.

The tangent map ``dA ↦ (dQ, dR)`` evaluates the shared forward-mode rule, and its transpose rule
is the shared reverse-mode rule, so reverse mode runs diffqr's explicit VJP (3 products and one
solve for QR) instead of JAX's transpose of the JVP (JAX's own rule, about one product more).  The
primitive also has a JVP rule (higher orders), a batching rule (``vmap``, ``jacfwd``) and a
lowering, so ``grad``, ``jvp``, ``vjp``, ``jit``, ``vmap`` and higher orders all work.  Inside the
JVP rule the outputs come from the ``custom_jvp`` function itself, so differentiating the rule
again uses the rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero
from jax.extend.core import Primitive as JaxPrimitive
from jax.interpreters import ad, batching, mlir


def custom_jvp(primitive: Any, options: dict, backend: Any) -> jax.custom_jvp:
    """``primitive`` with these (static) options as a ``jax.custom_jvp`` over its inputs."""
    auxiliary = primitive.auxiliary  # trailing outputs the rules use but never differentiate

    def forward(*inputs):
        return tuple(backend.forward(primitive, inputs, options))

    @jax.custom_jvp
    def function(*inputs):
        return forward(*inputs)

    def jvp(primals, tangents):
        outputs = function(*primals)
        # Known-zero tangents reach the rules as None, which skip their terms.
        tangents = tuple(None if isinstance(t, SymbolicZero) else t for t in tangents)
        rule = _TangentRule(primitive, backend, tuple(sorted(options.items())),
                            tuple(t is not None for t in tangents))
        if any(rule.moving):
            out_tangents = tuple(_TANGENT.bind(*primals, *outputs,
                                               *(t for t in tangents if t is not None),
                                               rule=rule))
        else:
            out_tangents = tuple(jnp.zeros_like(y) for y in rule.differentiable(outputs))
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


# ---------------------------------------------------------------------- the tangent primitive
# diffqr_tangent(*inputs, *outputs, *moving tangents; rule) = the tangents of the differentiable
# outputs.  Linear in the tangents; the inputs and outputs are residuals.


@dataclass(frozen=True)
class _TangentRule:
    """Static parameters of ``diffqr_tangent``: which primitive, its options, which inputs move."""

    primitive: object
    backend: object
    options: tuple
    moving: tuple[bool, ...]

    def split(self, args) -> tuple[tuple, tuple, tuple]:
        """``args`` as (inputs, outputs, moving tangents)."""
        n_in = len(self.moving)
        n_out = len(args) - n_in - sum(self.moving)
        return tuple(args[:n_in]), tuple(args[n_in:n_in + n_out]), tuple(args[n_in + n_out:])

    def differentiable(self, outputs: tuple) -> tuple:
        return outputs[:len(outputs) - self.primitive.auxiliary]

    def all_tangents(self, moving: tuple) -> tuple:
        """One tangent per input, ``None`` for those that do not move."""
        values = iter(moving)
        return tuple(next(values) if m else None for m in self.moving)


def _tangent_impl(*args, rule: _TangentRule) -> list:
    inputs, outputs, moving = rule.split(args)
    out = rule.primitive.jvp(rule.backend, inputs, outputs, rule.all_tangents(moving),
                             **dict(rule.options))
    return [jnp.zeros_like(y) if t is None else t
            for y, t in zip(rule.differentiable(outputs), out, strict=False)]


def _tangent_abstract_eval(*avals, rule: _TangentRule) -> list:
    _, outputs, _ = rule.split(avals)
    return [jax.core.ShapedArray(y.shape, y.dtype) for y in rule.differentiable(outputs)]


def _tangent_transpose(cotangents, *args, rule: _TangentRule) -> list:
    """The shared VJP rule.  JAX transposes with the bilinear pairing ``Re Σ x·y`` where the
    rules use ``Re Σ conj(x)·y``, hence the conjugations around it (no-ops for real dtypes)."""
    inputs, outputs, _ = rule.split(args)
    assert not any(ad.is_undefined_primal(x) for x in inputs + outputs)
    cotangents = tuple(None if type(c) is ad.Zero else jnp.conj(c) for c in cotangents)
    if all(c is None for c in cotangents):
        input_cotangents = (None,) * len(inputs)
    else:
        input_cotangents = rule.primitive.vjp(rule.backend, inputs, outputs, cotangents,
                                              **dict(rule.options))
    result = [None] * (len(inputs) + len(outputs))
    for x, c, m in zip(inputs, input_cotangents, rule.moving, strict=True):
        if m:
            result.append(ad.Zero(x.aval) if c is None else jnp.conj(c))
    return result


def _tangent_jvp(primals, tangents, *, rule: _TangentRule):
    """Linear in the moving tangents ``t``, not in the residuals ``p``:
    ``d(J(p) t) = J(p) dt + (∂_p J(p) dp) t``, the second term by JAX's own differentiation of
    the forward-mode rule (it is needed only one order up)."""
    out = _TANGENT.bind(*primals, rule=rule)
    n_res = len(primals) - sum(rule.moving)
    residuals = primals[:n_res]
    d_residuals, d_linear = tangents[:n_res], tangents[n_res:]
    terms = []
    if any(type(t) is not ad.Zero for t in d_linear):
        d_linear = [ad.instantiate_zeros(t) for t in d_linear]
        terms.append(_TANGENT.bind(*residuals, *d_linear, rule=rule))
    varying = [i for i, t in enumerate(d_residuals) if type(t) is not ad.Zero]
    if varying:
        def of_residuals(*values):
            args = list(primals)
            for i, x in zip(varying, values, strict=True):
                args[i] = x
            return _tangent_impl(*args, rule=rule)

        terms.append(jax.jvp(of_residuals, tuple(primals[i] for i in varying),
                             tuple(d_residuals[i] for i in varying))[1])
    if not terms:
        return out, [ad.Zero(y.aval) for y in out]
    return out, [sum(parts[1:], parts[0]) for parts in zip(*terms, strict=True)]


def _tangent_batch(args, dims, *, rule: _TangentRule):
    """The rules take leading batch axes: move the mapped axes first, broadcast the others."""
    size = next(x.shape[d] for x, d in zip(args, dims, strict=True) if d is not None)
    args = [jnp.broadcast_to(x, (size, *x.shape)) if d is None
            else jnp.moveaxis(x, d, 0) for x, d in zip(args, dims, strict=True)]
    out = _TANGENT.bind(*args, rule=rule)
    return out, [0] * len(out)


_TANGENT = JaxPrimitive("diffqr_tangent")
_TANGENT.multiple_results = True
_TANGENT.def_impl(_tangent_impl)
_TANGENT.def_abstract_eval(_tangent_abstract_eval)
ad.primitive_jvps[_TANGENT] = _tangent_jvp
ad.primitive_transposes[_TANGENT] = _tangent_transpose
batching.primitive_batchers[_TANGENT] = _tangent_batch
mlir.register_lowering(_TANGENT, mlir.lower_fun(_tangent_impl, multiple_results=True))
