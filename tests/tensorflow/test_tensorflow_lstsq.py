"""diffqr.lstsq on TensorFlow tensors: tape (eager and tf.function) and forward accumulator."""

import numpy as np
import pytest
import tensorflow as tf

import diffqr


def _problem(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape), rng.standard_normal((shape[0], 2))


def _directional_fd(a, b, ridge, direction, weights, h=1e-6):
    def loss(x):
        return np.sum(weights * diffqr.lstsq(x, b, ridge=ridge))
    return (loss(a + h * direction) - loss(a - h * direction)) / (2 * h)


@pytest.mark.parametrize("shape, ridge", [((7, 3), 0.0), ((7, 3), 0.5), ((3, 6), 0.0)])
@pytest.mark.parametrize("graph", [False, True])
def test_lstsq_gradient_matches_finite_differences(shape, ridge, graph):
    a, b = _problem(shape)
    rng = np.random.default_rng(1)
    weights, direction = rng.standard_normal((shape[1], 2)), rng.standard_normal(shape)
    A = tf.Variable(a)

    def grad():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(weights * diffqr.lstsq(A, tf.constant(b), ridge=ridge))
        return tape.gradient(loss, A)

    g = (tf.function(grad) if graph else grad)().numpy()
    fd = _directional_fd(a, b, ridge, direction, weights)
    assert abs(np.sum(g * direction) - fd) <= 1e-7 * max(1.0, abs(fd))


def test_lstsq_forward_accumulator_matches_finite_differences():
    a, b = _problem((7, 3))
    direction = np.random.default_rng(2).standard_normal(a.shape)
    A = tf.constant(a)
    with tf.autodiff.ForwardAccumulator(A, tf.constant(direction)) as acc:
        X = diffqr.lstsq(A, tf.constant(b), ridge=0.1)
    h = 1e-6
    fd = (diffqr.lstsq(a + h * direction, b, ridge=0.1)
          - diffqr.lstsq(a - h * direction, b, ridge=0.1)) / (2 * h)
    np.testing.assert_allclose(acc.jvp(X).numpy(), fd, rtol=1e-6, atol=1e-8)
