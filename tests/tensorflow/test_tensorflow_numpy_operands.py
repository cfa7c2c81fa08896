"""NumPy operands beside TensorFlow tensors, as ``tf.linalg.lstsq`` takes them: in either
position, converted to the dtype of the TensorFlow operand; gradients flow through the tensor
(checked against central differences), eagerly and in ``tf.function``."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import diffqr
from diffqr._verify import central_difference, random_matrix, relative_error


@pytest.mark.parametrize("numpy_position", ["A", "B"])
@pytest.mark.parametrize("shape", [(6, 4), (3, 5)])
def test_lstsq_with_a_numpy_operand_differentiates_the_tensor(rng, numpy_position, shape):
    a, b = random_matrix(rng, shape), random_matrix(rng, (shape[0], 2))
    weights = random_matrix(rng, (shape[1], 2))
    framework_input = b if numpy_position == "A" else a

    def loss(x):
        args = (a, x) if numpy_position == "A" else (x, b)
        return tf.reduce_sum(weights * diffqr.lstsq(*args))

    def grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = loss(x)
        return tape.gradient(value, x)

    x = diffqr.lstsq(*((a, tf.constant(b)) if numpy_position == "A" else (tf.constant(a), b)))
    assert isinstance(x, tf.Tensor)
    np.testing.assert_allclose(x, np.linalg.lstsq(a, b, rcond=None)[0], atol=1e-12)
    for function in (grad, tf.function(grad)):
        g = function(tf.constant(framework_input)).numpy()
        direction = random_matrix(rng, framework_input.shape)
        (fd,) = central_difference(lambda y: [loss(tf.constant(y)).numpy()],
                                   [framework_input], [direction])
        assert relative_error([np.vdot(g, direction)], [fd]) < 1e-7


def test_numpy_is_converted_to_the_tensor_dtype(rng):
    a = random_matrix(rng, (6, 3))
    b = random_matrix(rng, (6, 2))
    a32 = tf.constant(a, tf.float32)
    assert diffqr.lstsq(a32, b).dtype == tf.linalg.lstsq(a32, b).dtype == tf.float32
    assert diffqr.lstsq(a, tf.constant(b, tf.float32)).dtype == tf.float32
    ac = tf.constant(random_matrix(rng, (6, 3), "complex128"))
    np.testing.assert_allclose(diffqr.lstsq(ac, b), np.linalg.lstsq(ac.numpy(), b, rcond=None)[0],
                               atol=1e-12)
    # TensorFlow would silently drop the imaginary part: diffqr refuses
    with pytest.raises(TypeError, match="B is complex NumPy"):
        diffqr.lstsq(tf.constant(a), random_matrix(rng, (6, 2), "complex128"))


def test_rules_and_ridge_take_numpy(rng):
    a, b = random_matrix(rng, (5, 3)), random_matrix(rng, (5, 2))
    x_bar = random_matrix(rng, (3, 2))
    x = diffqr.lstsq(tf.constant(a), b, ridge=np.array(0.5))
    np.testing.assert_allclose(x, diffqr.lstsq(a, b, ridge=0.5), atol=1e-12)
    got = diffqr.lstsq_vjp(tf.constant(a), b, x, x_bar, ridge=0.5)
    expected = diffqr.lstsq_vjp(a, b, x.numpy(), x_bar, ridge=0.5)
    for y, z in zip(got, expected, strict=True):
        assert isinstance(y, tf.Tensor)
        np.testing.assert_allclose(y, z, atol=1e-12)
