"""TensorFlow autodiff hook: a primitive's outputs recorded as one op, differentiated by the
primitive's VJP (``GradientTape``, ``tf.gradients``) and JVP (``tf.autodiff.ForwardAccumulator``).

This is what ``tf.custom_gradient`` does through the same recording hook, plus a forward-mode
rule and the gradient registration symbolic ``tf.gradients`` needs inside graphs.
"""

from __future__ import annotations

import itertools
from typing import Any

import tensorflow as tf

# The recording hook under tf.custom_gradient, which also takes a forward-mode rule.
from tensorflow.python.eager.record import could_possibly_record, record_operation, stop_recording

_OVERRIDE_IDS = itertools.count()


def connect(primitive: Any, backend: Any, inputs: tuple, outputs: tuple, options: dict) -> tuple:
    """``outputs`` (values already computed) tied to ``inputs`` by the primitive's VJP and JVP.

    This is what ``tf.custom_gradient`` does, plus a forward-mode rule: through
    ``tf.custom_gradient``, ``ForwardAccumulator`` transposes the backward function eagerly but
    inside ``tf.function`` silently returns zero tangents (it sees only the identity op that
    ``custom_gradient`` inserts).  The rules use the outputs through a fresh ``connect`` whenever
    a tape or accumulator is active, so those differentiate the rules again (higher order)
    without recomputing the decomposition.  The primitive's auxiliary outputs stay untied:
    constants to every tape and accumulator.
    """
    count = len(outputs) - primitive.auxiliary
    auxiliary = outputs[count:]

    def tied_outputs():
        return (connect(primitive, backend, inputs, outputs, options) if could_possibly_record()
                else outputs)

    def backward(*cotangents):
        return primitive.vjp(backend, inputs, tied_outputs(), cotangents[:count], **options)

    def forward(*tangents):
        return primitive.jvp(backend, inputs, tied_outputs(), tangents, **options)

    name = f"diffqr_{primitive.name}"
    with stop_recording():
        if tf.executing_eagerly():
            tied = [tf.identity(y) for y in outputs[:count]]
        else:
            # Symbolic tf.gradients follows graph edges: route them from the outputs to the
            # inputs through an IdentityN whose gradient is the primitive's VJP.
            override = f"{name}_{next(_OVERRIDE_IDS)}"
            tf.RegisterGradient(override)(
                lambda _, *cotangents: [None] * count + list(backward(*cotangents))
            )
            with tf.compat.v1.get_default_graph().gradient_override_map({"IdentityN": override}):
                tied = tf.identity_n([*outputs[:count], *inputs])[:count]
    record_operation(name, tied, list(inputs), backward, forward)
    return (*tied, *auxiliary)
