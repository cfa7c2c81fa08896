"""PyTorch: the column-pivot choice (LAPACK ``geqp3`` on the host) as a custom operator, opaque to
torch.compile (no graph break), batched by its own vmap rule, and fed detached input so autograd
and torch.func never differentiate it."""

from __future__ import annotations

import numpy as np
import torch

from ._host import householder_pivots


@torch.library.custom_op("diffqr::column_pivots", mutates_args=())
def column_pivots(a: torch.Tensor, rank: int | None) -> torch.Tensor:
    host = a.cpu().resolve_conj().numpy()
    return torch.from_numpy(np.ascontiguousarray(householder_pivots(host, rank))).to(a.device)


@column_pivots.register_fake
def _(a: torch.Tensor, rank: int | None) -> torch.Tensor:
    return a.new_empty((*a.shape[:-2], a.shape[-1]), dtype=torch.int64)


def _column_pivots_vmap(info, in_dims, a, rank):
    return column_pivots(a.movedim(in_dims[0], 0), rank), 0


torch.library.register_vmap(column_pivots, _column_pivots_vmap)
