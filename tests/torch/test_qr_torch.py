"""PyTorch: diffqr.qr/lq through autograd, forward AD, torch.func and torch.compile.

Oracles: torch's own gradcheck/gradgradcheck (finite differences, incl. forward AD), agreement with
diffqr's NumPy explicit rules, agreement with torch.linalg.qr where PyTorch has a gradient, and
float64 results for the single-precision dtypes.
"""

from __future__ import annotations

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

import diffqr
from diffqr._verify import random_matrix

F64 = [torch.float64, torch.complex128]

QR_CASES = [  # (shape, options)
    ((5, 5), {}),
    ((7, 4), {}),
    ((4, 7), {}),
    ((2, 6, 4), {}),
    ((7, 3), {"mode": "complete"}),
    ((7, 4), {"mode": "r"}),
    ((7, 6), {"rank": 3}),
    ((6, 4), {"pivoting": True}),
    ((4, 6), {"pivoting": True}),
    ((2, 4, 6), {"pivoting": True}),
    ((7, 6), {"pivoting": True, "rank": 2}),
]
LQ_CASES = [((4, 7), {}), ((7, 4), {}), ((4, 7), {"mode": "complete"}),
            ((6, 4), {"pivoting": True})]


def _tensor(rng, shape, dtype, requires_grad=False):
    name = str(dtype).removeprefix("torch.")
    return torch.from_numpy(random_matrix(rng, shape, name)).requires_grad_(requires_grad)


def _differentiable(fn, options):
    """The differentiable outputs (drop the integer permutation)."""

    def f(a):
        out = fn(a, **options)
        if options.get("mode") == "r":
            return out[0] if options.get("pivoting") else out
        return tuple(out[:2])

    return f


@pytest.mark.parametrize("dtype", F64)
@pytest.mark.parametrize(("shape", "options"), QR_CASES)
def test_qr_gradcheck(rng, shape, options, dtype):
    a = _tensor(rng, shape, dtype, requires_grad=True)
    f = _differentiable(diffqr.qr, options)
    assert gradcheck(f, (a,), check_forward_ad=True, check_batched_grad=True)
    assert gradgradcheck(f, (a,))


@pytest.mark.parametrize("dtype", F64)
@pytest.mark.parametrize(("shape", "options"), LQ_CASES)
def test_lq_gradcheck(rng, shape, options, dtype):
    a = _tensor(rng, shape, dtype, requires_grad=True)
    f = _differentiable(diffqr.lq, options)
    assert gradcheck(f, (a,), check_forward_ad=True)
    assert gradgradcheck(f, (a,))


@pytest.mark.parametrize("dtype", F64)
@pytest.mark.parametrize("shape", [(7, 4), (4, 7), (5, 5)])
def test_gradient_agrees_with_torch_native(rng, shape, dtype):
    a = _tensor(rng, shape, dtype)
    q_bar, r_bar = (torch.from_numpy(random_matrix(rng, x.shape, str(dtype)[6:]))
                    for x in torch.linalg.qr(a))

    def grad(qr_fn):
        x = a.clone().requires_grad_()
        q, r = qr_fn(x)
        torch.autograd.backward((q, r), (q_bar, r_bar))
        return x.grad

    torch.testing.assert_close(grad(diffqr.qr), grad(torch.linalg.qr), rtol=1e-10, atol=1e-12)


def _loss(qr_fn):
    def loss(x):
        q, r = qr_fn(x)
        return q.sum() ** 2 + (r * r).sum()

    return loss


def test_vmap_grad_and_jacobians(rng):
    a = _tensor(rng, (3, 6, 4), torch.float64)
    ours, native = _loss(diffqr.qr), _loss(torch.linalg.qr)
    torch.testing.assert_close(torch.func.vmap(torch.func.grad(ours))(a),
                               torch.func.vmap(torch.func.grad(native))(a))
    torch.testing.assert_close(torch.func.jacfwd(ours)(a[0]), torch.func.jacrev(native)(a[0]))
    torch.testing.assert_close(torch.func.hessian(ours)(a[0]), torch.func.hessian(native)(a[0]))


def test_vmap_of_pivoted_qr(rng):
    """The pivot choice has its own vmap rule: vmapped pivoted gradients equal a Python loop."""
    a = _tensor(rng, (3, 4, 6), torch.float64)

    def loss(x):
        q, r, _ = diffqr.qr(x, pivoting=True)
        return q.sum() ** 2 + (r * r).sum()

    looped = torch.stack([torch.func.grad(loss)(x) for x in a])
    torch.testing.assert_close(torch.func.vmap(torch.func.grad(loss))(a), looped)


def test_torch_compile_matches_eager(rng):
    a = _tensor(rng, (8, 5), torch.float64)
    loss = _loss(lambda x: diffqr.qr(x, pivoting=True)[:2])
    compiled = torch.compile(loss, fullgraph=True)
    x1, x2 = a.clone().requires_grad_(), a.clone().requires_grad_()
    loss(x1).backward()
    compiled(x2).backward()
    torch.testing.assert_close(x1.grad, x2.grad)


