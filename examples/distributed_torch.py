"""QR and least squares across torch.distributed ranks, with gradients (2 processes, gloo).

Each rank holds its own rows of a tall matrix (uneven blocks).  diffqr.distributed.qr returns this
rank's rows of Q and the n × n R on every rank; loss.backward() on every rank gives each rank its
block of the gradient of the sum of the ranks' losses.  Only n × n matrices travel (counted with
dd.traffic()).  Checked against single-process diffqr.

    python examples/distributed_torch.py
"""

import os
import tempfile

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import diffqr
from diffqr import distributed as dd

M, N, WORLD = 3000, 4, 2
COUNTS = [1000, 2000]  # rows per rank


def data():
    g = torch.Generator().manual_seed(0)
    return torch.randn(M, N, generator=g, dtype=torch.float64), torch.randn(
        M, 1, generator=g, dtype=torch.float64)


def rank_main(rank: int, init: str) -> None:
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=WORLD)
    a, b = data()
    rows = slice(sum(COUNTS[:rank]), sum(COUNTS[:rank + 1]))
    a_loc = a[rows].clone().requires_grad_(True)
    with dd.traffic() as sent:
        q_loc, r = dd.qr(a_loc)
        x = dd.lstsq(a_loc, b[rows])
        # the global loss is the sum of the ranks' losses: the R and X terms are counted once
        loss = (q_loc[:, 0] ** 2 * torch.arange(COUNTS[rank])).sum() + (
            r.sum() + x.sum()) / WORLD
        loss.backward()

    a_ref = a.clone().requires_grad_(True)
    q1, r1 = diffqr.qr(a_ref)
    x1 = diffqr.lstsq(a_ref, b)
    weights = torch.cat([torch.arange(c) for c in COUNTS])
    ((q1[:, 0] ** 2 * weights).sum() + r1.sum() + x1.sum()).backward()
    assert torch.allclose(r, r1, atol=1e-12) and torch.allclose(x, x1, atol=1e-12)
    assert torch.allclose(a_loc.grad, a_ref.grad[rows], atol=1e-10)
    assert sent.bytes_sent < 100 * N * N * 8, sent.messages  # independent of the 3000 rows
    if rank == 0:
        print(f"{WORLD} ranks, {M} × {N}: R, X and each rank's gradient block equal "
              f"single-process diffqr; rank 0 sent {sent.bytes_sent} bytes in "
              f"{len(sent.messages)} messages")
    dist.destroy_process_group()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        mp.spawn(rank_main, args=(f"file://{os.path.join(folder, 'init')}",), nprocs=WORLD)
