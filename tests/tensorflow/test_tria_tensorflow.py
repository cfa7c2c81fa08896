"""``tria`` in TensorFlow: GradientTape eagerly and in tf.function at rank deficiency, and the
forward accumulator's Gram-consistent tangent."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tria_cases import deficient_cases, tangent

import diffqr

W = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 1.5]])


def _gram_grad(a):
    with tf.GradientTape() as tape:
        tape.watch(a)
        lower = diffqr.tria(a, check_finite=False)
        loss = tf.linalg.trace(W @ lower @ tf.transpose(lower))
    return tape.gradient(loss, a)


def test_gram_gradient_eager_and_function():
    compiled = tf.function(_gram_grad)
    for a_np in (np.zeros((3, 4)), deficient_cases()[5][1][:3]):
        a = tf.constant(a_np)
        for grad in (_gram_grad(a), compiled(a)):
            np.testing.assert_allclose(grad.numpy(), 2 * W @ a_np, atol=1e-12)


def test_forward_accumulator_full_rank_and_deficient():
    for a_np in (tangent(np.zeros((3, 5)), 1), deficient_cases()[6][1]):
        a, da = tf.constant(a_np), tf.constant(tangent(a_np))
        with tf.autodiff.ForwardAccumulator(a, da) as acc:
            lower = diffqr.tria(a)
        dl = acc.jvp(lower).numpy()
        low = lower.numpy()
        want = da.numpy() @ a_np.T + a_np @ da.numpy().T
        np.testing.assert_allclose(dl @ low.T + low @ dl.T, want, atol=1e-12)
