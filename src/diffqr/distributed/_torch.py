"""Distributed QR and least squares across ``torch.distributed`` ranks: the TSQR rules as
``autograd.Function``s whose forward and backward call the collectives directly.

The backward owns its collectives (no ``torch.distributed.nn``: its ``all_gather`` backward
corrupts non-contiguous gradients on gloo, pytorch/pytorch#192920), and makes every incoming
cotangent contiguous.  Tensors cross the wire as real views (complex works on every backend).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist

from .._backends.torch import BACKEND as XP
from .._rules import tsqr

_DTYPES = (torch.float32, torch.float64, torch.complex64, torch.complex128)


@dataclass
class Traffic:
    """Bytes this rank handed to collectives (payload sent, per call), while counting."""

    bytes_sent: int = 0
    messages: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)


_COUNTERS: list[Traffic] = []


@contextlib.contextmanager
def traffic() -> Iterator[Traffic]:
    """Count what this rank sends through diffqr's collectives inside the ``with`` block."""
    counter = Traffic()
    _COUNTERS.append(counter)
    try:
        yield counter
    finally:
        _COUNTERS.remove(counter)


def _record(kind: str, x: torch.Tensor) -> None:
    for counter in _COUNTERS:
        counter.bytes_sent += x.numel() * x.element_size()
        counter.messages.append((kind, tuple(x.shape)))


def _wire(x: torch.Tensor) -> torch.Tensor:
    x = x.contiguous()
    return torch.view_as_real(x) if x.is_complex() else x


class _Collectives:
    """:class:`diffqr._rules.tsqr.Collectives` over a process group; ``rows`` are every rank's
    row counts (from the handshake)."""

    def __init__(self, group: Any, rows: list[int]) -> None:
        self.group, self.rows = group, rows
        self.size = len(rows)
        self.rank = dist.get_rank(group)

    def all_gather(self, x):
        _record("all_gather", x)
        wire = _wire(x)
        parts = [torch.empty_like(wire) for _ in range(self.size)]
        dist.all_gather(parts, wire, group=self.group)
        out = torch.cat(parts, dim=0)
        return torch.view_as_complex(out) if x.is_complex() else out

    def all_reduce(self, x):
        _record("all_reduce", x)
        wire = _wire(x).clone()
        dist.all_reduce(wire, op=dist.ReduceOp.SUM, group=self.group)
        return torch.view_as_complex(wire) if x.is_complex() else wire

    def own_block(self, stacked, rows):
        return stacked[self.rank * rows:(self.rank + 1) * rows]

    def head_selector(self, a, n, block_rows):
        first = sum(self.rows[:self.rank])
        e = torch.zeros(n, a.shape[0], dtype=a.dtype, device=a.device)
        count = max(0, min(a.shape[0], n - first))
        if count:
            e[first:first + count, :count] = torch.eye(count, dtype=a.dtype, device=a.device)
        return e


def _handshake(a: torch.Tensor, b: torch.Tensor | None, group: Any) -> _Collectives:
    """One small all-gather of every rank's shapes and dtypes, so that every rank raises the same
    error for bad input instead of some hanging in the collectives of the real work."""
    if not dist.is_available() or not dist.is_initialized():
        raise RuntimeError("diffqr.distributed with torch tensors needs an initialized process "
                           "group: call torch.distributed.init_process_group first")
    b_matrix = b is not None and b.ndim == 2
    fields = [a.ndim, *(a.shape if a.ndim == 2 else (-1, -1)), _code(a),
              -1 if b is None else b.ndim, *(b.shape if b_matrix else (-1, -1)),
              -1 if b is None else _code(b)]
    mine = torch.tensor(fields, dtype=torch.int64, device=a.device)
    parts = [torch.empty_like(mine) for _ in range(dist.get_world_size(group))]
    dist.all_gather(parts, mine, group=group)
    table = [p.tolist() for p in parts]
    _check_table(table, b is not None)
    return _Collectives(group, [row[1] for row in table])


def _code(x: torch.Tensor) -> int:
    return _DTYPES.index(x.dtype) if x.dtype in _DTYPES else -1


def _check_table(table: list[list[int]], with_b: bool) -> None:
    """Raise on every rank alike (``table``: every rank's handshake fields)."""
    for rank, (ndim, _, _, code, b_ndim, b_rows, _, b_code) in enumerate(table):
        if ndim != 2:
            raise ValueError(f"A_loc on rank {rank} must be a matrix (2-D, its row block); got "
                             f"{ndim} dimensions")
        if code < 0:
            raise TypeError(f"A_loc on rank {rank} must be float32, float64, complex64 or "
                            "complex128")
        if with_b and b_ndim != 2:
            raise ValueError(f"B_loc on rank {rank} must be 1-D or 2-D")
        if with_b and b_rows != table[rank][1]:
            raise ValueError(f"B_loc on rank {rank} has {b_rows} rows but A_loc has "
                             f"{table[rank][1]}: each rank passes matching row blocks")
        if with_b and b_code != code:
            raise TypeError(f"B_loc and A_loc have different dtypes on rank {rank}")
    for what, column in (("columns n", 2), ("dtype", 3), ("right-hand sides", 6)):
        values = {row[column] for row in table}
        if len(values) > 1 and (column != 6 or with_b):
            per_rank = ", ".join(f"rank {i}: {_show(row[column], column)}"
                                 for i, row in enumerate(table))
            raise ValueError(f"the ranks pass different {what} ({per_rank}); A_loc (and B_loc) "
                             "must agree on every rank except in the number of rows")
    m, n = sum(row[1] for row in table), table[0][2]
    if m < n:
        raise ValueError(f"the global A is wide ({m} rows over {len(table)} ranks, {n} "
                         "columns): distributed QR needs global rows m >= columns n")


def _show(value: int, column: int) -> str:
    return str(_DTYPES[value]) if column == 3 and 0 <= value < len(_DTYPES) else str(value)


class _QR(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, comm):
        q, r = tsqr.qr_forward(XP, comm, a)
        ctx.save_for_backward(q, r)
        ctx.comm = comm
        return q, r

    @staticmethod
    def backward(ctx, q_bar, r_bar):
        q, r = ctx.saved_tensors
        a_bar = tsqr.qr_vjp(XP, ctx.comm, q, r, q_bar.contiguous(), r_bar.contiguous(),
                            summed=True)
        return a_bar, None


class _Lstsq(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, comm):
        x, r = tsqr.lstsq_forward(XP, comm, a, b)
        ctx.save_for_backward(a, b, x, r)
        ctx.comm = comm
        return x

    @staticmethod
    def backward(ctx, x_bar):
        a, b, x, r = ctx.saved_tensors
        a_bar, b_bar = tsqr.lstsq_vjp(XP, ctx.comm, a, b, x, r, x_bar.contiguous())
        return a_bar, b_bar, None


def qr(a: torch.Tensor, group: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Q_loc, R)``; see :func:`diffqr.distributed.qr`."""
    comm = _handshake(a, None, group)
    return _QR.apply(a, comm)


def lstsq(a: torch.Tensor, b: torch.Tensor, group: Any = None) -> torch.Tensor:
    """``X`` on every rank; see :func:`diffqr.distributed.lstsq`."""
    vector = b.ndim == 1
    matrix = b[:, None] if vector else b
    comm = _handshake(a, matrix, group)
    x = _Lstsq.apply(a, matrix, comm)
    return x[:, 0] if vector else x
