"""PyTorch-specific fast paths: substitution for many tiny triangular systems, fused products,
and the block-split VJP, each against LAPACK / NumPy and through double backward."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import diffqr
import diffqr._backends.torch as torch_backend
import diffqr._backends.torch_fast as torch_fast
import diffqr._tuning as tuning
from diffqr._backends.base import Backend
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
        assert torch_fast._many_tiny_systems(t, b)
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
    assert torch_fast._many_small_matrices(a)
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
    monkeypatch.setattr(tuning, "TORCH_MANY_SYSTEMS", 1)  # take the substitution path
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


# ---------------------------------------------------------------- batches of tiny matrices

import diffqr._backends.torch_batch_last as torch_small  # noqa: E402

TINY_SHAPES = [(3, 3), (4, 2), (2, 4), (1, 3), (3, 1), (4, 4)]


def _tiny_batch(shape, dtype, seed=0, batch=(tuning.TORCH_BATCH_LAST_MIN_BATCH,)):
    return torch.randn(*batch, *shape, dtype=dtype, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shape", TINY_SHAPES)
@pytest.mark.parametrize("mode", ["reduced", "complete"])
def test_batch_last_qr_matches_lapack(dtype, shape, mode):
    """Same factors as torch.linalg.qr (LAPACK's reflectors and gauge) to κ·eps, batch-last."""
    a = _tiny_batch(shape, dtype)
    saved = a.clone()
    assert torch_small.applies(a)
    q, r = XP.householder_qr(a, complete=mode == "complete")
    qn, rn = torch.linalg.qr(a, mode=mode)
    assert torch.equal(a, saved)
    assert q.shape == qn.shape and r.shape == rn.shape
    assert torch_small.is_batch_last(q) and torch_small.is_batch_last(r)
    assert q._base is None and r._base is None  # outputs of an autograd.Function
    eps = torch.finfo(dtype).eps
    cond = torch.linalg.cond(a.double())[..., None, None]  # per matrix
    tol = 30 * eps * torch.clamp(cond, max=1 / eps)
    assert ((q - qn).abs() <= tol).all() and ((r - rn).abs() <= tol * rn.abs().amax()).all()
    eye = torch.eye(q.shape[-1], dtype=dtype)
    assert (q.mT @ q - eye).abs().max() <= 20 * eps
    assert (q @ r - a).abs().max() <= 20 * eps * a.abs().max()
    assert torch.equal(r, r.triu())


def test_batch_last_qr_keeps_lapack_gauge_of_reduced_columns():
    """Columns already zero below the diagonal get no reflection (τ = 0): R = A exactly."""
    a = _tiny_batch((3, 3), torch.float64).triu()
    a[:5, 1, 1] = 0.0  # and a zero pivot
    q, r = XP.householder_qr(a, complete=False)
    qn, rn = torch.linalg.qr(a)
    torch.testing.assert_close(r, rn, rtol=0, atol=0)
    torch.testing.assert_close(q, qn, rtol=0, atol=0)


@pytest.mark.parametrize("scale", [1e200, 1e-200, float("nan"), float("inf")])
def test_batch_last_qr_leaves_extreme_values_to_lapack(scale):
    a = _tiny_batch((3, 3), torch.float64)
    a[7] *= scale
    q, r = XP.householder_qr(a, complete=False)
    qn, rn = torch.linalg.qr(a)
    torch.testing.assert_close(q, qn, rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(r, rn, rtol=0, atol=0, equal_nan=True)


def test_batch_last_qr_tiny_columns():
    """A tail too small to square still gets LAPACK's reflection (the sign of R_jj); a column
    whose norm cannot be squared sends the batch to LAPACK."""
    a = _tiny_batch((3, 3), torch.float64)
    a[3, 1:, 0] = 1e-170
    q, r = XP.householder_qr(a, complete=False)
    qn, rn = torch.linalg.qr(a)
    torch.testing.assert_close(r, rn, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(q, qn, rtol=1e-10, atol=1e-10)
    a[5, :, 1] = 1e-170
    q, r = XP.householder_qr(a, complete=False)
    qn, rn = torch.linalg.qr(a)
    torch.testing.assert_close(r, rn, rtol=0, atol=0)
    torch.testing.assert_close(q, qn, rtol=0, atol=0)


def test_batch_last_multi_dimensional_batch():
    a = _tiny_batch((3, 3), torch.float64, batch=(2, tuning.TORCH_BATCH_LAST_MIN_BATCH // 2))
    q, r = diffqr.qr(a)
    qn, rn = torch.linalg.qr(a)
    assert torch_small.is_batch_last(q)
    torch.testing.assert_close(q, qn, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(r, rn, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("shape", TINY_SHAPES)
def test_batch_last_gradient_matches_numpy_rule(shape):
    """Forward and backward on batch-last factors (unrolled products, in-place substitution)."""
    a = _tiny_batch(shape, torch.float64, seed=1)
    gen = torch.Generator().manual_seed(2)
    at = a.clone().requires_grad_()
    q, r = diffqr.qr(at)
    assert torch_small.is_batch_last(q)
    q_bar, r_bar = (torch.randn(x.shape, dtype=x.dtype, generator=gen) for x in (q, r))
    saved = [x.clone() for x in (q, r, q_bar, r_bar)]
    (grad,) = torch.autograd.grad((q, r), at, (q_bar, r_bar))
    for before, after in zip(saved, (q, r, q_bar, r_bar), strict=True):
        assert torch.equal(before, after)
    an = a.numpy()
    qn, rn = diffqr.qr(an)
    expected = diffqr.qr_vjp(an, qn, rn, q_bar.numpy(), r_bar.numpy())
    cond = np.linalg.cond(an)[:, None, None]
    scale = np.abs(expected).max(axis=(-2, -1), keepdims=True)
    assert (np.abs(grad.numpy() - expected) <= 1e-12 * cond**2 * scale).all()


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4)])
def test_batch_last_double_backward(monkeypatch, shape):
    """gradcheck/gradgradcheck with the batch-last forward (small batch: thresholds lowered)."""
    monkeypatch.setattr(tuning, "TORCH_BATCH_LAST_MIN_BATCH", 2)
    monkeypatch.setattr(tuning, "TORCH_MANY_SYSTEMS", 1)
    a = _tiny_batch(shape, torch.float64, seed=3, batch=(5,)).requires_grad_()
    assert torch_small.is_batch_last(diffqr.qr(a.detach())[0])

    def f(x):
        return tuple(diffqr.qr(x))

    assert torch.autograd.gradcheck(f, (a,), check_forward_ad=True)
    assert torch.autograd.gradgradcheck(f, (a,))


def test_batch_last_under_torch_func():
    """vmap and grad transforms fall back to LAPACK and give the same numbers."""
    a = _tiny_batch((3, 3), torch.float64, seed=4, batch=(2, tuning.TORCH_BATCH_LAST_MIN_BATCH))
    q_bar = torch.randn(a.shape[1:], dtype=a.dtype, generator=torch.Generator().manual_seed(5))

    def loss(x):
        return (diffqr.qr(x)[0] * q_bar).sum()

    grads = torch.func.vmap(torch.func.grad(loss))(a)
    for i in range(2):
        x = a[i].clone().requires_grad_()
        (eager,) = torch.autograd.grad(loss(x), x)
        torch.testing.assert_close(grads[i], eager, rtol=1e-10, atol=1e-10)


def test_unrolled_product_of_mixed_layouts():
    gen = torch.Generator().manual_seed(6)
    a = torch_small.to_batch_last(torch.randn(300, 3, 4, dtype=torch.float64, generator=gen))
    b = torch.randn(300, 4, 2, dtype=torch.float64, generator=gen)
    assert torch_small.takes(a, b) and torch_small.takes(b.mT, a.mT)
    torch.testing.assert_close(XP.matmul(a, b), a @ b)
    torch.testing.assert_close(XP.matmul(b.mT, a.mT), b.mT @ a.mT)
    assert torch_small.takes(a.mT, a)
    torch.testing.assert_close(XP.addmm(a.mT @ a, a.mT, a, alpha=-1.0),
                               torch.zeros(300, 4, 4, dtype=a.dtype), atol=1e-12, rtol=0)


# ---------------------------------------------------------------- vocabulary that fills one result

@pytest.mark.parametrize("grad", [False, True])
def test_assembling_vocabulary_matches_the_generic_forms(grad):
    gen = torch.Generator().manual_seed(8)

    def rand(*shape):
        return torch.randn(*shape, dtype=torch.float64, generator=gen).requires_grad_(grad)

    a11, a12, a21, a22 = rand(2, 3, 3), rand(2, 3, 4), rand(2, 4, 3), rand(2, 4, 4)
    base = Backend()
    base.concat = XP.concat
    base.tril, base.triu = XP.tril, XP.triu
    torch.testing.assert_close(XP.block_2x2(a11, a12, a21, a22),
                               Backend.block_2x2(base, a11, a12, a21, a22))
    left, q, r2 = rand(2, 3, 3), rand(2, 3, 3), rand(2, 3, 5)
    torch.testing.assert_close(XP.concat_product(left, q, r2), torch.cat([left, q @ r2], -1))
    torch.testing.assert_close(XP.triangles(a22, a22.mT), a22.tril() + a22.mT.triu(1))
    c = rand(2, 3, 5)
    torch.testing.assert_close(XP.addmm(c, q, r2, alpha=-1.0), c - q @ r2)


@pytest.mark.parametrize("batch", [(), (3,), (2, 1)])
@pytest.mark.parametrize("upper", [True, False])
@pytest.mark.parametrize("adjoint", [True, False])
def test_right_solve_in_left_form_matches_and_stays_row_major(batch, upper, adjoint):
    """float64 ``x op(r) = b`` is solved as ``op(r)ᴴ xᴴ = bᴴ``: same x, and row-major like b."""
    gen = torch.Generator().manual_seed(9)
    r = torch.randn(*batch, 5, 5, dtype=torch.float64, generator=gen) + 5 * torch.eye(5)
    r = r.triu() if upper else r.tril()
    b = torch.randn(*batch, 7, 5, dtype=torch.float64, generator=gen)
    x = XP.solve_triangular(r, b, upper=upper, left=False, adjoint=adjoint)
    op_r = r.mH if adjoint else r
    torch.testing.assert_close(x @ op_r, b, rtol=1e-12, atol=1e-12)
    assert x.is_contiguous()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.complex128])
@pytest.mark.parametrize("batch", [(), (3,), (2, 1)])
@pytest.mark.parametrize("grad", [False, True])
def test_right_solve_consuming_in_place_matches(monkeypatch, dtype, batch, grad):
    """``g r⁻ᴴ`` (solved in g's own buffer for float64 without autodiff): the same as the plain
    solve, and ``r`` unchanged."""
    gen = torch.Generator().manual_seed(10)
    r = (torch.randn(*batch, 6, 6, dtype=dtype, generator=gen) + 6 * torch.eye(6)).triu()
    g = torch.randn(*batch, 9, 6, dtype=dtype, generator=gen)
    r.requires_grad_(grad)
    g.requires_grad_(grad)
    r_saved, g_saved = r.detach().clone(), g.detach().clone()
    solve, in_place = torch.linalg.solve_triangular, []

    def spy(*args, out=None, **kwargs):
        in_place.append(out is not None)
        return solve(*args, out=out, **kwargs)

    monkeypatch.setattr(torch.linalg, "solve_triangular", spy)
    x = XP.right_solve_consuming(r, g.clone() if grad else g)
    assert in_place == [dtype == torch.float64 and not grad]
    tol = 1e-4 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(x @ r.mH, g_saved, rtol=tol, atol=tol, check_dtype=False)
    assert torch.equal(r.detach(), r_saved)
    assert x.requires_grad == grad
    assert x.is_contiguous() or dtype != torch.float64  # float64: the left form, row-major
    if grad and dtype == torch.float64:  # recorded by autograd: the out-of-place route
        assert torch.autograd.gradcheck(lambda y: XP.right_solve_consuming(r.detach(), y), g)
