"""diffqr.lstsq in PyTorch: autograd (all orders), forward AD, torch.func, torch.compile."""

from __future__ import annotations

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

import diffqr
from diffqr._verify import random_matrix

DTYPES = [torch.float32, torch.float64, torch.complex64, torch.complex128]
REAL = {torch.float32: torch.float32, torch.complex64: torch.float32,
        torch.float64: torch.float64, torch.complex128: torch.float64}
SHAPES = {"deep": (6, 4), "wide": (4, 6)}


def tensors(rng, shape, rhs, dtype=torch.float64, requires_grad=False):
    name = str(dtype).removeprefix("torch.")
    a = torch.from_numpy(random_matrix(rng, shape, name, cond=10.0))
    b = torch.from_numpy(random_matrix(rng, rhs, name))
    return a.requires_grad_(requires_grad), b.requires_grad_(requires_grad)


def ridge(value, dtype=torch.float64, requires_grad=True):
    return torch.tensor(value, dtype=REAL[dtype], requires_grad=requires_grad)


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
@pytest.mark.parametrize("kind", list(SHAPES))
@pytest.mark.parametrize("with_ridge", [False, True])
def test_gradcheck_all_orders(rng, dtype, kind, with_ridge):
    m, n = (4, 3) if kind == "deep" else (3, 4)
    a, b = tensors(rng, (m, n), (m, 2), dtype, requires_grad=True)
    if with_ridge:
        inputs, fn = (a, b, ridge(0.5)), lambda a, b, lam: diffqr.lstsq(a, b, ridge=lam)
    else:
        inputs, fn = (a, b), diffqr.lstsq
    assert gradcheck(fn, inputs, check_forward_ad=True)
    # Second order by random projections (fast_mode): a full numerical Hessian is too slow here.
    assert gradgradcheck(fn, inputs, check_fwd_over_rev=True, fast_mode=True)


def test_gradcheck_vector_rhs_batched(rng):
    a, b = tensors(rng, (2, 5, 3), (2, 5), requires_grad=True)
    assert diffqr.lstsq(a, b).shape == (2, 3)
    assert gradcheck(diffqr.lstsq, (a, b), check_forward_ad=True)


def test_torch_func_transforms(rng):
    a, b = tensors(rng, (3, 6, 4), (3, 6, 2))
    lam = ridge(0.3, requires_grad=False)
    batched = torch.func.vmap(diffqr.lstsq)(a, b)
    assert torch.allclose(batched, diffqr.lstsq(a, b), rtol=1e-13, atol=1e-13)
    lams = torch.tensor([0.1, 0.3], dtype=torch.float64)
    over_ridge = torch.func.vmap(lambda lam: diffqr.lstsq(a, b, ridge=lam))(lams)
    assert torch.allclose(over_ridge[1], diffqr.lstsq(a, b, ridge=0.3), rtol=1e-13, atol=1e-13)

    def loss(a, b, lam):
        return (diffqr.lstsq(a, b, ridge=lam) ** 2).sum()

    grads = torch.func.grad(loss, argnums=(0, 1, 2))(a, b, lam)
    leaves = [t.clone().requires_grad_() for t in (a, b, lam)]
    for g, r in zip(grads, torch.autograd.grad(loss(*leaves), leaves), strict=True):
        assert torch.allclose(g, r, rtol=1e-12, atol=1e-12)
    per_sample = torch.func.vmap(torch.func.grad(loss), in_dims=(0, 0, None))(a, b, lam)
    assert torch.allclose(per_sample, grads[0], rtol=1e-12, atol=1e-12)
    jac_rev = torch.func.jacrev(diffqr.lstsq, argnums=(0, 1))(a[0], b[0])
    jac_fwd = torch.func.jacfwd(diffqr.lstsq, argnums=(0, 1))(a[0], b[0])
    for r, f in zip(jac_rev, jac_fwd, strict=True):
        assert torch.allclose(r, f, rtol=1e-12, atol=1e-12)
    hess = torch.func.hessian(lambda a_: loss(a_, b[0], lam))(a[0])
    hess_rev = torch.func.jacrev(torch.func.jacrev(lambda a_: loss(a_, b[0], lam)))(a[0])
    assert torch.allclose(hess, hess_rev, rtol=1e-10, atol=1e-10)


@pytest.mark.xfail(strict=True, reason="PyTorch bug (pytorch/pytorch#197867): nested jacfwd "
                   "through an autograd.Function returns zero higher derivatives; use "
                   "jacfwd(jacrev)")
def test_forward_over_forward(rng):
    a, b = tensors(rng, (5, 3), (5, 2))

    def loss(a_):
        return (diffqr.lstsq(a_, b) ** 2).sum()

    expected = torch.func.jacfwd(torch.func.jacrev(loss))(a)
    assert torch.allclose(torch.func.jacfwd(torch.func.jacfwd(loss))(a), expected)


def test_compile(rng):
    a, b = tensors(rng, (6, 4), (6, 2), requires_grad=True)
    lam = ridge(0.3)

    def loss(a, b, lam):
        return (diffqr.lstsq(a, b, ridge=lam) ** 2).sum()

    compiled = torch.compile(loss)  # compiled code uses diffqr's Functions without forward mode
    got = torch.autograd.grad(compiled(a, b, lam), (a, b, lam))
    for g, r in zip(got, torch.autograd.grad(loss(a, b, lam), (a, b, lam)), strict=True):
        assert torch.allclose(g, r, rtol=1e-12, atol=1e-12)


def test_errors_and_no_mutation(rng):
    a, b = tensors(rng, (6, 4), (6, 2))
    a0, b0 = a.clone(), b.clone()
    deficient = a.clone()
    deficient[:, 3] = deficient[:, 0]
    with pytest.raises(diffqr.RankDeficientError, match="ridge > 0"):
        diffqr.lstsq(deficient, b)
    assert torch.isfinite(diffqr.lstsq(deficient, b, ridge=ridge(0.1))).all()
    with pytest.raises(ValueError, match="ridge must be >= 0"):
        diffqr.lstsq(a, b, ridge=ridge(-0.1))
    with pytest.raises(ValueError, match=r"\(6, 4\).*\(5, 2\)"):
        diffqr.lstsq(a, b[:5])
    with pytest.raises(TypeError, match="one framework"):
        diffqr.lstsq(a, b.numpy())
    with pytest.raises(TypeError, match="float32"):
        diffqr.lstsq(a.float(), b.float(), ridge=torch.tensor(0.1, dtype=torch.complex64))
    x = diffqr.lstsq(a.requires_grad_(), b, ridge=0.2)
    x.sum().backward()
    assert torch.equal(a.detach(), a0) and torch.equal(b, b0)
