"""diffqr.lstsq and method="cholesky" on TensorFlow tensors.

Least squares has several differentiable inputs (A, B and the ridge λ) and rules that call a
nested primitive (the Gram solve), so it exercises the generic hook beyond QR.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import diffqr
from diffqr._backends.tensorflow import BACKEND
from diffqr._check.capabilities import CAPABILITIES
from diffqr._check.tensorflow import HARNESS
from diffqr._verify import adjoint_error, central_difference, inner, random_matrix, relative_error

LSTSQ = {cap.name: cap for cap in CAPABILITIES if cap.name.startswith("lstsq")}


def condition(a: np.ndarray) -> float:
    s = np.linalg.svd(a, compute_uv=False)
    return float(np.max(s[..., 0] / s[..., -1]))


def tolerance(a: np.ndarray) -> float:
    return 1e-8 * condition(a) ** 2


def vjp_and_jvp(fn, xs, cotangents, tangents):
    """Input cotangents by ``GradientTape``, output tangents by ``ForwardAccumulator``."""
    with tf.autodiff.ForwardAccumulator(xs, tangents) as acc:
        with tf.GradientTape() as tape:
            tape.watch(xs)
            ys = fn(*xs)
        out_tangents = [acc.jvp(y) for y in ys]
    return tape.gradient(ys, xs, output_gradients=cotangents), out_tangents


@pytest.mark.parametrize("graph", [True], ids=["tf.function"])  # eager: tests/conformance
@pytest.mark.parametrize("name", list(LSTSQ))
def test_vjp_and_jvp_match_finite_differences(rng, name, graph):
    cap = LSTSQ[name]
    inputs = cap.inputs(rng)
    outputs = HARNESS.call(cap.call, inputs)
    cotangents = [random_matrix(rng, y.shape, cap.dtype) for y in outputs]
    tangents = [random_matrix(rng, x.shape, x.dtype) for x in inputs]
    run = tf.function(vjp_and_jvp, autograph=False) if graph else vjp_and_jvp
    grads, out_tangents = run(cap.call, [tf.constant(x) for x in inputs],
                              [tf.constant(c) for c in cotangents],
                              [tf.constant(t) for t in tangents])
    fd = central_difference(lambda *xs: HARNESS.call(cap.call, xs), inputs, tangents)
    tol = tolerance(inputs[0])
    assert adjoint_error([g.numpy() for g in grads], tangents, cotangents, fd) < tol
    assert relative_error([t.numpy() for t in out_tangents], fd) < tol
    # The same formulas as the NumPy explicit rules, to rounding.
    explicit = cap.explicit_vjp(inputs, outputs, cotangents)
    assert relative_error([g.numpy() for g in grads], explicit) < 1e-13 * condition(inputs[0]) ** 2


def loss_gradient(a, b, lam, weights):
    """∇ of Σ |X ∘ W|² over (A, B, λ): nonlinear in X, so its derivative is second order."""
    with tf.GradientTape() as tape:
        tape.watch([a, b, lam])
        x = diffqr.lstsq(a, b, ridge=lam)
        loss = tf.reduce_sum(tf.abs(x * weights) ** 2)
    return tape.gradient(loss, [a, b, lam])


@pytest.mark.parametrize("shape", [(7, 4), (4, 7)])
def test_second_order_through_the_nested_gram_solve(rng, shape):
    """Nested tapes over A, B and λ: the Hessian-vector product against FD of the gradient."""
    a, b = random_matrix(rng, shape, "complex128"), random_matrix(rng, (shape[0], 2), "complex128")
    lam = np.array(0.3)
    weights = tf.constant(random_matrix(rng, (shape[1], 2), "complex128"))
    primals = [a, b, lam]
    v = [random_matrix(rng, x.shape, x.dtype) for x in primals]
    d = [random_matrix(rng, x.shape, x.dtype) for x in primals]
    xs = [tf.constant(x) for x in primals]
    with tf.GradientTape() as outer:
        outer.watch(xs)
        g = loss_gradient(*xs, weights)
        s = sum(tf.reduce_sum(tf.math.real(tf.math.conj(tf.constant(vi)) * gi))
                for vi, gi in zip(v, g, strict=True))
    hv = [h.numpy() for h in outer.gradient(s, xs)]
    fd = central_difference(
        lambda *x: [gi.numpy() for gi in loss_gradient(*map(tf.constant, x), weights)], primals, d
    )
    scale = np.sqrt(sum(np.linalg.norm(x) ** 2 for x in v) * sum(np.linalg.norm(f) ** 2
                                                                 for f in fd))
    err = abs(sum(inner(h, di) for h, di in zip(hv, d, strict=True))
              - sum(inner(vi, f) for vi, f in zip(v, fd, strict=True)))
    assert err < tolerance(a) * scale


def test_forward_over_reverse_in_tf_function(rng):
    a, b = random_matrix(rng, (4, 7)), random_matrix(rng, (4, 3))
    weights = tf.constant(random_matrix(rng, (7, 3)))
    primals = [a, b, np.array(0.7)]
    d = [random_matrix(rng, x.shape, x.dtype) for x in primals]

    @tf.function(autograph=False)
    def hvp(xs, ds):
        with tf.autodiff.ForwardAccumulator(xs, ds) as acc:
            g = loss_gradient(*xs, weights)
        return [acc.jvp(gi) for gi in g]

    got = hvp([tf.constant(x) for x in primals], [tf.constant(x) for x in d])
    fd = central_difference(
        lambda *x: [gi.numpy() for gi in loss_gradient(*map(tf.constant, x), weights)], primals, d
    )
    assert relative_error([g.numpy() for g in got], fd) < tolerance(a)


def test_ridge_variable_is_trained(rng):
    """A trainable λ (and A, B as variables): gradients reach all three, as FD says."""
    a_np, b_np = random_matrix(rng, (6, 4)), random_matrix(rng, (6, 2))
    a, b, lam = tf.Variable(a_np), tf.Variable(b_np), tf.Variable(0.4, dtype=tf.float64)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(diffqr.lstsq(a, b, ridge=lam) ** 2)
    grads = tape.gradient(loss, [a, b, lam])

    def f(a_, b_, lam_):
        x = diffqr.lstsq(tf.constant(a_), tf.constant(b_), ridge=tf.constant(lam_))
        return [tf.reduce_sum(x**2).numpy()]

    directions = [random_matrix(rng, (6, 4)), random_matrix(rng, (6, 2)), np.array(1.0)]
    fd = central_difference(f, [a_np, b_np, np.array(0.4)], directions)[0]
    predicted = sum(inner(g.numpy(), d) for g, d in zip(grads, directions, strict=True))
    assert abs(predicted - fd) < tolerance(a_np) * abs(fd)


def test_rank_deficient_and_bad_input(rng):
    a = random_matrix(rng, (6, 4))
    a[:, 3] = a[:, 0]
    a, b = tf.constant(a), tf.constant(random_matrix(rng, (6, 2)))
    with pytest.raises(diffqr.RankDeficientError, match="ridge > 0"):
        diffqr.lstsq(a, b)
    assert np.all(np.isfinite(diffqr.lstsq(a, b, ridge=0.1).numpy()))
    with pytest.raises(TypeError, match="complex NumPy"):  # NumPy is converted to A's dtype
        diffqr.lstsq(a, b.numpy() * 1j)
    with pytest.raises(ValueError, match="ridge must be >= 0"):
        diffqr.lstsq(a, b, ridge=tf.constant(-0.1, tf.float64))


def test_symbolic_tf_gradients_reach_a_b_and_ridge(rng):
    a, b = tf.constant(random_matrix(rng, (6, 4))), tf.constant(random_matrix(rng, (6, 2)))
    lam = tf.constant(0.3, tf.float64)

    @tf.function
    def symbolic(a, b, lam):
        return tf.gradients(tf.reduce_sum(diffqr.lstsq(a, b, ridge=lam) ** 2), [a, b, lam])

    weights = tf.ones((4, 2), tf.float64)
    with tf.GradientTape() as tape:
        tape.watch([a, b, lam])
        loss = tf.reduce_sum((diffqr.lstsq(a, b, ridge=lam) * weights) ** 2)
    for got, expected in zip(symbolic(a, b, lam), tape.gradient(loss, [a, b, lam]), strict=True):
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12)


# ---------------------------------------------------------------------- CholeskyQR


def gauge_invariant_loss_gradient(a, method):
    """∇ of a loss that does not see the gauge (CholeskyQR's positive diagonal vs LAPACK's)."""
    weights = tf.reshape(tf.cast(tf.range(a.shape[0] ** 2), a.dtype), (a.shape[0],) * 2)
    with tf.GradientTape() as tape:
        tape.watch(a)
        q, r = diffqr.qr(a, method=method)
        loss = tf.reduce_sum(tf.abs(r) ** 3) + tf.reduce_sum(weights * (q @ tf.linalg.adjoint(q)))
    return tape.gradient(loss, a)


def test_cholesky_qr_matches_householder(rng):
    a = tf.constant(random_matrix(rng, (40, 6)))
    q, r = diffqr.qr(a, method="cholesky")
    q_ref, r_ref = tf.linalg.qr(a)
    signs = np.sign(np.diagonal(r_ref.numpy()))
    np.testing.assert_allclose(q.numpy(), q_ref.numpy() * signs, atol=1e-13)
    np.testing.assert_allclose(r.numpy(), signs[:, None] * r_ref.numpy(), atol=1e-12)
    np.testing.assert_allclose(gauge_invariant_loss_gradient(a, "cholesky").numpy(),
                               gauge_invariant_loss_gradient(a, "householder").numpy(), rtol=1e-9)


def test_cholesky_qr_in_graphs(rng):
    """Without values CholeskyQR cannot vouch for Q: "cholesky" raises, "auto" falls back."""
    a = tf.constant(random_matrix(rng, (40, 6)))
    with pytest.raises(ValueError, match="householder"):
        tf.function(lambda x: diffqr.qr(x, method="cholesky"))(a)
    r = tf.function(lambda x: diffqr.qr(x, method="auto").R)(a)
    np.testing.assert_array_equal(r.numpy(), tf.linalg.qr(a)[1].numpy())


def test_cholesky_factor_of_an_indefinite_matrix_has_nan():
    indefinite = tf.constant([[1.0, 2.0], [2.0, 1.0]], tf.float64)
    assert np.isnan(BACKEND.cholesky(indefinite).numpy()).any()
    spd = tf.constant([[4.0, 2.0], [2.0, 3.0]], tf.float64)
    r = BACKEND.cholesky(spd).numpy()
    np.testing.assert_allclose(r.T @ r, spd.numpy(), rtol=1e-15)
    assert r[1, 0] == 0
