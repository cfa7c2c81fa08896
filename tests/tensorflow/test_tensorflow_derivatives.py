"""diffqr on TensorFlow tensors: derivatives against finite differences, eagerly and in graphs.

Every case runs through TensorFlow's own autodiff: ``GradientTape`` (reverse mode, with
``output_gradients`` in TF's cotangent convention, which is PyTorch's), ``ForwardAccumulator``
(forward mode), nested tapes (second order) and ``tf.test.compute_gradient``.  Tolerances scale
with the condition number of the triangular block the rules divide by.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import diffqr
from diffqr._check.capabilities import _lq_case, _qr_case, _rank_deficient
from diffqr._check.tensorflow import HARNESS
from diffqr._verify import adjoint_error, central_difference, inner, random_matrix, relative_error

# name: (kind, shape, dtype, options)
CASES = {
    "qr square": ("qr", (5, 5), "float64", {}),
    "qr deep": ("qr", (7, 4), "float64", {}),
    "qr wide": ("qr", (4, 7), "float64", {}),
    "qr deep complex": ("qr", (7, 4), "complex128", {}),
    "qr wide complex": ("qr", (4, 7), "complex128", {}),
    "qr batched": ("qr", (3, 6, 4), "float64", {}),
    "qr complete deep": ("qr", (7, 4), "float64", {"mode": "complete"}),
    "qr complete deep complex": ("qr", (7, 4), "complex128", {"mode": "complete"}),
    "qr mode r": ("qr", (7, 4), "float64", {"mode": "r"}),
    "qr truncated rank 3": ("qr", (7, 6), "float64", {"rank": 3}),
    "qr pivoted deep": ("qr", (7, 4), "float64", {"pivoting": True}),
    "qr pivoted wide": ("qr", (4, 7), "float64", {"pivoting": True}),
    "qr pivoted wide complex": ("qr", (4, 7), "complex128", {"pivoting": True}),
    "qr pivoted batched": ("qr", (3, 4, 6), "float64", {"pivoting": True}),
    "qr pivoted rank-deficient rank 3": ("qr", (7, 6), "float64", {"pivoting": True, "rank": 3}),
    "lq wide": ("lq", (4, 7), "float64", {}),
    "lq deep": ("lq", (7, 4), "float64", {}),
    "lq deep complex": ("lq", (7, 4), "complex128", {}),
    "lq complete wide": ("lq", (4, 7), "float64", {"mode": "complete"}),
    "lq pivoted deep": ("lq", (7, 4), "float64", {"pivoting": True}),
    "lq pivoted wide complex": ("lq", (4, 7), "complex128", {"pivoting": True}),
}
NAMES = list(CASES)


def outputs_of(name):
    """The differentiable outputs of the case as a function of A (P dropped, R alone for "r")."""
    kind, _, _, options = CASES[name]
    decompose = diffqr.qr if kind == "qr" else diffqr.lq

    def f(a):
        out = decompose(a, **options)
        if options.get("mode") == "r":
            return [out[0] if options.get("pivoting") else out]
        return [out[0], out[1]]

    return f


def reference(name):
    """The same case as a ``python -m diffqr check`` capability: NumPy explicit rules."""
    kind, shape, dtype, options = CASES[name]
    if kind == "lq":
        return _lq_case(name, shape, dtype, **options)
    make_inputs = _rank_deficient if "rank-deficient" in name else None
    return _qr_case(name, shape, dtype, make_inputs=make_inputs, **options)


def case_input(name, rng):
    return reference(name).inputs(rng)[0]


def condition(name, a):
    """Condition number of the triangular block the rules divide by (worst over the batch)."""
    kind, _, _, options = CASES[name]
    options = {**options, "mode": "reduced"}
    if kind == "qr":
        triangular = diffqr.qr(a, **options)[1]
    else:
        triangular = diffqr.lq(a, **options)[0]
    k = min(triangular.shape[-2:])
    return float(np.max(np.linalg.cond(triangular[..., :k, :k])))


def tolerance(name, a):
    """Central differences with h = 1e-6: rounding ~1e-10, amplified by up to κ²."""
    return 1e-8 * condition(name, a) ** 2


def vjp_and_jvp(f, a, cotangents, da):
    """``Ā`` by ``GradientTape`` and ``(dY...)`` by ``ForwardAccumulator`` in one go."""
    with tf.autodiff.ForwardAccumulator(a, da) as acc:
        with tf.GradientTape() as tape:
            tape.watch(a)
            ys = f(a)
        tangents = [acc.jvp(y) for y in ys]
    return tape.gradient(ys, a, output_gradients=cotangents), tangents


@pytest.mark.parametrize("graph", [True], ids=["tf.function"])  # eager: tests/conformance
@pytest.mark.parametrize("name", NAMES)
def test_vjp_and_jvp_match_finite_differences(rng, name, graph):
    a = case_input(name, rng)
    dtype = a.dtype
    f = outputs_of(name)
    outputs = HARNESS.call(f, [a])
    cotangents = [random_matrix(rng, y.shape, dtype) for y in outputs]
    da = random_matrix(rng, a.shape, dtype)
    run = tf.function(vjp_and_jvp, autograph=False) if graph else vjp_and_jvp
    a_bar, tangents = run(f, tf.constant(a), [tf.constant(c) for c in cotangents],
                          tf.constant(da))
    fd = central_difference(lambda x: HARNESS.call(f, [x]), [a], [da])
    tol = tolerance(name, a)
    assert adjoint_error([a_bar.numpy()], [da], cotangents, fd) < tol
    assert relative_error([t.numpy() for t in tangents], fd) < tol


def gradient(f, a, weights):
    """∇ℓ for ℓ(A) = Σ_Y Σ (Re W̄ ∘ Y)²: a smooth loss, nonlinear in the outputs."""
    with tf.GradientTape() as tape:
        tape.watch(a)
        ys = f(a)
        loss = sum(tf.reduce_sum(tf.math.real(tf.math.conj(w) * y) ** 2)
                   for w, y in zip(weights, ys, strict=True))
    return tape.gradient(loss, a)


class GradientCase:
    """A case's input, loss weights and direction ``dA``, with ∇ℓ's central difference along it."""

    def __init__(self, name, rng):
        self.a = case_input(name, rng)
        self.f = outputs_of(name)
        self.weights = [tf.constant(random_matrix(rng, y.shape, self.a.dtype))
                        for y in HARNESS.call(self.f, [self.a])]
        self.da = random_matrix(rng, self.a.shape, self.a.dtype)
        self.fd = central_difference(
            lambda x: [gradient(self.f, tf.constant(x), self.weights).numpy()], [self.a], [self.da]
        )[0]
        self.tolerance = tolerance(name, self.a)

    def gradient(self, a):
        return gradient(self.f, a, self.weights)


@pytest.mark.parametrize("name", NAMES)
def test_second_order_nested_tapes(rng, name):
    """Hessian-vector product by a tape around the gradient's tape, against FD of the gradient."""
    case = GradientCase(name, rng)
    v = random_matrix(rng, case.a.shape, case.a.dtype)
    a = tf.constant(case.a)
    with tf.GradientTape() as outer:
        outer.watch(a)
        s = tf.reduce_sum(tf.math.real(tf.math.conj(tf.constant(v)) * case.gradient(a)))
    hv = outer.gradient(s, a).numpy()
    # <H v, dA> = d/dt <v, ∇ℓ(A + t dA)>  (the Hessian is symmetric)
    scale = np.linalg.norm(v) * np.linalg.norm(case.fd)
    assert abs(inner(hv, case.da) - inner(v, case.fd)) < case.tolerance * scale


@pytest.mark.parametrize("name", ["qr wide complex", "qr complete deep", "lq pivoted deep"])
def test_forward_over_reverse_in_tf_function(rng, name):
    """ForwardAccumulator around a GradientTape, compiled: the HVP again, by another route."""
    case = GradientCase(name, rng)

    @tf.function(autograph=False)
    def hvp(a, da):
        with tf.autodiff.ForwardAccumulator(a, da) as acc:
            g = case.gradient(a)
        return acc.jvp(g)

    got = hvp(tf.constant(case.a), tf.constant(case.da)).numpy()
    assert relative_error([got], [case.fd]) < case.tolerance


@pytest.mark.parametrize("name", ["qr deep", "qr wide", "qr deep complex", "lq deep"])
def test_tf_compute_gradient(rng, name):
    """TensorFlow's own gradient checker: full Jacobian from the tape vs its numerical one."""
    a = case_input(name, rng)
    f = outputs_of(name)

    def flat(x):
        return tf.concat([tf.reshape(y, [-1]) for y in f(x)], axis=0)

    theoretical, numerical = tf.test.compute_gradient(flat, [tf.constant(a)], delta=1e-6)
    assert relative_error(theoretical, numerical) < tolerance(name, a)
