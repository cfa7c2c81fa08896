"""Arrangements of the split ``Q̄ᴴQ`` products of the QR backward on PyTorch (issue 22, part 3).

The backward needs the lower three quarters of ``M = R R̄ᴴ − Q̄ᴴQ`` (k × k) for a deep ``Q``
(m × k).  This times, interleaved in one process (one thread, pinned to one core, CPU time,
median of the repeats), the ways of computing the ``Q̄ᴴQ`` part with MKL's GEMM:

- ``3 blocks``: ``M11``, ``M21``, ``M22`` as three (k/2 × m)·(m × k/2) products (diffqr's split);
- ``2 products``: ``[M11; M21]`` as one (k × m)·(m × k/2) product, and ``M22``;
- ``2 products, Qᴴ Q̄``: the same with the operands swapped (the transposed blocks);
- ``3 blocks, out=``: the three blocks written straight into one k × k result;
- ``full``: the whole ``Q̄ᴴQ`` (the native rule);
- single blocks of width k, k/2, k/4 (their cost per flop against the full product).

usage: python benchmarks/torch_vjp_products.py [m k [repeats]]   (default 2000 500 25)
"""

from __future__ import annotations

import os
import statistics
import sys
import time

if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import torch  # noqa: E402


def calls(m: int, k: int) -> dict:
    gen = torch.Generator().manual_seed(0)
    q, q_bar = (torch.randn(m, k, dtype=torch.float64, generator=gen) for _ in range(2))
    c = torch.randn(k, k, dtype=torch.float64, generator=gen)
    out = torch.empty(k, k, dtype=torch.float64)
    h = k // 2

    def three_blocks(target=None):
        for rows, columns in ((slice(0, h), slice(0, h)), (slice(h, k), slice(h, k)),
                              (slice(h, k), slice(0, h))):
            torch.addmm(c[rows, columns], q_bar[:, rows].mH, q[:, columns], alpha=-1,
                        out=None if target is None else target[rows, columns])

    def two_products():
        torch.addmm(c[:, :h], q_bar.mH, q[:, :h], alpha=-1)
        torch.addmm(c[h:, h:], q_bar[:, h:].mH, q[:, h:], alpha=-1)

    def two_products_swapped():
        torch.addmm(c[:h, :], q[:, :h].mH, q_bar, alpha=-1)
        torch.addmm(c[h:, h:], q[:, h:].mH, q_bar[:, h:], alpha=-1)

    def block(width):
        return lambda: torch.addmm(c[:width, :width], q_bar[:, :width].mH, q[:, :width],
                                   alpha=-1)

    return {"full": block(k), "3 blocks": three_blocks, "2 products": two_products,
            "2 products, Qᴴ Q̄": two_products_swapped,
            "3 blocks, out=": lambda: three_blocks(out),
            f"one block of {h}": block(h), f"one block of {h // 2}": block(h // 2)}


def main() -> None:
    m, k, repeats = (list(map(int, sys.argv[1:4])) + [2000, 500, 25][len(sys.argv) - 1:])[:3]
    torch.set_num_threads(1)
    functions = calls(m, k)
    for function in functions.values():
        function()
    samples: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.process_time()
            function()
            samples[name].append(time.process_time() - start)
    full = statistics.median(samples["full"])
    print(f"{m}×{k} float64, one thread, CPU time, median of {repeats}")
    for name, values in samples.items():
        print(f"{name:22s} {statistics.median(values) * 1e3:7.2f} ms  "
              f"{statistics.median(values) / full:.3f} of the full product")


if __name__ == "__main__":
    main()
