"""PyTorch QR backward on large matrices: diffqr's VJP against ``torch.linalg.qr``'s, per kernel.

Backward passes only (``torch.autograd.grad`` after an untimed forward), float64, one thread,
pinned to one core, CPU time of the process, interleaved repeats whose order rotates; ratios are
medians of the per-repeat ratios (with their interquartile range).  Variants:

- ``native``: ``torch.linalg.qr``'s autograd;
- ``diffqr``: ``diffqr.qr``'s VJP;
- ``diffqr, plain solve``: the same without the in-place final solve (the base vocabulary's
  ``right_solve_consuming``: a solve into a new result) — the previous path;
- ``GEMM``: one ``(k×L)·(L×k)`` product (``k = min(m, n)``, ``L = max(m, n)``), the unit of the
  GEMM-equivalents, as in ``python -m diffqr bench``.

Then a per-kernel table from ``torch.profiler`` (self CPU time per operator and operand shapes,
averaged over several backward passes), each kernel also in GEMM-equivalents.

usage: python -m diffqr bench --only vjp [--repeats N] [--shapes 2000x500,1000x1000]
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import time

_PARSER = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_PARSER.add_argument("--repeats", type=int, default=21)
_PARSER.add_argument("--shapes", default="2000x500")
_PARSER.add_argument("--profiled", type=int, default=5, help="backward passes per profile")
ARGS = _PARSER.parse_args()
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import torch  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

import diffqr  # noqa: E402
from diffqr._backends.base import Backend  # noqa: E402
from diffqr._backends.torch import TorchBackend  # noqa: E402


class _PlainSolve:
    """``TorchBackend.right_solve_consuming`` replaced by the base vocabulary's (no in-place
    solve)."""

    def __enter__(self):
        TorchBackend.right_solve_consuming = Backend.right_solve_consuming

    def __exit__(self, *exc):
        del TorchBackend.right_solve_consuming


def _backward(qr, a, cotangents, plain=False):
    a = a.detach().clone().requires_grad_()
    outputs = qr(a)
    start = time.process_time()
    if plain:
        with _PlainSolve():
            torch.autograd.grad(outputs, a, cotangents)
    else:
        torch.autograd.grad(outputs, a, cotangents)
    return time.process_time() - start


def _calls(a, cotangents):
    left, right = (a.mH, a) if a.shape[-2] >= a.shape[-1] else (a, a.mH)

    def gemm():
        start = time.process_time()
        torch.matmul(left, right)
        return time.process_time() - start

    native, ours = (lambda x: tuple(torch.linalg.qr(x))), (lambda x: tuple(diffqr.qr(x)))
    return {"native": lambda: _backward(native, a, cotangents),
            "diffqr": lambda: _backward(ours, a, cotangents),
            "diffqr, plain solve": lambda: _backward(ours, a, cotangents, plain=True),
            "GEMM": gemm}


def _interleaved(calls, repeats):
    for call in calls.values():
        call()
    names = list(calls)
    samples = {name: [] for name in names}
    for i in range(repeats):
        for name in names[i % len(names):] + names[:i % len(names)]:
            samples[name].append(calls[name]())
    return samples


def _ratio(samples, top, bottom):
    ratios = [x / y for x, y in zip(samples[top], samples[bottom], strict=True)]
    low, median, high = statistics.quantiles(ratios, n=4)
    return f"{median:.3f} (IQR {low:.3f}–{high:.3f})"


def _kernels(qr, a, cotangents, count, gemm_seconds):
    """Self CPU time per (operator, operand shapes), averaged over ``count`` backward passes."""
    totals: collections.Counter = collections.Counter()
    for _ in range(count):
        x = a.detach().clone().requires_grad_()
        outputs = qr(x)
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            torch.autograd.grad(outputs, x, cotangents)
        for event in prof.key_averages(group_by_input_shape=True):
            shapes = "; ".join("×".join(map(str, s)) for s in event.input_shapes if s)
            totals[event.key, shapes] += event.self_cpu_time_total / count / 1e3
    total = sum(totals.values())
    print("| operator | operands | ms | GEMM-eq. |\n|---|---|---|---|")
    for (name, shapes), ms in totals.most_common():
        if ms >= 0.005 * total:
            print(f"| `{name}` | {shapes} | {ms:.2f} | {ms / gemm_seconds / 1e3:.2f} |")
    print(f"| total (incl. the rest) | | {total:.2f} | {total / gemm_seconds / 1e3:.2f} |")


def main() -> None:
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, float64, one thread, CPU time, {ARGS.repeats} interleaved "
          f"repeats, load average {os.getloadavg()[0]:.1f}")
    generator = torch.Generator().manual_seed(0)
    for shape in ARGS.shapes.split(","):
        m, n = map(int, shape.split("x"))
        k = min(m, n)
        a = torch.randn(m, n, dtype=torch.float64, generator=generator)
        cotangents = (torch.randn(m, k, dtype=torch.float64, generator=generator),
                      torch.randn(k, n, dtype=torch.float64, generator=generator))
        samples = _interleaved(_calls(a, cotangents), ARGS.repeats)
        gemm = statistics.median(samples["GEMM"])
        print(f"\n{m}×{n}: " + ", ".join(f"{name} {statistics.median(v) * 1e3:.1f} ms "
                                         f"({statistics.median(v) / gemm:.2f} GEMM-eq.)"
                                         for name, v in samples.items()))
        print(f"  diffqr / native {_ratio(samples, 'diffqr', 'native')};  plain solve / native "
              f"{_ratio(samples, 'diffqr, plain solve', 'native')};  diffqr / plain solve "
              f"{_ratio(samples, 'diffqr', 'diffqr, plain solve')}")
        for name, qr in (("diffqr", lambda x: tuple(diffqr.qr(x))),
                         ("native", lambda x: tuple(torch.linalg.qr(x)))):
            print(f"\n{name} backward, {m}×{n}, per kernel (mean of {ARGS.profiled} passes):\n")
            _kernels(qr, a, cotangents, ARGS.profiled, gemm)


if __name__ == "__main__":
    main()
