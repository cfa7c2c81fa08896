"""PyTorch fast path: large batches of tiny real matrices, stored batch-last.

For ``10⁴`` matrices of size 3 × 3, a per-matrix kernel (LAPACK's ``geqrf``, a small ``bmm``)
spends its time in per-call overhead, and elementwise operations over ``(..., 3, 3)`` run with an
inner loop of length 3.  Stored *batch-last* — a ``(B, m, n)`` tensor with strides
``(1, n·B, B)``, so that entry ``(i, j)`` of every matrix is contiguous — each step of an
algorithm is one elementwise operation over ``B`` contiguous numbers.  Such tensors are ordinary
tensors of the usual shape: the QR below returns its factors so, the shared rules run on them
unchanged, and the adapter's products (:func:`matmul`) and triangular solves keep the layout.
"""

from __future__ import annotations

import torch

from .. import _tuning


def applies(a: torch.Tensor) -> bool:
    """True for a batch of at least ``TORCH_BATCH_LAST_MIN_BATCH`` real matrices of size at most
    ``TORCH_BATCH_LAST_MAX_SIZE`` (:mod:`diffqr._tuning`)."""
    return (a.ndim >= 3 and a.shape[:-2].numel() >= _tuning.TORCH_BATCH_LAST_MIN_BATCH
            and max(a.shape[-2:]) <= _tuning.TORCH_BATCH_LAST_MAX_SIZE and not a.is_complex())


def is_batch_last(x: torch.Tensor) -> bool:
    """Whether the batch axes of ``x`` merge into one axis of stride 1 (also for ``mH`` views)."""
    if x.ndim < 3:
        return False
    expected = 1
    for size, stride in zip(reversed(x.shape[:-2]), reversed(x.stride()[:-2]), strict=True):
        if size != 1 and stride != expected:
            return False
        expected *= size
    return expected > 1


def takes(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether :func:`matmul` computes ``a @ b``: tiny nonempty matrices, one batch, one of them
    batch-last (as the factors of :func:`householder_qr` are)."""
    return (a.ndim == b.ndim >= 3 and a.shape[:-2] == b.shape[:-2]
            and a.numel() > 0 and b.numel() > 0
            and max(*a.shape[-2:], b.shape[-1]) <= _tuning.TORCH_BATCH_LAST_MAX_SIZE
            and (is_batch_last(a) or is_batch_last(b)))


def to_batch_last(x: torch.Tensor) -> torch.Tensor:
    """``x`` as one batch ``(B, m, n)`` with batch stride 1 (no copy if it already is)."""
    x = x.reshape(-1, *x.shape[-2:])
    return x if is_batch_last(x) else x.permute(1, 2, 0).contiguous().permute(2, 0, 1)


def matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b`` as ``Σ_l a[..., :, l] ⊗ b[..., l, :]``, one fused multiply-add over the batch per
    term.  An operand not stored batch-last is copied first (a strided elementwise product costs
    4-8 times more)."""
    batch = a.shape[:-2]
    a, b = to_batch_last(a), to_batch_last(b)
    c = a[:, :, 0, None] * b[:, None, 0, :]
    for inner in range(1, a.shape[-1]):
        c.addcmul_(a[:, :, inner, None], b[:, None, inner, :])
    return c.reshape(*batch, *c.shape[-2:])


def _empty_batch_last(batch: torch.Size, rows: int, columns: int, like: torch.Tensor
                      ) -> torch.Tensor:
    """An uninitialized ``(*batch, rows, columns)`` tensor stored batch-last (not a view)."""
    size = batch.numel()
    strides = [1]
    for dim in reversed(batch[1:]):
        strides.insert(0, strides[0] * dim)
    return torch.empty_strided((*batch, rows, columns), (*strides, columns * size, size),
                               dtype=like.dtype, device=like.device)


def _entries(x: torch.Tensor) -> torch.Tensor:
    """The ``(rows, columns, B)`` view of a batch: ``_entries(x)[i, j]`` is entry ``(i, j)`` of
    every matrix (contiguous when ``x`` is batch-last)."""
    return x.reshape(-1, *x.shape[-2:]).permute(1, 2, 0)


def householder_qr(a: torch.Tensor, *, complete: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """LAPACK's QR (``xGEQRF`` then ``xORGQR``: the same reflectors, so the same gauge) of a real
    batch ``(..., m, n)`` of tiny matrices, vectorized over the batch.

    ``Q`` and ``R`` come stored batch-last (``torch.linalg.qr`` too returns non-contiguous,
    column-major factors), which saves transposing them here and in the backward pass.  Norms
    are sums of squares, without LAPACK's rescaling: input with entries above ``√huge / 4m`` or
    non-finite ones, and columns of norm below ``√tiny / eps`` (whose squares lose precision or
    vanish), are left to LAPACK.
    """
    batch, (m, n) = a.shape[:-2], a.shape[-2:]
    k = min(m, n)
    kq = kr = m if complete else k
    r_out = _empty_batch_last(batch, kr, n, a)
    # w[i, j] = entry (i, j) of every matrix: a copy of A, overwritten by R and the reflectors.
    w = _entries(r_out) if kr == m else a.new_empty((m, n, batch.numel()))
    w.copy_(_entries(a))
    finfo = torch.finfo(a.dtype)
    smallest, largest = torch.aminmax(w)
    if not max(-smallest.item(), largest.item()) <= finfo.max ** 0.5 / (4 * m):  # also NaN
        return torch.linalg.qr(a, mode="complete" if complete else "reduced")
    size = w.shape[-1]
    minus_beta = w.new_empty(size)
    denom = w.new_empty(size)
    norms = w.new_empty((k, size))
    zero_tails = w.new_empty((k, size), dtype=torch.bool)
    taus = w.new_empty((k, size))
    s = w.new_empty((max(n, kq), size))  # the row vᵀ·(block) of one reflector application

    def reflect(block: torch.Tensor, tail: tuple[torch.Tensor, ...], tau: torch.Tensor) -> None:
        """``block ← (I − τ v vᵀ) block`` for ``v = [1; tail]`` (block: ``1 + len(tail)`` rows)."""
        first, *rest = block.unbind(0)
        row = s[: block.shape[1]]
        row.copy_(first)
        for v, x in zip(tail, rest, strict=True):
            row.addcmul_(v, x)
        row.mul_(tau)
        first.sub_(row)
        for v, x in zip(tail, rest, strict=True):
            x.addcmul_(v, row, value=-1)

    # xGEQR2 / xLARFG, column by column.  The reflector of the last row (m ≤ n) has an empty tail:
    # LAPACK's is the identity (τ = 0), so it is skipped.
    reflectors = range(min(k, m - 1))
    tails = []  # the rows of each v below its leading 1 (views of w)
    for j in reflectors:
        alpha, tail, norm, zero_tail, tau = w[j, j], w[j + 1 :, j], norms[j], zero_tails[j], taus[j]
        torch.any(tail, 0, out=zero_tail).logical_not_()
        reduced = bool(zero_tail.any())  # columns LAPACK leaves alone (τ = 0, β = α): rare
        tails.append(tail.unbind(0))
        torch.mul(alpha, alpha, out=norm)
        for v in tails[j]:
            norm.addcmul_(v, v)
        norm.sqrt_()
        torch.copysign(norm, alpha, out=minus_beta)  # β = −sign(α) ‖(α, tail)‖
        if reduced:
            torch.where(zero_tail, -alpha, minus_beta, out=minus_beta)
        torch.add(alpha, minus_beta, out=denom)  # α − β
        torch.div(denom, minus_beta, out=tau)  # τ = (β − α) / β
        if reduced:
            tau.masked_fill_(zero_tail, 0)
            denom.masked_fill_(zero_tail, 1)
        tail.div_(denom)  # v = tail / (α − β)
        torch.neg(minus_beta, out=alpha)
        if j + 1 < n:
            reflect(w[j:, j + 1 :], tails[j], tau)  # H applied to the remaining columns
    if ((norms < finfo.tiny ** 0.5 / finfo.eps) & ~zero_tails)[: len(reflectors)].any():
        return torch.linalg.qr(a, mode="complete" if complete else "reduced")

    q_out = _empty_batch_last(batch, m, kq, a)
    q = _entries(q_out).zero_()
    q.diagonal(dim1=0, dim2=1).fill_(1)
    for j in reversed(reflectors):  # xORG2R: Q = H_1 ⋯ H_k I
        reflect(q[j:, j:], tails[j], taus[j])
    r = _entries(r_out)
    if kr < m:
        r.copy_(w[:kr])
    for j in range(min(kr, n)):
        r[j + 1 :, j].zero_()
    return q_out, r_out
