"""PyTorch adapter: the array vocabulary over torch tensors, and the autodiff hook ``apply``,
which runs each primitive as an ``autograd.Function`` (:mod:`.torch_autograd`).

Fast paths (batch-last tiny matrices, substitution for tiny systems, in-place blocks) are the
:class:`~.torch_fast.TorchFastPaths` overrides mixed in below; the pivot choice is the custom
operator of :mod:`.torch_pivots`.
"""

from __future__ import annotations

import numpy as np
import torch

from . import base
from .base import Backend
from .torch_autograd import autograd_functions
from .torch_fast import TorchFastPaths
from .torch_pivots import column_pivots


def _on_host(a: torch.Tensor, prepare=lambda t: t) -> np.ndarray | None:
    """``prepare(a)`` as a NumPy array, or None where ``a``'s values are unknown.

    Inside torch.func.grad/jvp the values are known: unwrap them.  Under torch.compile tracing
    and inside vmap (a batch of values in one wrapper) they are not.
    """
    if torch.compiler.is_compiling():
        return None
    functorch = torch._C._functorch
    while functorch.is_functorch_wrapped_tensor(a):
        if functorch.is_batchedtensor(a):
            return None
        a = functorch.get_unwrapped(a)
    with torch._C._DisableFuncTorch():
        return prepare(a.detach()).cpu().resolve_conj().numpy()


class TorchVocabulary(Backend):
    """The plain PyTorch vocabulary (every fast path off)."""

    name = "torch"

    def matmul(self, a, b):
        return torch.matmul(a, b)

    def addmm(self, c, a, b, *, alpha=1.0):
        if c.ndim == a.ndim == b.ndim == 2:
            return torch.addmm(c, a, b, alpha=alpha)
        if c.ndim == a.ndim == b.ndim == 3 and c.shape[0] == a.shape[0] == b.shape[0]:
            return torch.baddbmm(c, a, b, alpha=alpha)
        return torch.add(c, torch.matmul(a, b), alpha=alpha)

    def mH(self, a):
        return a.mH

    def tril(self, a, k=0):
        return torch.tril(a, k)

    def triu(self, a, k=0):
        return torch.triu(a, k)

    def triangles(self, lower, upper):
        below = torch.ones(lower.shape[-2:], dtype=torch.bool, device=lower.device).tril()
        return torch.where(below, lower, upper)

    def solve_triangular(self, r, b, *, upper, left=True, adjoint=False):
        if adjoint:
            r, upper = r.mH, not upper
        return torch.linalg.solve_triangular(r, b, upper=upper, left=left)

    def cholesky(self, a):
        r, info = torch.linalg.cholesky_ex(a, upper=True)
        return torch.where((info == 0)[..., None, None], r, torch.nan)

    def solve(self, a, b):
        return torch.linalg.solve(a, b)

    def concat(self, arrays, axis):
        return torch.cat(arrays, dim=axis)

    def zeros_like(self, a):
        return torch.zeros_like(a)

    def eye_like(self, a, n):
        return torch.eye(n, dtype=a.dtype, device=a.device)

    def real(self, a):
        return a.real

    def where(self, condition, a, b):
        return torch.where(condition, a, b)

    def to_host(self, a):
        return _on_host(a)

    def abs_diagonal_on_host(self, a):
        return _on_host(a, lambda t: torch.diagonal(t, dim1=-2, dim2=-1).abs())

    def dtype_name(self, a):
        return str(a.dtype).removeprefix("torch.")

    def householder_qr(self, a, *, complete):
        return torch.linalg.qr(a, mode="complete" if complete else "reduced")

    def qr_r(self, a):
        return torch.linalg.qr(a, mode="r")[1]

    def column_pivots(self, a, rank):
        return column_pivots(a.detach(), rank)

    def take_columns(self, a, perm):
        return torch.take_along_dim(a, perm[..., None, :], dim=-1)

    def apply(self, primitive, inputs, options):
        # Dynamo cannot trace a Function with a custom jvp, so compiled code gets the variant
        # without forward mode (reverse mode, the common case, compiles without graph breaks).
        compiling = torch.compiler.is_compiling()
        if compiling and not (torch.is_grad_enabled() and any(x.requires_grad for x in inputs)):
            # Nothing to differentiate, and dynamo would call forward with a ctx argument.
            return primitive.forward(self, *inputs, **options)
        function = _FUNCTIONS[primitive.name][not compiling]
        return function.apply(*inputs, *(options[name] for name in primitive.option_names))


class TorchBackend(TorchFastPaths, TorchVocabulary):
    """The PyTorch adapter: the vocabulary with its fast paths."""


BACKEND = TorchBackend()

# Built at import, outside any torch.compile tracing (dynamo cannot trace class creation).
_FUNCTIONS = {p.name: autograd_functions(p, BACKEND) for p in base.PRIMITIVES}
