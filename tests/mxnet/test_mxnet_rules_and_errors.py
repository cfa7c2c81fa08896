"""The explicit rules on MXNet arrays (MXNet has no forward mode), the generic ``apply`` hook with
several inputs, and bad input."""

from __future__ import annotations

import mxnet as mx
import numpy as np
import pytest

import diffqr
from diffqr._backends.mxnet import BACKEND
from diffqr._primitives import Primitive
from diffqr._verify import central_difference, random_matrix, relative_error

KINDS = {"nd": mx.nd, "np": mx.np}
COND = 10.0
FD_TOL = 1e-6


def to_mx(x, kind: str):
    return None if x is None else KINDS[kind].array(x, dtype=x.dtype)


# (shape, options of diffqr.qr)
QR_CASES = {
    "square": ((5, 5), {}),
    "deep": ((7, 4), {}),
    "wide 3x5": ((3, 5), {}),
    "batched wide": ((2, 4, 6), {}),
    "complete deep": ((7, 4), {"mode": "complete"}),
    "truncated rank 3": ((7, 6), {"rank": 3}),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", QR_CASES)
def test_explicit_qr_rules_on_mxnet_arrays(rng, case, kind):
    """qr_vjp / qr_jvp on MXNet arrays run MXNet ops and equal the NumPy rules."""
    shape, options = QR_CASES[case]
    a = random_matrix(rng, shape, cond=COND)
    q, r = diffqr.qr(a, **options)
    q_bar, r_bar, da = (random_matrix(rng, x.shape) for x in (q, r, a))
    args = (a, q, r, q_bar, r_bar)
    a_bar = diffqr.qr_vjp(*(to_mx(x, kind) for x in args))
    assert type(a_bar) is type(to_mx(a, kind))
    np.testing.assert_allclose(a_bar.asnumpy(), diffqr.qr_vjp(*args), rtol=0, atol=1e-12)
    for q_only in (None, r_bar), (q_bar, None):  # either cotangent may be None
        expected = diffqr.qr_vjp(a, q, r, *q_only)
        actual = diffqr.qr_vjp(*(to_mx(x, kind) for x in (a, q, r, *q_only)))
        np.testing.assert_allclose(actual.asnumpy(), expected, rtol=0, atol=1e-12)
    tangents = diffqr.qr_jvp(*(to_mx(x, kind) for x in (a, q, r, da)))
    for t, e in zip(tangents, diffqr.qr_jvp(a, q, r, da), strict=True):
        assert type(t) is type(a_bar)
        np.testing.assert_allclose(t.asnumpy(), e, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", [(4, 7), (7, 4), (2, 3, 5)])
def test_explicit_lq_jvp_is_forward_mode_for_mxnet(rng, shape, kind):
    """MXNet has no forward mode: lq_jvp on MXNet arrays against finite differences."""
    a, da = random_matrix(rng, shape, cond=COND), random_matrix(rng, shape)
    l_factor, q = diffqr.lq(to_mx(a, kind))
    tangents = diffqr.lq_jvp(to_mx(a, kind), l_factor, q, to_mx(da, kind))
    fd = central_difference(lambda x: [y.asnumpy() for y in diffqr.lq(to_mx(x, kind))], [a], [da])
    assert relative_error([t.asnumpy() for t in tangents], fd) < FD_TOL
    l_bar, q_bar = random_matrix(rng, l_factor.shape), random_matrix(rng, q.shape)
    a_bar = diffqr.lq_vjp(*(to_mx(x, kind) for x in (a, l_factor.asnumpy(), q.asnumpy(), l_bar,
                                                       q_bar)))
    np.testing.assert_allclose(
        a_bar.asnumpy(),
        diffqr.lq_vjp(a, l_factor.asnumpy(), q.asnumpy(), l_bar, q_bar), rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_explicit_jvp_is_recorded_by_mxnet_autograd(rng, kind):
    """The vocabulary uses MXNet ops, so autograd through the linear map dA ↦ (dQ, dR) gives
    its transpose: the VJP."""
    a = random_matrix(rng, (4, 6), cond=COND)
    q, r = diffqr.qr(a)
    q_bar, r_bar = random_matrix(rng, q.shape), random_matrix(rng, r.shape)
    da = to_mx(random_matrix(rng, a.shape), kind)
    da.attach_grad()
    with mx.autograd.record():
        dq, dr = diffqr.qr_jvp(to_mx(a, kind), to_mx(q, kind), to_mx(r, kind), da)
    mx.autograd.backward([dq, dr], [to_mx(q_bar, kind), to_mx(r_bar, kind)])
    np.testing.assert_allclose(da.grad.asnumpy(), diffqr.qr_vjp(a, q, r, q_bar, r_bar),
                               rtol=0, atol=1e-12)


# A two-input primitive (Y = A B, host NumPy rules): the generic hook with several inputs.
def _product_vjp(xp, inputs, outputs, cotangents):
    (a, b), (y_bar,) = inputs, cotangents
    return xp.matmul(y_bar, xp.mH(b)), None if a is None else xp.matmul(xp.mH(a), y_bar)


PRODUCT = Primitive("product", lambda xp, a, b: (xp.matmul(a, b),), _product_vjp,
                    lambda xp, inputs, outputs, tangents: (), num_inputs=2, option_names=())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("needs_grad", [(True, True), (False, True), (True, False)])
def test_apply_with_several_inputs(rng, kind, needs_grad):
    """Every requested input gradient is written, even behind one that is not requested (MXNet
    1.9's Function.backward stops at the first such input: diffqr works around it)."""
    a0, b0, y_bar = (random_matrix(rng, s) for s in ((3, 4), (4, 2), (3, 2)))
    a, b = to_mx(a0, kind), to_mx(b0, kind)
    for x, needed in zip((a, b), needs_grad, strict=True):
        if needed:
            x.attach_grad()
    with mx.autograd.record():
        (y,) = BACKEND.apply(PRODUCT, (a, b), {})
    y.backward(to_mx(y_bar, kind))
    assert type(y) is type(a)
    if needs_grad[0]:
        np.testing.assert_allclose(a.grad.asnumpy(), y_bar @ b0.T, rtol=1e-13)
    if needs_grad[1]:
        np.testing.assert_allclose(b.grad.asnumpy(), a0.T @ y_bar, rtol=1e-13)


def test_apply_passes_zero_for_a_none_cotangent(rng):
    a, b = mx.nd.array(random_matrix(rng, (3, 4)), dtype="float64"), None
    product_with_none = Primitive(
        "product_a", lambda xp, a: (a * 2,), lambda xp, inputs, outputs, cotangents: (None,),
        lambda xp, inputs, outputs, tangents: (), num_inputs=1, option_names=())
    a.attach_grad()
    with mx.autograd.record():
        (b,) = BACKEND.apply(product_with_none, (a,), {})
    b.backward(mx.nd.ones(b.shape, dtype="float64"))
    np.testing.assert_array_equal(a.grad.asnumpy(), np.zeros((3, 4)))


# ---------------------------------------------------------------------- bad input


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", ["int32", "int64", "float16"])
def test_unsupported_dtype_is_a_type_error_naming_a(kind, dtype):
    a = KINDS[kind].ones((4, 3), dtype=dtype)
    with pytest.raises(TypeError, match=rf"A has dtype {dtype}.*float64"):
        diffqr.qr(a)
    with pytest.raises(TypeError, match=rf"A has dtype {dtype}"):
        diffqr.lq(a)


@pytest.mark.parametrize("kind", KINDS)
def test_bad_shape_rank_and_values(kind):
    module = KINDS[kind]
    with pytest.raises(ValueError, match="A must have at least 2 dimensions"):
        diffqr.qr(module.ones((4,), dtype="float64"))
    with pytest.raises(ValueError, match="rank must satisfy"):
        diffqr.qr(module.ones((4, 3), dtype="float64"), rank=4)
    a = np.ones((4, 3))
    a[1, 2] = np.nan
    with pytest.raises(ValueError, match="A contains NaN"):
        diffqr.qr(module.array(a, dtype="float64"))
    with pytest.raises(ValueError, match="mode must be one of"):
        diffqr.lq(module.ones((4, 3), dtype="float64"), mode="r")


def test_mixing_mxnet_and_numpy_arrays_is_a_type_error(rng):
    a = random_matrix(rng, (5, 3))
    q, r = np.linalg.qr(a)
    with pytest.raises(TypeError, match="A is a mxnet array, Q is a numpy array"):
        diffqr.qr_vjp(mx.nd.array(a, dtype="float64"), q, r, None, r)


def test_rank_deficiency_in_backward_is_reported(rng, capsys):
    """MXNet prints an exception raised in a Function's backward and raises MXNetError when the
    gradient is read (its engine is asynchronous); the printed message is diffqr's."""
    a0 = random_matrix(rng, (7, 6))
    a0[:, 1] = 2 * a0[:, 0]
    a = mx.nd.array(a0, dtype="float64")
    a.attach_grad()
    with mx.autograd.record():
        _, r = diffqr.qr(a)  # Q and R: no derivative (R alone has a Gram-consistent one)
    mx.autograd.backward([r], [mx.nd.ones(r.shape, dtype="float64")])
    with pytest.raises(mx.base.MXNetError):
        a.grad.asnumpy()
    printed = capsys.readouterr().out
    assert "RankDeficientError" in printed and "pivoting=True" in printed


def test_second_derivative_is_refused_not_wrong(rng):
    """MXNet records no Function's backward: differentiating a gradient raises, never returns a
    gradient that silently treats the first one as a constant."""
    a = mx.nd.array(random_matrix(rng, (5, 3)), dtype="float64")
    a.attach_grad()
    with mx.autograd.record():
        r = diffqr.qr(a, mode="r")
        (g,) = mx.autograd.grad((r * r).sum(), [a], create_graph=True, retain_graph=True)
        second = (g * g).sum() + (a * a).sum()
    with pytest.raises(mx.base.MXNetError, match="non-differentiable"):
        second.backward()
