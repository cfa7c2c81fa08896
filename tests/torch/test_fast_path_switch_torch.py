"""PyTorch with every fast path off (``diffqr.fast_paths(False)``): the batch-last QR and the
substitution solves are not taken, and values and gradients agree with the fast paths."""

from __future__ import annotations

import torch

import diffqr
import diffqr._backends.torch_batch_last as batch_last
import diffqr._backends.torch_fast as torch_fast
import diffqr._tuning as tuning


def _loss_and_grad(a):
    a = a.clone().requires_grad_()
    q, r = diffqr.qr(a)
    weights = torch.linspace(-1, 1, q.numel() + r.numel(), dtype=a.dtype)
    loss = (q.flatten() * weights[: q.numel()]).sum() + (r.flatten() * weights[q.numel():]).sum()
    loss.backward()
    return q.detach(), r.detach(), a.grad


def test_fast_paths_off_takes_the_plain_route_and_agrees(monkeypatch):
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(tuning.TORCH_BATCH_LAST_MIN_BATCH, 3, 3, dtype=torch.float64, generator=gen)
    q_fast, r_fast, g_fast = _loss_and_grad(a)
    assert batch_last.is_batch_last(q_fast)  # the fast path was taken

    def forbidden(*args, **kwargs):
        raise AssertionError("fast path taken with fast paths off")

    with diffqr.fast_paths(False):
        monkeypatch.setattr(batch_last, "householder_qr", forbidden)
        monkeypatch.setattr(torch_fast, "_substitute", forbidden)
        q, r, g = _loss_and_grad(a)
    assert not batch_last.is_batch_last(q)
    torch.testing.assert_close(q, q_fast, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(r, r_fast, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(g, g_fast, rtol=1e-8, atol=1e-8)
