"""Hygiene only torch has: a requires_grad leaf through double backward, torch.compile as the
first use (no mutation, determinism, threads and imports: tests/conformance/test_reliability.py)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import torch

import diffqr

CALLS = (
    lambda x: diffqr.qr(x), lambda x: diffqr.qr(x, mode="complete"),
    lambda x: [diffqr.qr(x, mode="r")], lambda x: diffqr.qr(x, pivoting=True)[:2],
    lambda x: diffqr.qr(x, pivoting=True, rank=2)[:2], lambda x: diffqr.lq(x),
    lambda x: diffqr.lq(x, mode="complete"), lambda x: diffqr.lq(x, pivoting=True)[:2],
)


def test_backward_leaves_leaf_untouched():
    """A user's requires_grad tensor survives backward (and double backward) of every call."""
    rng = np.random.default_rng(0)
    a = torch.from_numpy(rng.standard_normal((5, 3)) + 1j * rng.standard_normal((5, 3)))
    a.requires_grad_()
    keep, version = a.detach().clone(), a._version
    for call in CALLS:
        outputs = call(a)
        loss = sum(y.abs().square().sum() for y in outputs)
        (grad,) = torch.autograd.grad(loss, a, create_graph=True)
        grad.abs().sum().backward()
    assert a._version == version
    torch.testing.assert_close(a.detach(), keep, rtol=0, atol=0)


def test_compile_in_a_fresh_process():
    """torch.compile as the first use of diffqr (the adapter is imported while tracing), and
    compiled calls on tensors that need no gradient."""
    code = """
import torch, diffqr
a = torch.randn(6, 4, dtype=torch.float64)
f = torch.compile(lambda x: diffqr.qr(x, pivoting=True).R, fullgraph=True)
x = a.clone().requires_grad_()
f(x).sum().backward()
assert torch.equal(f(a), diffqr.qr(a, pivoting=True).R)
with torch.no_grad():
    assert torch.equal(f(x), diffqr.qr(a, pivoting=True).R)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
