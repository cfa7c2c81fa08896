"""PyTorch: large batches of tiny real matrices, stored batch-last.

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

# Measured against torch.linalg.qr and bmm (float64, one thread): from a few thousand matrices
# of size up to 4 the batch-last path is faster; with fewer, or larger, matrices (or complex
# ones: slower elementwise kernels) per-operation overhead outweighs the per-matrix calls it saves.
MAX_SIZE = 4
MIN_BATCH = 2048


def applies(a: torch.Tensor) -> bool:
    """True for a batch of at least ``MIN_BATCH`` real matrices of size at most ``MAX_SIZE``."""
    return (a.ndim >= 3 and a.shape[:-2].numel() >= MIN_BATCH and max(a.shape[-2:]) <= MAX_SIZE
            and not a.is_complex())


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
    """Whether :func:`matmul` computes ``a @ b``: tiny matrices, one batch, one of them
    batch-last (as the factors of :func:`householder_qr` are)."""
    return (a.ndim == b.ndim >= 3 and a.shape[:-2] == b.shape[:-2]
            and max(*a.shape[-2:], b.shape[-1]) <= MAX_SIZE
            and (is_batch_last(a) or is_batch_last(b)))


def to_batch_last(x: torch.Tensor) -> torch.Tensor:
    """``x`` as one batch ``(B, m, n)`` stored batch-last (no copy if it already is)."""
    x = x.reshape(-1, *x.shape[-2:])
    return x.permute(1, 2, 0).contiguous().permute(2, 0, 1)


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
    column-major factors), which saves transposing them here and in the backward pass.  Entries
    beyond ``[√tiny / eps, √huge / 4m]`` (where squares would under- or overflow: norms are
    computed without LAPACK's rescaling) and non-finite ones are left to LAPACK.
    """
    batch, (m, n) = a.shape[:-2], a.shape[-2:]
    k = min(m, n)
    kq = kr = m if complete else k
    r_out = _empty_batch_last(batch, kr, n, a)
    # w[i, j] = entry (i, j) of every matrix: a copy of A, overwritten by R and the reflectors.
    w = _entries(r_out) if kr == m else a.new_empty((m, n, batch.numel()))
    w.copy_(_entries(a))
    finfo = torch.finfo(a.dtype)
    low, high = torch.aminmax(w)
    largest = max(-low.item(), high.item())  # NaN if any entry is
    if not finfo.tiny ** 0.5 / finfo.eps <= largest <= finfo.max ** 0.5 / (4 * m):
        return torch.linalg.qr(a, mode="complete" if complete else "reduced")
    size = w.shape[-1]
    beta = w.new_empty(size)
    skip = w.new_empty(size, dtype=torch.bool)
    denom = w.new_empty(size)
    taus = w.new_empty((k, size))
    s = w.new_empty((max(n, kq), size))  # the row vᵀ·(block) of one reflector application

    def reflect(block: torch.Tensor, tail: torch.Tensor, tau: torch.Tensor) -> None:
        """``block ← (I − τ v vᵀ) block`` for ``v = [1; tail]`` (block: ``1 + len(tail)`` rows)."""
        row = s[: block.shape[1]]
        row.copy_(block[0])
        for i in range(tail.shape[0]):
            row.addcmul_(tail[i], block[1 + i])
        row.mul_(tau)
        block[0].sub_(row)
        for i in range(tail.shape[0]):
            block[1 + i].addcmul_(tail[i], row, value=-1)

    for j in range(k):  # xGEQR2 / xLARFG, column by column
        alpha, tail = w[j, j], w[j + 1 :, j]
        beta.zero_()
        for i in range(tail.shape[0]):
            beta.addcmul_(tail[i], tail[i])
        torch.eq(beta, 0, out=skip)  # no reflection when the column is already reduced
        beta.addcmul_(alpha, alpha).sqrt_()
        torch.copysign(beta, alpha, out=beta).neg_()  # β = −sign(α) ‖(α, tail)‖
        torch.where(skip, alpha, beta, out=beta)
        torch.sub(alpha, beta, out=denom)
        tau = taus[j]
        torch.div(denom, beta, out=tau).neg_().masked_fill_(skip, 0)  # τ = (β − α) / β
        tail.div_(denom.masked_fill_(skip, 1))  # v = tail / (α − β)
        alpha.copy_(beta)
        if j + 1 < n:
            reflect(w[j:, j + 1 :], tail, tau)  # H applied to the remaining columns

    q_out = _empty_batch_last(batch, m, kq, a)
    q = _entries(q_out).zero_()
    q.diagonal(dim1=0, dim2=1).fill_(1)
    for j in reversed(range(k)):  # xORG2R: Q = H_1 ⋯ H_k I
        reflect(q[j:, j:], w[j + 1 :, j], taus[j])
    r = _entries(r_out)
    if kr < m:
        r.copy_(w[:kr])
    r.masked_fill_(torch.ones(kr, n, dtype=torch.bool, device=a.device).tril(-1)[..., None], 0)
    return q_out, r_out
