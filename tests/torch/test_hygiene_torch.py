"""Hygiene on torch tensors: no mutation (version counters), determinism, threads, imports."""

from __future__ import annotations

import subprocess
import sys

import reliability
import torch


class TestHygieneTorch(reliability.Hygiene):
    framework = "torch"

    def write_counters(self, arrays):
        # Every in-place operation on a tensor bumps its version counter.
        return {name: x._version for name, x in arrays.items()}


def test_backward_leaves_leaf_untouched():
    """A user's requires_grad tensor survives backward (and double backward) of every call."""
    a = torch.from_numpy(reliability._matrix((5, 3), "complex128")).requires_grad_()
    keep, version = a.detach().clone(), a._version
    for call in reliability.HYGIENE_CALLS:
        outputs = call.differentiable(a)
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
