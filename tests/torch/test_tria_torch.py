"""``tria`` and ``qr(A, mode="r")`` in PyTorch: autograd, gradcheck, torch.func, rank deficient."""

from __future__ import annotations

import numpy as np
import torch
from tria_cases import deficient_cases, gram_tangent, tangent

import diffqr


def _gram_loss(a, w):
    lower = diffqr.tria(a, check_finite=False)
    return torch.real(torch.einsum("ij,...jk,...ik->", w, lower, lower.conj()))


def test_gradcheck_full_rank():
    a = torch.tensor(tangent(np.zeros((3, 5)), 1), requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: diffqr.tria(x), (a,))
    b = torch.tensor(tangent(np.zeros((5, 3)), 2), requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: diffqr.qr(x, mode="r"), (b,))


def test_gram_loss_gradient_at_rank_deficiency():
    w = torch.tensor([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 1.5]], dtype=torch.float64)
    for a_np in (np.zeros((3, 4)), np.swapaxes(deficient_cases()[5][1][:3], -1, -2)[:3]):
        a = torch.tensor(a_np, requires_grad=True)
        _gram_loss(a, w).backward()
        torch.testing.assert_close(a.grad, 2 * w @ a.detach(), atol=1e-12, rtol=0)


def test_torch_func_jvp_and_vmap_gram_consistent():
    a_np = deficient_cases()[-1][1]
    a, da = torch.tensor(a_np), torch.tensor(tangent(a_np))

    def gram(x):
        r = diffqr.qr(x, mode="r", check_finite=False)
        return r.mH @ r

    want = torch.tensor(gram_tangent(a_np, tangent(a_np)))
    torch.testing.assert_close(torch.func.jvp(gram, (a,), (da,))[1], want, atol=1e-12, rtol=0)
    mapped = torch.func.vmap(lambda x, dx: torch.func.jvp(gram, (x,), (dx,))[1])(a, da)
    torch.testing.assert_close(mapped, want, atol=1e-12, rtol=0)


def test_complex_backward_finite_at_zero():
    a = torch.zeros(2, 3, dtype=torch.complex128, requires_grad=True)
    torch.view_as_real(diffqr.tria(a).resolve_conj()).sum().backward()
    assert torch.isfinite(torch.view_as_real(a.grad)).all()
