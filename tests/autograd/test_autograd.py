"""diffqr inside HIPS autograd: ``grad``, ``jacobian``, ``make_jvp`` and second order, against
central finite differences, real and complex (autograd's cotangent is the conjugate of diffqr's:
``df = Re Σ g · dA``)."""

from __future__ import annotations

import numpy as np
import pytest

autograd = pytest.importorskip("autograd")
import autograd.numpy as anp  # noqa: E402
from autograd.builtins import tuple as traced_tuple  # noqa: E402
from autograd.differential_operators import make_jvp  # noqa: E402
from family_cases import (  # noqa: E402
    DTYPES,
    LQ_CASES,
    LSTSQ_SHAPES,
    QR_CASES,
    lq_outputs,
    lstsq_outputs,
    qr_outputs,
)

import diffqr  # noqa: E402
from diffqr._verify import random_matrix, relative_error  # noqa: E402

H = 1e-6
TOL = 1e-6  # central differences on well-conditioned float64 cases: ~1e-9; a wrong rule: O(1)


def weighted_loss(fn, rng, dtype, *inputs):
    """``Re Σ W_i · Y_i`` over the outputs of ``fn`` with fixed random (complex) weights."""
    outputs = fn(*inputs)
    weights = [random_matrix(rng, np.shape(y), dtype) for y in outputs]

    def loss(*xs):
        return sum(anp.real(anp.sum(w * y)) for w, y in zip(weights, fn(*xs), strict=True))

    return loss


def check_grad(fn, inputs, rng, dtype, argnums=None):
    """autograd.grad of a weighted loss against a central difference along a random direction."""
    loss = weighted_loss(fn, rng, dtype, *inputs)
    argnums = range(len(inputs)) if argnums is None else argnums
    directions = [random_matrix(rng, np.shape(x), dtype) if i in argnums else 0 * x
                  for i, x in enumerate(inputs)]
    predicted = 0.0
    for i in argnums:
        g = autograd.grad(loss, i)(*inputs)
        assert type(g) is type(inputs[i]) and np.shape(g) == np.shape(inputs[i])
        predicted += np.real(np.sum(g * directions[i]))
    plus = loss(*(x + H * d for x, d in zip(inputs, directions, strict=True)))
    minus = loss(*(x - H * d for x, d in zip(inputs, directions, strict=True)))
    fd = (plus - minus) / (2 * H)
    assert abs(predicted - fd) <= TOL * max(1.0, abs(fd)), (predicted, fd)


def check_jvp(fn, inputs, rng, dtype):
    """make_jvp (forward mode) in each input against central differences."""
    for i, x in enumerate(inputs):
        d = random_matrix(rng, np.shape(x), dtype)

        def along(y, i=i):  # several outputs: one traced tuple
            return traced_tuple(fn(*inputs[:i], y, *inputs[i + 1:]))

        _, tangents = make_jvp(along)(x)(d)
        fd = [(p - m) / (2 * H) for p, m in zip(along(x + H * d), along(x - H * d), strict=True)]
        assert relative_error(list(tangents), fd) < TOL


@pytest.mark.parametrize(("options", "shape"), QR_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_qr(rng, options, shape, dtype):
    a = random_matrix(rng, shape, dtype)
    check_grad(qr_outputs(options), [a], rng, dtype)
    check_jvp(qr_outputs(options), [a], rng, dtype)


@pytest.mark.parametrize(("options", "shape"), LQ_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_lq(rng, options, shape, dtype):
    a = random_matrix(rng, shape, dtype)
    fn = lq_outputs(options)
    check_grad(fn, [a], rng, dtype)
    check_jvp(fn, [a], rng, dtype)


@pytest.mark.parametrize(("a_shape", "b_shape"), LSTSQ_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ridge", [0.0, 0.4])
def test_lstsq(rng, a_shape, b_shape, dtype, ridge):
    a, b = random_matrix(rng, a_shape, dtype, cond=10.0), random_matrix(rng, b_shape, dtype)
    fn = lstsq_outputs(ridge)
    check_grad(fn, [a, b], rng, dtype)
    check_grad(fn, [a, b], rng, dtype, argnums=[1])  # A a constant NumPy array next to a tracer
    check_jvp(fn, [a, b], rng, dtype)


@pytest.mark.parametrize("shape", [(6, 3), (3, 6)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_differentiable_ridge(rng, shape, dtype):
    a, b = random_matrix(rng, shape, dtype, cond=10.0), random_matrix(rng, (shape[0], 2), dtype)
    w = random_matrix(rng, (shape[1], 2), dtype)
    loss = lambda lam: anp.real(anp.sum(w * diffqr.lstsq(a, b, ridge=lam)))  # noqa: E731
    fd = (loss(0.3 + H) - loss(0.3 - H)) / (2 * H)
    assert abs(autograd.grad(loss)(0.3) - fd) < TOL * max(1, abs(fd))
    _, tangent = make_jvp(loss)(0.3)(1.0)
    assert abs(tangent - fd) < TOL * max(1, abs(fd))


def test_jacobian(rng):
    a = random_matrix(rng, (2, 4, 3))
    jac = autograd.jacobian(lambda x: diffqr.qr(x, pivoting=True).R)(a)
    assert jac.shape == (2, 3, 3, 2, 4, 3)
    fd = np.zeros_like(jac)
    for index in np.ndindex(*a.shape):
        e = np.zeros_like(a)
        e[index] = H
        r_plus, r_minus = diffqr.qr(a + e, pivoting=True).R, diffqr.qr(a - e, pivoting=True).R
        fd[(..., *index)] = (r_plus - r_minus) / (2 * H)
    assert relative_error([jac], [fd]) < TOL


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pivoting", [False, True])
def test_second_order(rng, dtype, pivoting):
    """Hessian-vector products: the rules run on autograd's tracers, so they differentiate again
    (QR's rule through the triangular-solve primitive, lstsq's through its Gram solves)."""
    a = random_matrix(rng, (5, 3), dtype)
    b = random_matrix(rng, (5, 2), dtype)
    w, v = random_matrix(rng, (3, 3), dtype), random_matrix(rng, (5, 3), dtype)

    def loss(x):
        q, r = diffqr.qr(x, pivoting=pivoting)[:2]
        return (anp.real(anp.sum(w * r) * anp.sum(v * q))
                + anp.sum(anp.abs(diffqr.lstsq(x, b, ridge=0.1)) ** 2))

    grad = autograd.grad(loss)
    d, e = random_matrix(rng, a.shape, dtype), random_matrix(rng, a.shape, dtype)
    hvp = autograd.grad(lambda x: anp.real(anp.sum(grad(x) * d)))(a)
    # Re Σ hvp·e is the second derivative along d and e, and so is Re Σ (FD of grad along e)·d.
    fd = np.real(np.sum((grad(a + H * e) - grad(a - H * e)) / (2 * H) * d))
    assert abs(np.real(np.sum(hvp * e)) - fd) < TOL * abs(fd)


def test_outputs_outside_tracing_are_numpy(rng):
    a = random_matrix(rng, (4, 3))
    out = autograd.grad(lambda x: anp.sum(diffqr.qr(x).R))(a)
    assert type(out) is np.ndarray and out.dtype == np.float64


def test_errors(rng):
    a = random_matrix(rng, (5, 3))
    a[:, 1] = a[:, 0]
    with pytest.raises(diffqr.RankDeficientError, match="pivoting=True"):
        autograd.grad(lambda x: anp.sum(diffqr.qr(x).R))(a)
    assert np.isfinite(autograd.grad(
        lambda x: anp.sum(diffqr.qr(x, pivoting=True, rank=2).R))(a)).all()
    with pytest.raises(TypeError, match="dtype int64"):
        autograd.grad(lambda x: anp.sum(diffqr.qr(anp.floor(x).astype(np.int64)).R))(a)


@pytest.mark.parametrize("upper", [True, False])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("adjoint", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_triangular_solve_primitive(rng, upper, left, adjoint, dtype):
    """The vocabulary's triangular solve (used by the rules on tracers: higher order), batched
    against a broadcast right-hand side, in both arguments."""
    from diffqr._backends.autograd import BACKEND

    k = 4
    r = random_matrix(rng, (2, k, k), dtype) + 3 * np.eye(k)
    r = np.triu(r) if upper else np.tril(r)
    b = random_matrix(rng, (k, 3) if left else (3, k), dtype)

    def fn(x, y):
        return [BACKEND.solve_triangular(x, y, upper=upper, left=left, adjoint=adjoint)]

    def tri(fn_):  # perturb only r's triangle: the other one is ignored
        return lambda x, y: fn_(anp.triu(x) if upper else anp.tril(x), y)

    check_grad(tri(fn), [r, b], rng, dtype)
    check_jvp(tri(fn), [r, b], rng, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_explicit_rules_are_differentiable(rng, dtype):
    """The public rules on traced arrays run over the autograd vocabulary: autograd
    differentiates them (a second derivative by hand)."""
    a, b = random_matrix(rng, (5, 3), dtype), random_matrix(rng, (5, 2), dtype)
    q_bar = random_matrix(rng, (5, 3), dtype)

    def rules(x, y):
        q, r = diffqr.qr(x)
        z = diffqr.lstsq(x, y)
        return [diffqr.qr_vjp(x, q, r, q_bar, None), *diffqr.qr_jvp(x, q, r, q_bar),
                *diffqr.lstsq_vjp(x, y, z, z)]

    check_grad(rules, [a, b], rng, dtype)
