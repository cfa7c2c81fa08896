"""The checks every torch rank runs (spawned by test_torch.py; one spawn runs them all).

Each rank gets its row block of matrices every rank builds from the same seed; the oracle is
single-process diffqr on the gathered matrix (values, gradients), and central differences of the
global loss in float64.  Results go back as a dict per rank through a file.
"""

from __future__ import annotations

import json
import sys
import traceback

import torch
import torch.distributed as dist

import diffqr
from diffqr import distributed as dd

DTYPES = (torch.float64, torch.complex128, torch.float32, torch.complex64)


def blocks(rows: list[int], rank: int, x: torch.Tensor) -> torch.Tensor:
    start = sum(rows[:rank])
    return x[start:start + rows[rank]]


def weights(shape, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=dtype)


def qr_loss(q, r, wq, wr):
    return (wq * q).real.sum() + ((q.abs() ** 2) * wq.real).sum() + (wr * r).real.sum()


def check_qr(rows, n, dtype, rank, out):
    m = sum(rows)
    a = weights((m, n), dtype, 1)
    wq, wr = weights((m, n), dtype, 2), weights((n, n), dtype, 3)
    a_loc = blocks(rows, rank, a).clone().requires_grad_(True)
    with dd.traffic() as sent:
        q_loc, r = dd.qr(a_loc)
        # the global loss: Q's part summed over the ranks, R's part split between them
        loss = qr_loss(q_loc, r / len(rows), blocks(rows, rank, wq), wr)
        loss.backward()
    a_ref = a.clone().requires_grad_(True)
    q1, r1 = diffqr.qr(a_ref)
    qr_loss(q1, r1, wq, wr).backward()
    key = f"qr {rows} {n} {dtype}"
    out[key] = {
        "q": (q_loc - blocks(rows, rank, q1)).abs().max().item(),
        "r": (r - r1).abs().max().item(),
        "grad": (a_loc.grad - blocks(rows, rank, a_ref.grad)).abs().max().item(),
        "scale": a_ref.grad.abs().max().item(),
        "bytes": sent.bytes_sent,
        "messages": sent.messages,
    }


def check_lstsq(rows, n, dtype, rank, out, vector=False):
    m = sum(rows)
    a = weights((m, n), dtype, 4)
    b = weights((m,) if vector else (m, 2), dtype, 5)
    wx = weights((n,) if vector else (n, 2), dtype, 6)
    a_loc = blocks(rows, rank, a).clone().requires_grad_(True)
    b_loc = blocks(rows, rank, b).clone().requires_grad_(True)
    with dd.traffic() as sent:
        x = dd.lstsq(a_loc, b_loc)
        ((wx * x).real.sum() * (rank + 1)).backward()  # the ranks' losses differ
    total = sum(range(1, len(rows) + 1))
    a_ref, b_ref = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
    x1 = diffqr.lstsq(a_ref, b_ref)
    ((wx * x1).real.sum() * total).backward()
    out[f"lstsq {rows} {n} {dtype} {vector}"] = {
        "x": (x - x1).abs().max().item(),
        "grad": max((a_loc.grad - blocks(rows, rank, a_ref.grad)).abs().max().item(),
                    (b_loc.grad - blocks(rows, rank, b_ref.grad)).abs().max().item()),
        "scale": a_ref.grad.abs().max().item(),
        "bytes": sent.bytes_sent,
        "messages": sent.messages,
    }


def check_fd(rows, n, rank, out):
    """Central differences of the global loss (summed over the ranks) in float64."""
    m = sum(rows)
    a = weights((m, n), torch.float64, 7)
    wq, wr = weights((m, n), torch.float64, 8), weights((n, n), torch.float64, 9)
    direction = weights((m, n), torch.float64, 10)

    def global_loss(a_full):
        q_loc, r = dd.qr(blocks(rows, rank, a_full))
        local = qr_loss(q_loc, r / len(rows), blocks(rows, rank, wq), wr).detach().reshape(1)
        dist.all_reduce(local)
        return local.item()

    h = 1e-6
    fd = (global_loss(a + h * direction) - global_loss(a - h * direction)) / (2 * h)
    a_loc = blocks(rows, rank, a).clone().requires_grad_(True)
    q_loc, r = dd.qr(a_loc)
    qr_loss(q_loc, r / len(rows), blocks(rows, rank, wq), wr).backward()
    inner = (a_loc.grad * blocks(rows, rank, direction)).sum().reshape(1)
    dist.all_reduce(inner)
    out["fd"] = {"fd": fd, "ad": inner.item()}


def check_errors(rank, out):
    """Bad input raises the same error on every rank (no hang)."""
    cases = {
        "different n": lambda: dd.qr(torch.randn(5, 3 if rank else 4, dtype=torch.float64)),
        "different dtype": lambda: dd.qr(torch.randn(5, 3, dtype=torch.float64 if rank
                                                     else torch.float32)),
        "wide": lambda: dd.qr(torch.randn(1, 6, dtype=torch.float64)),
        "B rows": lambda: dd.lstsq(torch.randn(5, 3, dtype=torch.float64),
                                   torch.randn(5 if rank else 4, 1, dtype=torch.float64)),
        "1-D A": lambda: dd.qr(torch.randn(5, 3, dtype=torch.float64) if rank
                               else torch.randn(5, dtype=torch.float64)),
        "rank deficient": lambda: dd.lstsq(torch.ones(4, 2, dtype=torch.float64),
                                           torch.ones(4, 1, dtype=torch.float64)),
    }
    for name, call in cases.items():
        try:
            call()
            out[f"error {name}"] = "no error"
        except (ValueError, TypeError, diffqr.RankDeficientError) as error:
            out[f"error {name}"] = f"{type(error).__name__}: {error}"


def run(rank: int, world: int, init: str, result_path: str, cases: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    out: dict = {}
    try:
        for rows, n in json.loads(cases):
            for dtype in DTYPES:
                check_qr(rows, n, dtype, rank, out)
                check_lstsq(rows, n, dtype, rank, out)
        check_lstsq([3, 5, 2][:world], 2, torch.float64, rank, out, vector=True)
        check_fd([4, 2, 6][:world], 3, rank, out)
        check_errors(rank, out)
    except Exception:  # reported to the test, which fails with the traceback
        out["exception"] = traceback.format_exc()
    finally:
        dist.destroy_process_group()
    with open(f"{result_path}.{rank}", "w") as f:
        json.dump(out, f, default=str)


if __name__ == "__main__":
    run(*sys.argv[1:])
