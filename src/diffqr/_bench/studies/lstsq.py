"""Forward + backward of diffqr.lstsq against torch.linalg.lstsq + autograd, side by side.

usage: python -m diffqr bench --only lstsq [--repeats N]

Both run in one process on the same float64 data, interleaved repeat by repeat; the table shows
median wall times and the ratio diffqr / torch (target: ≤ 0.25).  Each timed call computes X, then
the gradients with respect to A and B for a fixed random cotangent of X.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

import diffqr

CASES = (("deep 2000×500, 4 rhs", 2000, 500, 4), ("wide 500×2000, 4 rhs", 500, 2000, 4))


def fwd_bwd(solve: Callable, a: torch.Tensor, b: torch.Tensor, x_bar: torch.Tensor) -> None:
    a, b = a.detach().requires_grad_(), b.detach().requires_grad_()
    torch.autograd.grad(solve(a, b), (a, b), x_bar)


def native(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.linalg.lstsq(a, b).solution


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    repeats = parser.parse_args().repeats
    gen = torch.Generator().manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float64, "
          f"median of {repeats} interleaved repeats (forward + backward)")
    print(f"{'case':<24}{'diffqr [s]':>12}{'torch [s]':>12}{'ratio':>8}")
    for name, m, n, r in CASES:
        a = torch.randn(m, n, dtype=torch.float64, generator=gen)
        b = torch.randn(m, r, dtype=torch.float64, generator=gen)
        x_bar = torch.randn(n, r, dtype=torch.float64, generator=gen)
        x_ours, x_native = diffqr.lstsq(a, b), native(a, b)
        diff = float((x_ours - x_native).abs().max() / x_native.abs().max())
        times: dict[str, list[float]] = {"diffqr": [], "torch": []}
        for _ in range(repeats + 1):  # the first round warms up and is dropped
            for label, solve in (("diffqr", diffqr.lstsq), ("torch", native)):
                start = time.perf_counter()
                fwd_bwd(solve, a, b, x_bar)
                times[label].append(time.perf_counter() - start)
        ours, theirs = (statistics.median(times[k][1:]) for k in ("diffqr", "torch"))
        print(f"{name:<24}{ours:>12.4f}{theirs:>12.4f}{ours / theirs:>8.3f}"
              f"   (solutions agree to {diff:.1e})")


if __name__ == "__main__":
    main()
