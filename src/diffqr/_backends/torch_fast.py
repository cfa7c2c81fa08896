"""PyTorch fast paths: overrides of the adapter's vocabulary, each falling back to the plain
operation (``super()``) when it does not apply or fast paths are off (:func:`diffqr.fast_paths`).

- large batches of tiny real matrices stored batch-last (:mod:`.torch_batch_last`): QR and products;
- batches of tiny triangular systems by substitution, vectorized over the batch;
- ``tril``/``triu`` of many small matrices as a masked select;
- right-sided triangular solves in the left form for dtypes where MKL's left trsm is as fast,
  in place in the backward's own product where autodiff does not record it;
- block matrices filled in place (no double concatenation) when autodiff does not record them.

Thresholds live in :mod:`diffqr._tuning`.
"""

from __future__ import annotations

import torch

from .. import _tuning
from . import torch_batch_last as batch_last


def _on() -> bool:
    return _tuning.fast_paths_enabled()


def plain(*tensors: torch.Tensor) -> bool:
    """Eager tensors with values: not traced by torch.compile, not wrapped by torch.func (or the
    legacy vmap of gradcheck's batched gradients)."""
    if torch.compiler.is_compiling():
        return False
    functorch = torch._C._functorch
    return not any(functorch.is_functorch_wrapped_tensor(t) or functorch.is_legacy_batchedtensor(t)
                   for t in tensors)


def _graph_free(*tensors: torch.Tensor) -> bool:
    """True when no autodiff records operations on ``tensors`` (eager, e.g. a first-order
    backward), so results may be written into temporaries instead of fresh tensors."""
    return plain(*tensors) and not (
        torch.is_grad_enabled() and any(t.requires_grad for t in tensors))


def _many_small_matrices(a: torch.Tensor) -> bool:
    return (a.ndim > 2 and a.shape[-1] * a.shape[-2] <= _tuning.TORCH_MASKED_MAX_ENTRIES
            and a.shape[:-2].numel() >= _tuning.TORCH_MASKED_MIN_BATCH)


def _masked(a: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``a`` where ``keep``, exact zeros elsewhere (also where ``a`` is NaN or infinite)."""
    return torch.where(keep, a, torch.zeros((), dtype=a.dtype, device=a.device))


def _many_tiny_systems(r: torch.Tensor, b: torch.Tensor) -> bool:
    batch = b.shape[:-2]
    return (r.shape[-1] <= _tuning.TORCH_TINY_SIZE and len(batch) > 0
            and batch.numel() >= _tuning.TORCH_MANY_SYSTEMS)


def _substitute(t: torch.Tensor, b: torch.Tensor, *, upper: bool) -> torch.Tensor:
    """Solve ``t x = b`` for a tiny triangular ``t`` by forward/back substitution, row by row
    (in place into a new tensor of ``b``'s layout when autodiff does not record it)."""
    k = t.shape[-1]
    order = range(k - 1, -1, -1) if upper else range(k)
    if _graph_free(t, b) and t.shape[:-2] == b.shape[:-2]:
        out = torch.empty_like(b)  # b's layout (e.g. batch-last) kept
        for i in order:
            row = out[..., i, :]
            row.copy_(b[..., i, :])
            for j in range(i + 1, k) if upper else range(i):
                row.addcmul_(t[..., i, j, None], out[..., j, :], value=-1)
            row.div_(t[..., i, i, None])
        return out
    rows: list[torch.Tensor] = [b[..., 0, :]] * k
    for i in order:
        acc = b[..., i, :]
        for j in range(i + 1, k) if upper else range(i):
            acc = acc - t[..., i, j, None] * rows[j]
        rows[i] = acc / t[..., i, i, None]
    return torch.stack(rows, dim=-2)


class TorchFastPaths:
    """Mixed in before the plain PyTorch vocabulary (see ``diffqr._backends.torch``)."""

    def matmul(self, a, b):
        if _on() and batch_last.takes(a, b):
            return batch_last.matmul(a, b)
        return super().matmul(a, b)

    def addmm(self, c, a, b, *, alpha=1.0):
        if _on() and batch_last.takes(a, b):
            return torch.add(c, batch_last.matmul(a, b), alpha=alpha)
        return super().addmm(c, a, b, alpha=alpha)

    def tril(self, a, k=0):
        if _on() and _many_small_matrices(a):
            return _masked(a, torch.ones(a.shape[-2:], dtype=torch.bool, device=a.device).tril(k))
        return super().tril(a, k)

    def triu(self, a, k=0):
        if _on() and _many_small_matrices(a):
            return _masked(a, torch.ones(a.shape[-2:], dtype=torch.bool, device=a.device).triu(k))
        return super().triu(a, k)

    def solve_triangular(self, r, b, *, upper, left=True, adjoint=False):
        if not _on():
            return super().solve_triangular(r, b, upper=upper, left=left, adjoint=adjoint)
        if adjoint:
            r, upper = r.mH, not upper
        if _many_tiny_systems(r, b):
            if left:
                return _substitute(r, b, upper=upper)
            # x r = b  <=>  rᵀ xᵀ = bᵀ  (plain transposes: no conjugation involved)
            return _substitute(r.mT, b.mT, upper=not upper).mT
        if (not left and str(b.dtype).removeprefix("torch.") in _tuning.TORCH_LEFT_SOLVE_DTYPES
                and b.is_contiguous()):
            # x r = b  <=>  rᴴ xᴴ = bᴴ: bᴴ is column-major, as LAPACK wants it, so neither b nor
            # x is transposed in memory (a row-major x is also what autograd accumulates).
            return torch.linalg.solve_triangular(r.mH, b.mH, upper=not upper).mH
        return torch.linalg.solve_triangular(r, b, upper=upper, left=left)

    def right_solve_consuming(self, r, g):
        if (_on() and g.is_contiguous() and r.shape[:-2] == g.shape[:-2] and _graph_free(g, r)
                and str(g.dtype).removeprefix("torch.") in _tuning.TORCH_LEFT_SOLVE_DTYPES
                and not _many_tiny_systems(r, g)):
            # x rᴴ = g  <=>  r xᴴ = gᴴ, solved in g's buffer (gᴴ is column-major, as LAPACK
            # wants it): no second m × k result to allocate (page faults) and fill
            torch.linalg.solve_triangular(r, g.mH, upper=True, out=g.mH)
            return g
        return super().right_solve_consuming(r, g)

    def block_2x2(self, a11, a12, a21, a22):
        blocks = (a11, a12, a21, a22)
        if not _on() or len({x.dtype for x in blocks}) > 1 or not _graph_free(*blocks):
            return super().block_2x2(a11, a12, a21, a22)
        batch = torch.broadcast_shapes(*(x.shape[:-2] for x in blocks))
        rows, columns = a11.shape[-2], a11.shape[-1]
        out = a11.new_empty((*batch, rows + a21.shape[-2], columns + a12.shape[-1]))
        out[..., :rows, :columns] = a11
        out[..., :rows, columns:] = a12
        out[..., rows:, :columns] = a21
        out[..., rows:, columns:] = a22
        return out

    def concat_product(self, left, a, b):
        if (not _on() or left.dtype != a.dtype or a.dtype != b.dtype
                or not _graph_free(left, a, b)):
            return super().concat_product(left, a, b)
        batch = torch.broadcast_shapes(left.shape[:-2], a.shape[:-2], b.shape[:-2])
        width = left.shape[-1]
        out = left.new_empty((*batch, left.shape[-2], width + b.shape[-1]))
        out[..., :width] = left
        torch.matmul(a, b, out=out[..., width:])
        return out

    def householder_qr(self, a, *, complete):
        if _on() and batch_last.applies(a) and plain(a):
            return batch_last.householder_qr(a.detach(), complete=complete)
        return super().householder_qr(a, complete=complete)
