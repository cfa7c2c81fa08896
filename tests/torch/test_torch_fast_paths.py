"""PyTorch-specific fast paths: substitution for many tiny triangular systems, fused products,
and the block-split VJP, each against LAPACK / NumPy and through double backward."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import diffqr
import diffqr._backends.torch as torch_backend
from diffqr._verify import random_matrix

XP = torch_backend.BACKEND


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
@pytest.mark.parametrize("k,cols", [(1, 2), (3, 3), (3, 5), (4, 2)])
def test_substitution_matches_lapack(dtype, k, cols):
    gen = torch.Generator().manual_seed(k * 10 + cols)
    r = torch.linalg.qr(torch.randn(300, k, k, dtype=dtype, generator=gen)).R
    for left, upper, adjoint in itertools.product((True, False), repeat=3):
        t = r if upper else r.mH
        b = torch.randn(300, *((k, cols) if left else (cols, k)), dtype=dtype, generator=gen)
        assert torch_backend._many_tiny_systems(t, b)
        x = XP.solve_triangular(t, b, upper=upper, left=left, adjoint=adjoint)
        expected = torch.linalg.solve_triangular(t.mH if adjoint else t, b,
                                                 upper=upper != adjoint, left=left)
        torch.testing.assert_close(x, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
@pytest.mark.parametrize("shape", [(100, 3, 3), (70, 4, 6), (2, 50, 6, 4)])
def test_masked_triangles_of_small_batches_equal_tril_triu(dtype, shape):
    """Many small matrices take the masked path; exact zeros even where the input is NaN/inf."""
    a = torch.randn(shape, dtype=dtype, generator=torch.Generator().manual_seed(len(shape)))
    a[..., 0, -1] = torch.nan
    a[..., -1, 0] = torch.inf
    assert torch_backend._many_small_matrices(a)
    for k in (-1, 0, 1):
        torch.testing.assert_close(XP.tril(a, k), torch.tril(a, k), equal_nan=True, rtol=0,
                                   atol=0)
        torch.testing.assert_close(XP.triu(a, k), torch.triu(a, k), equal_nan=True, rtol=0,
                                   atol=0)


def test_tiny_batch_gradient_matches_numpy_rule(rng):
    """10⁴-style tiny batches take the substitution path; the explicit NumPy rule uses LAPACK."""
    a = random_matrix(rng, (400, 3, 3), "complex128")
    q_bar = random_matrix(rng, a.shape, "complex128")
    r_bar = random_matrix(rng, a.shape, "complex128")
    at = torch.from_numpy(a).requires_grad_()
    q, r = diffqr.qr(at)
    (grad,) = torch.autograd.grad((q, r), at, (torch.from_numpy(q_bar), torch.from_numpy(r_bar)))
    qn, rn = diffqr.qr(a)
    expected = diffqr.qr_vjp(a, qn, rn, q_bar, r_bar)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(grad.numpy(), expected, rtol=1e-9, atol=1e-9 * scale)


@pytest.mark.parametrize("shape", [(4, 3, 3), (2, 5, 3), (3, 2, 4)])
def test_tiny_path_double_backward(monkeypatch, shape):
    monkeypatch.setattr(torch_backend, "_MANY_SYSTEMS", 1)  # take the substitution path
    a = torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    a.requires_grad_()

    def f(x):
        q, r = diffqr.qr(x)
        return q, r

    assert torch.autograd.gradcheck(f, (a,), check_forward_ad=True)
    assert torch.autograd.gradgradcheck(f, (a,))


@pytest.mark.parametrize("shape", [(80, 70), (70, 70), (66, 90)])
def test_split_vjp_double_backward(rng, shape):
    """Forward-over-reverse through the block-split VJP (k >= 64) against finite differences."""
    a = torch.from_numpy(random_matrix(rng, shape))
    q0, r0 = diffqr.qr(a)
    q_bar, r_bar = torch.randn_like(q0), torch.randn_like(r0)
    v, direction = torch.randn_like(a), torch.randn_like(a)

    def first_order(x):
        x = x.detach().requires_grad_()
        (g,) = torch.autograd.grad(diffqr.qr(x), x, (q_bar, r_bar), create_graph=True)
        return x, g

    x, g = first_order(a)
    (second,) = torch.autograd.grad((g * v).sum(), x)
    h = 1e-6
    plus, minus = first_order(a + h * direction)[1], first_order(a - h * direction)[1]
    fd = float(((plus - minus).detach() * v).sum()) / (2 * h)
    analytic = float((second * direction).sum())
    assert abs(analytic - fd) <= 1e-6 * max(abs(fd), 1.0)


def test_addmm_matches_plain_product():
    gen = torch.Generator().manual_seed(0)
    for shape in [(), (3,), (2, 3)]:
        c = torch.randn(*shape, 4, 5, dtype=torch.float64, generator=gen)
        a = torch.randn(*shape, 4, 6, dtype=torch.float64, generator=gen)
        b = torch.randn(*shape, 6, 5, dtype=torch.float64, generator=gen)
        torch.testing.assert_close(XP.addmm(c, a, b, alpha=-1.0), c - a @ b)
