"""QR + VJP of a tall matrix that does not fit in memory, on a Dask LocalCluster, against NumPy.

The matrix (``--rows × --cols`` float64, 2·10⁷ × 50 = 8 GB by default) is generated chunk by chunk
on the workers (``da.random``, seeded), factored by ``diffqr.qr`` (TSQR) and differentiated by
``diffqr.qr_vjp`` with random cotangents ``Q̄`` (also m × n, generated) and ``R̄``.  The cluster has
``--workers`` worker processes (one thread each) with ``--memory-limit`` each; what does not fit is
spilled to disk by distributed.  Reported: time per row against in-memory NumPy (diffqr's NumPy
backend) on a ``--sample-rows`` sample, the time of a pass that only generates the random inputs,
and the peak resident memory of each worker process.

usage: python -m diffqr bench --only dask [--rows N] [--cols N] [--chunk-rows N] [--workers N]
                                       [--memory-limit 4GB] [--sample-rows N] [--json PATH]
                                       [--local-directory DIR]
Quick run: python -m diffqr bench --only dask --rows 2000000 --sample-rows 200000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
from collections.abc import Iterator

import dask
import dask.array as da
import numpy as np
from distributed import Client, LocalCluster

import diffqr


def numpy_seconds(rows: int, cols: int, seed: int) -> float:
    """Seconds of ``diffqr.qr`` + ``diffqr.qr_vjp`` on an in-memory NumPy matrix."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((rows, cols))
    q_bar = rng.standard_normal((rows, cols))
    r_bar = rng.standard_normal((cols, cols))
    start = time.perf_counter()
    q, r = diffqr.qr(a)
    a_bar = diffqr.qr_vjp(a, q, r, q_bar, r_bar)
    seconds = time.perf_counter() - start
    assert np.isfinite(a_bar).all()
    return seconds


def _peak_rss() -> int:
    """High-water mark of this process's resident memory, in bytes (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return -1


class SpillMonitor:
    """Samples the bytes each worker has spilled to disk, from the scheduler's worker metrics."""

    def __init__(self, client: Client, interval: float = 0.5):
        self.client, self.interval = client, interval
        self.peak_disk = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            workers = self.client.scheduler_info(n_workers=-1)["workers"].values()
            disk = sum(w["metrics"].get("spilled_bytes", {}).get("disk", 0) for w in workers)
            self.peak_disk = max(self.peak_disk, disk)

    def __enter__(self) -> SpillMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def dask_inputs(rows: int, cols: int, chunk_rows: int, seed: int):
    rng = da.random.default_rng(seed)
    a = rng.standard_normal((rows, cols), chunks=(chunk_rows, cols))
    q_bar = rng.standard_normal((rows, cols), chunks=(chunk_rows, cols))
    r_bar = da.from_array(np.random.default_rng(seed + 1).standard_normal((cols, cols)))
    return a, q_bar, r_bar


@contextlib.contextmanager
def _cluster(args: argparse.Namespace) -> Iterator[Client]:
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      memory_limit=args.memory_limit, dashboard_address=None,
                      local_directory=args.local_directory) as cluster, \
            Client(cluster) as client:
        yield client


def run(args: argparse.Namespace) -> dict:
    result: dict = {"rows": args.rows, "cols": args.cols, "chunk_rows": args.chunk_rows,
                    "workers": args.workers, "memory_limit": args.memory_limit,
                    "sample_rows": args.sample_rows,
                    "matrix_gb": args.rows * args.cols * 8 / 1e9}
    if args.sample_rows:
        result["numpy_seconds"] = numpy_seconds(args.sample_rows, args.cols, args.seed)
        result["numpy_ns_per_row"] = result["numpy_seconds"] / args.sample_rows * 1e9
        print(f"numpy  {args.sample_rows:>11,} rows: {result['numpy_seconds']:8.1f} s "
              f"({result['numpy_ns_per_row']:.0f} ns/row)", flush=True)
    # The inputs alone: what generating 2 m × n random matrices costs on the workers.
    with _cluster(args):
        a, q_bar, _ = dask_inputs(args.rows, args.cols, args.chunk_rows, args.seed)
        start = time.perf_counter()
        dask.compute(da.linalg.norm(a, axis=0), da.linalg.norm(q_bar, axis=0))
        result["generate_seconds"] = time.perf_counter() - start

    # QR + VJP on fresh worker processes, so that their peak memory is that of this pass alone.
    with _cluster(args) as client:
        a, q_bar, r_bar = dask_inputs(args.rows, args.cols, args.chunk_rows, args.seed)
        q, r = diffqr.qr(a)
        a_bar = diffqr.qr_vjp(a, q, r, q_bar, r_bar)
        start = time.perf_counter()
        with SpillMonitor(client) as spill:
            r_value, column_norms = dask.compute(r, da.linalg.norm(a_bar, axis=0))
        result["dask_seconds"] = time.perf_counter() - start
        assert np.isfinite(r_value).all() and np.isfinite(column_norms).all()
        peaks = client.run(_peak_rss)
        result["peak_worker_rss_gb"] = {w: b / 1e9 for w, b in peaks.items()}
        result["peak_spilled_gb"] = spill.peak_disk / 1e9
    result["dask_ns_per_row"] = result["dask_seconds"] / args.rows * 1e9
    result["dask_ns_per_row_without_generation"] = (
        (result["dask_seconds"] - result["generate_seconds"]) / args.rows * 1e9)
    print(f"dask   {args.rows:>11,} rows: {result['dask_seconds']:8.1f} s "
          f"({result['dask_ns_per_row']:.0f} ns/row; generating the inputs alone: "
          f"{result['generate_seconds']:.1f} s)")
    if args.sample_rows:
        result["ratio"] = result["dask_ns_per_row"] / result["numpy_ns_per_row"]
        result["ratio_without_generation"] = (result["dask_ns_per_row_without_generation"]
                                              / result["numpy_ns_per_row"])
        print(f"time per row, dask / numpy: {result['ratio']:.2f} "
              f"({result['ratio_without_generation']:.2f} without generating the inputs)")
    print("peak worker memory: " + ", ".join(
        f"{gb:.2f} GB" for gb in result["peak_worker_rss_gb"].values())
        + f" (limit {args.memory_limit}); peak spilled to disk {result['peak_spilled_gb']:.1f} GB")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument("--chunk-rows", type=int, default=250_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--sample-rows", type=int, default=1_000_000,
                        help="rows of the in-memory NumPy comparison (0: skip it)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--local-directory", help="where workers spill (default: dask's temp)")
    parser.add_argument("--json", help="write the numbers to this file")
    args = parser.parse_args(argv)
    result = run(args)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
