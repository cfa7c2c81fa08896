"""diffqr on PaddlePaddle tensors: ``paddle.grad``, ``loss.backward()``, ``create_graph=True``
second order, JVPs by ``paddle.incubate.autograd.jvp``, ``stop_gradient`` and
``paddle.jit.to_static``, against central finite differences (float64/complex128) and diffqr's
NumPy explicit rules (every dtype).  Paddle's complex cotangents follow PyTorch's convention
(``∂ℓ/∂Re X + i ∂ℓ/∂Im X``), the one of diffqr's explicit rules."""

from __future__ import annotations

import numpy as np
import pytest

paddle = pytest.importorskip("paddle")

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


def tensor(x, grad=False):
    return paddle.to_tensor(np.array(x), stop_gradient=not grad)


def real_sum(y):
    """``Re Σ y`` as a real paddle scalar (paddle's ``real`` has no double backward)."""
    s = y.sum()
    return paddle.as_real(s.reshape([1]))[0, 0] if s.is_complex() else s


def weighted_loss(fn, rng, dtype, inputs):
    """``ℓ(xs) = Re Σ W_i · Y_i`` over the outputs of ``fn`` with fixed random weights."""
    weights = [random_matrix(rng, y.shape, dtype) for y in fn(*[tensor(x) for x in inputs])]

    def loss(*xs):
        return sum(real_sum(tensor(w) * y) for w, y in zip(weights, fn(*xs), strict=True))

    return loss


def fd_along(loss, inputs, directions):
    plus = loss(*(tensor(x + H * d) for x, d in zip(inputs, directions, strict=True)))
    minus = loss(*(tensor(x - H * d) for x, d in zip(inputs, directions, strict=True)))
    return (float(plus) - float(minus)) / (2 * H)


def check_grad(fn, inputs, rng, dtype, wrt=None):
    """``paddle.grad`` with respect to the inputs ``wrt`` (all of them require a gradient)
    against a central difference along a random direction."""
    loss = weighted_loss(fn, rng, dtype, inputs)
    wrt = range(len(inputs)) if wrt is None else wrt
    directions = [random_matrix(rng, np.shape(x), dtype if np.iscomplexobj(x) else "float64")
                  if i in wrt else 0 * x for i, x in enumerate(inputs)]
    xs = [tensor(x, grad=True) for x in inputs]
    grads = paddle.grad([loss(*xs)], [xs[i] for i in wrt])
    predicted = 0.0
    for i, g in zip(wrt, grads, strict=True):
        assert isinstance(g, paddle.Tensor) and tuple(g.shape) == np.shape(inputs[i])
        predicted += np.real(np.sum(np.conj(g.numpy()) * directions[i]))
    fd = fd_along(loss, inputs, directions)
    assert abs(predicted - fd) <= TOL * max(1.0, abs(fd)), (predicted, fd)


def check_jvp(fn, inputs, rng, dtype):
    """``paddle.incubate.autograd.jvp`` (the double-backward trick) against central
    differences, every input at once."""
    directions = [random_matrix(rng, np.shape(x), dtype) for x in inputs]
    _, tangents = paddle.incubate.autograd.jvp(
        lambda *xs: list(fn(*xs)), [tensor(x) for x in inputs], [tensor(d) for d in directions])
    plus = fn(*(tensor(x + H * d) for x, d in zip(inputs, directions, strict=True)))
    minus = fn(*(tensor(x - H * d) for x, d in zip(inputs, directions, strict=True)))
    fd = [(p.numpy() - m.numpy()) / (2 * H) for p, m in zip(plus, minus, strict=True)]
    assert relative_error([t.numpy() for t in tangents], fd) < TOL


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
    # With respect to one input while the other also requires a gradient: paddle asks a
    # single PyLayer for None there, so diffqr ties each input through a layer of its own.
    check_grad(fn, [a, b], rng, dtype, wrt=[0])
    check_grad(fn, [a, b], rng, dtype, wrt=[1])
    check_jvp(fn, [a, b], rng, dtype)


@pytest.mark.parametrize("shape", [(6, 3), (3, 6)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_differentiable_ridge(rng, shape, dtype):
    """A 0-d ridge tensor that requires a gradient, with A and B."""
    a, b = random_matrix(rng, shape, dtype, cond=10.0), random_matrix(rng, (shape[0], 2), dtype)
    fn = lambda x, y, lam: [diffqr.lstsq(x, y, ridge=lam)]  # noqa: E731
    check_grad(fn, [a, b, np.array(0.3)], rng, dtype)
    check_grad(fn, [a, b, np.array(0.3)], rng, dtype, wrt=[2])


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
@pytest.mark.parametrize("op", ["qr", "qr_complete", "qr_pivoted", "lq", "lstsq"])
def test_gradient_matches_numpy_explicit_rules(rng, op, dtype):
    """Values and ``paddle.grad`` equal diffqr's NumPy results and explicit VJPs, batched."""
    a = random_matrix(rng, (2, 5, 3) if op != "lq" else (2, 3, 5), dtype)
    b = random_matrix(rng, (2, 5, 2), dtype)
    xs = [tensor(a, grad=True), tensor(b, grad=True)]
    if op == "lstsq":
        out_np, out = [diffqr.lstsq(a, b, ridge=0.1)], [diffqr.lstsq(*xs, ridge=0.1)]
    else:
        options = {"qr_complete": {"mode": "complete"}, "qr_pivoted": {"pivoting": True}}
        factor = getattr(diffqr, op[:2])
        np_factors = factor(a, **options.get(op, {}))
        out_np, out = list(np_factors[:2]), list(factor(xs[0], **options.get(op, {}))[:2])
        xs = xs[:1]
    cots = [random_matrix(rng, y.shape, dtype) for y in out_np]
    if op == "lstsq":
        expected = list(diffqr.lstsq_vjp(a, b, out_np[0], cots[0], ridge=0.1)[:2])
    elif op == "qr_pivoted":  # the rule differentiates A[..., :, P]: scatter back
        perm = np_factors[2]
        a_p = np.take_along_axis(a, perm[..., None, :], -1)
        expected = [np.zeros_like(a)]
        np.put_along_axis(expected[0], perm[..., None, :],
                          diffqr.qr_vjp(a_p, *out_np, *cots), -1)
    else:
        expected = [getattr(diffqr, f"{op[:2]}_vjp")(a, *out_np, *cots)]
    tol = 2e-4 if dtype in ("float32", "complex64") else 1e-10
    for y, y_np in zip(out, out_np, strict=True):
        assert isinstance(y, paddle.Tensor) and y.numpy().dtype == np.dtype(dtype)
        assert relative_error([y.numpy()], [y_np]) < tol
    grads = paddle.grad(out, xs, [tensor(c) for c in cots])
    assert relative_error([g.numpy() for g in grads], expected) < tol


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pivoting", [False, True])
def test_second_order(rng, dtype, pivoting):
    """``create_graph=True``: Hessian-vector products against central differences of the
    gradient (the rules run in paddle operations recorded again, solves included)."""
    a = random_matrix(rng, (5, 3), dtype)
    b = tensor(random_matrix(rng, (5, 2), dtype))
    w, v = tensor(random_matrix(rng, (3, 3), dtype)), tensor(random_matrix(rng, (5, 3), dtype))
    u = tensor(random_matrix(rng, (3, 2), dtype))

    def loss(x):
        # Products of real scalars only: paddle 3.3.1's double backward of a product of two
        # complex tensors that both depend on x is wrong (x * x, xᴴ @ x), without diffqr.
        q, r = diffqr.qr(x, pivoting=pivoting)[:2]
        x_ls = diffqr.lstsq(x, b, ridge=0.1)
        return real_sum(w * r) * real_sum(v * q) + real_sum(u * x_ls) * real_sum(w * r)

    def grad(x, create_graph=False):
        x = x if isinstance(x, paddle.Tensor) else tensor(x, grad=True)
        return paddle.grad([loss(x)], [x], create_graph=create_graph)[0]

    d, e = random_matrix(rng, a.shape, dtype), random_matrix(rng, a.shape, dtype)
    x = tensor(a, grad=True)
    g = grad(x, create_graph=True)
    hvp = paddle.grad([real_sum(paddle.conj(g) * tensor(d))], [x])[0].numpy()
    # Re Σ conj(hvp)·e and Re Σ conj(FD of grad along e)·d are the same second derivative.
    fd = (grad(a + H * e).numpy() - grad(a - H * e).numpy()) / (2 * H)
    expected = np.real(np.sum(np.conj(fd) * d))
    assert abs(np.real(np.sum(np.conj(hvp) * e)) - expected) < TOL * abs(expected)


def test_backward_accumulates_and_respects_stop_gradient(rng):
    a, b = random_matrix(rng, (6, 3)), random_matrix(rng, (6, 2))
    x, y = tensor(a, grad=True), tensor(b)  # B: stop_gradient=True
    loss = diffqr.lstsq(x, y).sum()
    loss.backward()
    first = x.grad.numpy().copy()
    assert y.grad is None
    expected = diffqr.lstsq_vjp(a, b, diffqr.lstsq(a, b), np.ones((3, 2)))[0]
    assert relative_error([first], [expected]) < 1e-10
    diffqr.lstsq(x, y).sum().backward()  # accumulates, as paddle does
    assert relative_error([x.grad.numpy()], [2 * expected]) < 1e-10
    q, r = diffqr.qr(tensor(a))  # nothing requires a gradient: constants
    assert q.stop_gradient and r.stop_gradient


def test_explicit_rules_take_paddle_tensors(rng):
    a, da = random_matrix(rng, (5, 3)), random_matrix(rng, (5, 3))
    q, r = diffqr.qr(a)
    dq, dr = diffqr.qr_jvp(tensor(a), tensor(q), tensor(r), tensor(da))
    dq_np, dr_np = diffqr.qr_jvp(a, q, r, da)
    assert isinstance(dq, paddle.Tensor)
    assert relative_error([dq.numpy(), dr.numpy()], [dq_np, dr_np]) < 1e-12


def test_rank_deficient_backward_raises(rng):
    """An error in a PyLayer backward reaches the caller as paddle's OSError, whose message
    carries diffqr's (documented); the forward and the pivoted rank-k derivative work."""
    a = random_matrix(rng, (5, 3))
    a[:, 1] = a[:, 0]
    x = tensor(a, grad=True)
    with pytest.raises(OSError, match=r"RankDeficientError: .*pivoting=True"):
        diffqr.qr(x).R.sum().backward()
    diffqr.qr(x, pivoting=True, rank=2).R.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_bad_input_names_the_argument(rng):
    with pytest.raises(TypeError, match="int64"):
        diffqr.qr(tensor(np.ones((3, 2), dtype=np.int64)))
    with pytest.raises(TypeError, match="B"):
        diffqr.lstsq(tensor(random_matrix(rng, (4, 2))),
                     tensor(random_matrix(rng, (4,), "float32")))
    with pytest.raises(TypeError, match="one framework"):
        diffqr.lstsq(tensor(random_matrix(rng, (4, 2))), random_matrix(rng, (4,)))


def test_to_static(rng):
    """``paddle.jit.to_static`` with its default ``full_graph=False`` (SOT) runs diffqr's calls
    eagerly between graph pieces: values and gradients equal eager mode, call after call (no
    stale values baked into the converted function).  ``full_graph=True`` is not supported
    (docs/guides/paddle.md)."""
    def f(x):
        q, r = diffqr.qr(x)
        b = x[:, :2] * 3 + 1  # requires a gradient too: one PyLayer per input
        return (real_sum(q * q) + real_sum(r) + real_sum(diffqr.lq(x, pivoting=True).L)
                + real_sum(diffqr.lstsq(x, b, ridge=0.1)) + real_sum(diffqr.lstsq(x, b[:, 0])))

    converted = paddle.jit.to_static(f)
    for _ in range(3):
        a = random_matrix(rng, (5, 3))
        x, x_eager = tensor(a, grad=True), tensor(a, grad=True)
        # Eager first: under pytest, SOT cannot trace the adapter's first import (it trips on
        # pytest's import hook), which a test run alone would do inside the converted function.
        y_eager, y = f(x_eager), converted(x)
        y.backward()
        y_eager.backward()
        assert abs(float(y) - float(y_eager)) < 1e-12
        assert relative_error([x.grad.numpy()], [x_eager.grad.numpy()]) < 1e-12
