"""TensorFlow harness: ``GradientTape`` for the VJP, ``ForwardAccumulator`` for forward mode.

TensorFlow's complex cotangents already follow PyTorch's convention (``X̄ = ∂ℓ/∂Re X + i ∂ℓ/∂Im X``,
e.g. the gradient of ``|z|²`` is ``2z``), so ``output_gradients`` and the returned gradients need
no conjugation.
"""

from __future__ import annotations

import logging

import numpy as np
import tensorflow as tf

from .harness import Harness


class TensorFlowHarness(Harness):
    name = "tensorflow"
    module = "tensorflow"

    def setup(self):
        # ForwardAccumulator logs a warning for every complex primal; its complex JVPs are right.
        tf.get_logger().setLevel(logging.ERROR)

    def asarray(self, x):
        return tf.constant(np.array(x))

    def to_numpy(self, x):
        return x.numpy()

    def vjp(self, fn, inputs, cotangents):
        xs = [self.asarray(x) for x in inputs]
        with tf.GradientTape() as tape:
            tape.watch(xs)
            ys = fn(*xs)
        grads = tape.gradient(ys, xs, output_gradients=[self.asarray(c) for c in cotangents])
        return [None if g is None else self.to_numpy(tf.convert_to_tensor(g)) for g in grads]

    def jvp(self, fn, inputs, tangents):
        xs = [self.asarray(x) for x in inputs]
        with tf.autodiff.ForwardAccumulator(xs, [self.asarray(t) for t in tangents]) as acc:
            ys = fn(*xs)
        return [self.to_numpy(acc.jvp(y, unconnected_gradients=tf.UnconnectedGradients.ZERO))
                for y in ys]

    def native(self, key):
        return {
            "qr_reduced": lambda a: list(tf.linalg.qr(a)),
            "qr_complete": lambda a: list(tf.linalg.qr(a, full_matrices=True)),
            "qr_r": lambda a: [tf.linalg.qr(a)[1]],
            # The exact solver (fast=False, no gradient in TF); the default fast=True solves the
            # normal equations, squaring the condition number.
            "lstsq": _native_lstsq,
        }.get(key)


def _native_lstsq(a, b):
    """``tf.linalg.lstsq`` takes matrix right-hand sides only: a vector goes in as a column."""
    vector = len(b.shape) == len(a.shape) - 1
    x = tf.linalg.lstsq(a, b[..., None] if vector else b, fast=False)
    return [x[..., 0] if vector else x]


HARNESS = TensorFlowHarness()
