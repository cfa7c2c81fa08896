"""Householder QR of a batch of small real matrices, vectorized across the batch.

LAPACK factors a batch one matrix at a time; for ``10⁴`` matrices of size 3 × 3 its per-call
overhead is most of the time.  Here every step is one array operation over the whole batch:
``xGEQR2``/``xLARFG`` column by column, then ``xORG2R`` — the same reflectors as LAPACK, so the
same diagonal gauge (the signs of ``diag R``) and the same factors to rounding.  Written once over
the array vocabulary and functional (no in-place update), so jit compilers fuse it (JAX) and any
framework runs it.  PyTorch keeps its in-place variant of the same steps
(``_backends/torch_batch_last.py``): there this functional form is 3-25× slower, every step
allocating its result.  Which framework takes this path, up to which size, is
``_tuning.SMALL_QR``.

LAPACK rescales columns whose norms would over- or underflow when squared; this code does not, so
batches holding such columns (or non-finite entries) are handed back to the framework's QR as a
whole (:meth:`~diffqr._backends.base.Backend.unless_flagged`, no host synchronization under jit).
Householder QR is backward stable at any rank, so rank loss needs no fallback: an exactly zero
column below the diagonal gets LAPACK's identity reflector (``τ = 0``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._backends.base import Backend

Array = Any


def _column_sum(xp: Backend, x: Array) -> Array:
    """Sum over the rows of ``x`` (…, r, c), kept as a (…, 1, c) row."""
    return xp.sum(x, axis=(-2,))[..., None, :]


def _reflectors(xp: Backend, a: Array, count: int) -> tuple[list, list, list, Array, Array]:
    """``xGEQR2``: the first ``count`` reflectors of ``a`` and the rows of ``R`` they produce.

    Returns ``(rows, tails, taus, rest, flagged)``: row ``j`` of ``R`` from column ``j`` on, the
    reflector ``v_j = [1; tail_j]`` with its ``τ_j`` (each ``(…, 1, 1)``), the block left unreduced
    (rows and columns from ``count`` on) and a boolean ``(…, 1, 1)`` marking matrices outside the
    range where norms are formed without rescaling.
    """
    info = np.finfo(xp.dtype_name(a))
    m = xp.shape(a)[-2]
    largest = float(np.sqrt(info.max) / (4 * m))
    smallest = float(np.sqrt(info.tiny) / info.eps)
    magnitude = xp.max_abs(a)  # (…, 1, 1); NaN compares False below, so it is flagged
    flagged = ~(magnitude <= largest)
    w = a
    rows, tails, taus = [], [], []
    for _ in range(count):
        alpha, tail, rest = w[..., :1, :1], w[..., 1:, :1], w[..., :, 1:]
        sigma = _column_sum(xp, tail * tail)
        norm = xp.sqrt(alpha * alpha + sigma)
        exact = sigma == 0  # LAPACK: τ = 0, β = α (no reflection)
        flagged = flagged | ((norm < smallest) & ~exact)
        beta = xp.where(exact, alpha, xp.where(alpha < 0, norm, -norm))  # −sign(α) ‖x‖
        tau = xp.where(exact, 0 * alpha, (beta - alpha) / xp.where(exact, 1 + 0 * alpha, beta))
        tail = tail / xp.where(exact, 1 + 0 * alpha, alpha - beta)
        s = tau * (rest[..., :1, :] + _column_sum(xp, tail * rest[..., 1:, :]))  # τ vᵀ W
        rows.append(xp.concat([beta, rest[..., :1, :] - s], axis=-1))
        w = rest[..., 1:, :] - tail * s
        tails.append(tail)
        taus.append(tau)
    return rows, tails, taus, w, flagged


def small_qr(xp: Backend, a: Array, *, complete: bool) -> tuple[Array, Array]:
    """LAPACK's QR (``xGEQRF`` then ``xORGQR``) of a real batch ``(…, m, n)``, as array operations
    over the batch, or the framework's QR for batches it hands back (see the module docstring)."""
    m, n = xp.shape(a)[-2:]
    k = min(m, n)
    kq = kr = m if complete else k
    count = min(k, m - 1)  # LAPACK's reflector of a last row (m ≤ n) is the identity
    rows, tails, taus, rest, flagged = _reflectors(xp, a, count)
    zero = xp.zeros_like(a[..., :1, :1])  # (…, 1, 1): gives constants the batch's shape

    # R: row j is zero up to column j; rows m..kr (complete, deep) are zero.
    r = [xp.concat([xp.zeros_like(a[..., :1, :j]), row], axis=-1) if j else row
         for j, row in enumerate(rows)]
    if count < kr:
        r.append(xp.concat([xp.zeros_like(a[..., count:kr, :count]), rest[..., : kr - count, :]],
                           axis=-1))
    r_factor = xp.concat(r, axis=-2)
    # xORG2R, backwards: block_j = H_j [[1, 0], [0, block_{j+1}]] (rows and columns from j on).
    block = zero + xp.eye_like(a, m - count)[:, : kq - count]
    for tail, tau in zip(reversed(tails), reversed(taus), strict=True):
        s = tau * _column_sum(xp, tail * block)  # τ vtᵀ B
        top = xp.concat([1 - tau, -s], axis=-1)
        bottom = xp.concat([-tau * tail, block - tail * s], axis=-1)
        block = xp.concat([top, bottom], axis=-2)
    return xp.unless_flagged(flagged, (block, r_factor),
                             lambda: xp.householder_qr(a, complete=complete))
