"""PyTorch autodiff hook: a primitive as ``torch.autograd.Function`` classes running its rules.

The rules run on torch tensors through the adapter's vocabulary, so autograd records them too
(double backward, forward-over-reverse), and ``torch.func`` and ``torch.compile`` trace them.
``generate_vmap_rule`` lets ``torch.func.vmap`` batch the functions.
"""

from __future__ import annotations

from typing import Any

import torch

# The adapter the rules run on: a module global, not a closure variable, so that dynamo reaches it
# through this module (it cannot wrap the adapter object found in a closure).
BACKEND: Any = None


def autograd_functions(primitive: Any, backend: Any) -> tuple[type[torch.autograd.Function], ...]:
    """The primitive as ``autograd.Function``: without and with forward mode, running its rules on
    ``backend`` (one adapter for every primitive).

    Options (strings, ints) are trailing non-tensor arguments, so vmap and compile see them as
    constants.
    """
    global BACKEND
    BACKEND = backend
    # Plain functions and tuples in the closures: dynamo cannot wrap the Primitive dataclass.
    n, names = primitive.num_inputs, primitive.option_names
    forward_rule, vjp_rule, jvp_rule = primitive.forward, primitive.vjp, primitive.jvp
    no_options = (None,) * len(names)
    auxiliary = primitive.auxiliary  # trailing outputs the rules use but never differentiate

    def split(saved):
        return saved[:n], saved[n:]

    class Function(torch.autograd.Function):
        generate_vmap_rule = True

        @staticmethod
        def forward(*args):
            options = dict(zip(names, args[n:], strict=True))
            outputs = forward_rule(BACKEND, *args[:n], **options)
            # Outputs of a Function must not be views of each other or of inputs (forward AD).
            return tuple(x.clone() if x._base is not None else x for x in outputs)

        @staticmethod
        def setup_context(ctx, inputs, outputs):
            ctx.options = dict(zip(names, inputs[n:], strict=True))
            ctx.set_materialize_grads(False)
            if auxiliary:
                ctx.mark_non_differentiable(*outputs[len(outputs) - auxiliary :])
            ctx.save_for_backward(*inputs[:n], *outputs)
            ctx.save_for_forward(*inputs[:n], *outputs)

        @staticmethod
        def backward(ctx, *cotangents):
            inputs, outputs = split(ctx.saved_tensors)
            cotangents = cotangents[: len(cotangents) - auxiliary]
            return *vjp_rule(BACKEND, inputs, outputs, cotangents, **ctx.options), *no_options

    class FunctionWithJvp(Function):
        @staticmethod
        def jvp(ctx, *tangents):
            inputs, outputs = split(ctx.saved_tensors)
            tangents = jvp_rule(BACKEND, inputs, outputs, tangents[:n], **ctx.options)
            return *tangents, *(None,) * auxiliary

    Function.__name__ = Function.__qualname__ = f"diffqr_{primitive.name}"
    FunctionWithJvp.__name__ = FunctionWithJvp.__qualname__ = f"diffqr_{primitive.name}_jvp"
    return Function, FunctionWithJvp
