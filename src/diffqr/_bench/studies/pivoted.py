"""Pivoted QR against unpivoted QR in diffqr, and the pivot choice against the factorization.

usage: python -m diffqr bench --only pivoted [--framework numpy|torch] [--dtype float64]
                                          [--repeats N] [--threads N] [--shape MxN ...]

For each shape of the foundation benchmark, one process times back to back, interleaved repeat by
repeat (rotating the order), on the same data:

- ``factorization``: the framework's own QR (``np.linalg.qr`` / ``torch.linalg.qr``, reduced);
- ``pivot choice``: diffqr's column pivots alone (LAPACK ``geqp3``, outside differentiation);
- ``unpivoted`` and ``pivoted``: ``diffqr.qr(A)`` and ``diffqr.qr(A, pivoting=True)``, forward and
  backward for a fixed random cotangent of ``(Q, R)`` (NumPy: the explicit ``diffqr.qr_vjp``);
- ``rank k/2``: ``diffqr.qr(A, pivoting=True, rank=k // 2)``, forward and backward.

The table gives the medians of the paired per-repeat ratios: pivoted / unpivoted (forward +
backward) and pivot choice / factorization (issue target: at most 1).  CPU time of the process,
as in ``python -m diffqr bench``, so other processes on a shared machine matter less.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

SHAPES = ((2000, 500), (1000, 1000), (500, 2000))


def _shape(text: str) -> tuple[int, int]:
    m, n = (int(part) for part in text.lower().replace("×", "x").split("x"))
    return m, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=("numpy", "torch"), default="torch")
    parser.add_argument("--dtype", choices=("float64", "float32", "complex128"),
                        default="float64")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--shape", action="append", type=_shape, metavar="MxN",
                        help="instead of the foundation shapes (repeatable)")
    args = parser.parse_args()
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[key] = str(args.threads)  # before NumPy loads its BLAS

    import numpy as np

    from diffqr._bench.runner import _median_ratio, runner_for

    runner = runner_for(args.framework)
    runner.setup(args.threads)
    versions = ", ".join(f"{k} {v}" for k, v in runner.versions().items())
    print(f"{args.framework}: {versions}; {args.threads} thread(s), {args.dtype}, CPU time, "
          f"median of {args.repeats} interleaved repeats")
    print()
    print("| shape | factorization [ms] | pivot choice [ms] | unpivoted fwd+bwd [ms] "
          "| pivoted fwd+bwd [ms] | rank k/2 fwd+bwd [ms] | pivoted / unpivoted "
          "| pivot choice / factorization |")
    print("|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for m, n in args.shape or SHAPES:
        a = rng.standard_normal((m, n))
        if args.dtype.startswith("complex"):
            a = a + 1j * rng.standard_normal((m, n))
        samples = _measure(runner, a.astype(args.dtype), args.repeats, rng)
        ms = {name: 1e3 * float(np.median(values)) for name, values in samples.items()}
        pivoted_ratio = _median_ratio(samples["pivoted"], samples["unpivoted"])[0]
        choice_ratio = _median_ratio(samples["pivots"], samples["factorization"])[0]
        print(f"| {m}×{n} | {ms['factorization']:.1f} | {ms['pivots']:.1f} "
              f"| {ms['unpivoted']:.1f} | {ms['pivoted']:.1f} | {ms['rank']:.1f} "
              f"| {pivoted_ratio:.2f}× | {choice_ratio:.2f}× |", flush=True)


def _measure(runner, a_host, repeats: int, rng) -> dict[str, list[float]]:
    """CPU seconds of each variant on ``a_host``, ``repeats`` interleaved rounds after a warm-up."""
    import diffqr
    from diffqr._dispatch import backend_for

    m, n = a_host.shape
    k = min(m, n)

    def cotangents(rows: int) -> list:
        shapes = ((m, rows), (rows, n))
        return [runner.asarray(rng.standard_normal(s).astype(a_host.dtype)) for s in shapes]

    a = runner.asarray(a_host)
    full, half = cotangents(k), cotangents(k // 2)
    xp = backend_for(A=a)

    def timed(call) -> float:
        start = time.process_time()
        call()
        return time.process_time() - start

    def fwd_bwd(fn, cot) -> float:
        return sum(runner.forward_backward(fn, a, cot))

    variants = {
        "factorization": lambda: timed(lambda: runner.forward(runner.native_qr(), a)),
        "pivots": lambda: timed(lambda: xp.column_pivots(a, None)),
        "unpivoted": lambda: fwd_bwd(lambda x: tuple(diffqr.qr(x)), full),
        "pivoted": lambda: fwd_bwd(lambda x: tuple(diffqr.qr(x, pivoting=True))[:2], full),
        "rank": lambda: fwd_bwd(lambda x: tuple(diffqr.qr(x, pivoting=True, rank=k // 2))[:2],
                                half),
    }
    names = list(variants)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(repeats + 1):  # the first round warms up and is dropped
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            seconds = variants[name]()
            if repeat:
                samples[name].append(seconds)
        print(f"\r{m}×{n}: {repeat}/{repeats}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return samples

if __name__ == "__main__":
    main()
