"""diffqr on TensorFlow: outputs, dtypes, variables, graphs (tf.function, XLA), errors."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import diffqr
from diffqr._verify import random_matrix


def qr_gradient(a, cotangents, **options):
    """``Ā`` of ``Σ Re <C, Y>`` over the outputs of ``diffqr.qr(a, **options)`` by a tape."""
    with tf.GradientTape() as tape:
        tape.watch(a)
        out = diffqr.qr(a, **options)
    return tape.gradient(list(out[:2]), a, output_gradients=cotangents)


def cotangents_for(rng, a, **options):
    q, r = diffqr.qr(a, **options)[:2]
    dtype = a.dtype.as_numpy_dtype
    return [tf.constant(random_matrix(rng, y.shape, dtype)) for y in (q, r)]


# ---------------------------------------------------------------------- outputs


# ---------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("dtype", [tf.int32, tf.float16, tf.bfloat16])
def test_unsupported_dtype_raises(dtype):
    with pytest.raises(TypeError, match="dtype"):
        diffqr.qr(tf.ones((3, 2), dtype))


# ---------------------------------------------------------------------- variables


@pytest.mark.parametrize("options", [{}, {"pivoting": True}, {"mode": "complete"}])
def test_variable_input(rng, options):
    """Variables go in, tensors come out; gradients reach the variable and equal a tensor's."""
    a = random_matrix(rng, (6, 4))
    v = tf.Variable(a)
    cots = cotangents_for(rng, tf.constant(a), **options)
    with tf.GradientTape() as tape:  # trainable variables are watched automatically
        out = diffqr.qr(v, **options)
    g_var = tape.gradient(list(out[:2]), v, output_gradients=cots)
    assert all(isinstance(y, tf.Tensor) and not isinstance(y, tf.Variable) for y in out)
    np.testing.assert_allclose(tf.convert_to_tensor(g_var).numpy(),
                               qr_gradient(tf.constant(a), cots, **options).numpy(), rtol=1e-13)
    np.testing.assert_array_equal(v.numpy(), a)


def test_variable_lq(rng):
    v = tf.Variable(random_matrix(rng, (4, 6), "complex128"))
    with tf.GradientTape() as tape:
        l_factor, q = diffqr.lq(v)
        loss = tf.reduce_sum(tf.abs(l_factor) ** 2) + tf.reduce_sum(tf.math.real(q))
    assert tape.gradient(loss, v).shape == (4, 6)


# ---------------------------------------------------------------------- graphs


@pytest.mark.parametrize("options", [{}, {"pivoting": True}, {"pivoting": True, "rank": 2}])
def test_tf_function_matches_eager(rng, options):
    """Inside tf.function (AutoGraph on, batch axis unknown): same factors, P and gradient."""
    a = tf.constant(random_matrix(rng, (2, 6, 4)))
    cots = cotangents_for(rng, a, **options)

    @tf.function(input_signature=[tf.TensorSpec([None, 6, 4], tf.float64)])
    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = diffqr.qr(x, **options)
        return out, tape.gradient(list(out[:2]), x, output_gradients=cots)

    out, g = run(a)
    expected = diffqr.qr(a, **options)
    for y, y_ref in zip(out, expected, strict=True):
        np.testing.assert_array_equal(y.numpy(), y_ref.numpy())
    np.testing.assert_allclose(g.numpy(), qr_gradient(a, cots, **options).numpy(), rtol=1e-12)
    if options.get("pivoting"):
        graph = run.get_concrete_function()
        assert graph.structured_outputs[0][2].shape.as_list() == [None, 4]  # static P shape


def test_pivoted_qr_in_tf_function_with_rank_deficient_input(rng):
    """A rank-3 matrix with dependent leading columns: pivoted rank-3 QR is finite in a graph."""
    left, right = random_matrix(rng, (7, 3)), random_matrix(rng, (3, 6))
    a_np = left @ right
    a_np[:, 1] = 2 * a_np[:, 0]
    a = tf.constant(a_np)
    cots = cotangents_for(rng, a, pivoting=True, rank=3)
    graph_gradient = tf.function(lambda x: qr_gradient(x, cots, pivoting=True, rank=3))(a)
    assert np.all(np.isfinite(graph_gradient.numpy()))
    np.testing.assert_allclose(graph_gradient.numpy(),
                               qr_gradient(a, cots, pivoting=True, rank=3).numpy(), rtol=1e-12)


def test_symbolic_tf_gradients(rng):
    """tf.gradients (graph edges, no tape) reaches the same VJP, first and second order."""
    a = tf.constant(random_matrix(rng, (6, 4), "complex128"))
    cots = cotangents_for(rng, a)

    @tf.function
    def run(x):
        q, r = diffqr.qr(x)
        g = tf.gradients([q, r], x, grad_ys=cots)[0]
        second = tf.gradients(tf.reduce_sum(tf.abs(g) ** 2), x)[0]
        return g, second

    def second_by_tapes(x):
        with tf.GradientTape() as outer:
            outer.watch(x)
            loss = tf.reduce_sum(tf.abs(qr_gradient(x, cots)) ** 2)
        return outer.gradient(loss, x)

    g, second = run(a)
    np.testing.assert_allclose(g.numpy(), qr_gradient(a, cots).numpy(), rtol=1e-12)
    np.testing.assert_allclose(second.numpy(), second_by_tapes(a).numpy(), rtol=1e-10)


def test_xla_compiled_gradient(rng):
    """jit_compile=True: the unpivoted rules compile with XLA (pivoting needs a host callback)."""
    a = tf.constant(random_matrix(rng, (6, 4)))
    cots = cotangents_for(rng, a)
    compiled = tf.function(lambda x: qr_gradient(x, cots), jit_compile=True)
    np.testing.assert_allclose(compiled(a).numpy(), qr_gradient(a, cots).numpy(), rtol=1e-10)


def test_unknown_matrix_dimensions_raise():
    run = tf.function(lambda x: diffqr.qr(x),
                      input_signature=[tf.TensorSpec([None, None], tf.float64)])
    with pytest.raises(ValueError, match="input_signature"):
        run.get_concrete_function()


# ---------------------------------------------------------------------- rank deficiency


def _dependent_leading_columns(rng):
    a = random_matrix(rng, (6, 4))
    a[:, 1] = 2 * a[:, 0]
    return tf.constant(a)


def test_rank_deficient_in_graph_is_not_checked(rng):
    """Graph tensors have no values: no check, the documented non-finite/huge result instead."""
    a = _dependent_leading_columns(rng)
    g = tf.function(lambda x: qr_gradient(x, [tf.ones((6, 4), tf.float64),
                                             tf.ones((4, 4), tf.float64)]))(a)
    assert not np.all(np.abs(g.numpy()) < 1e8)
