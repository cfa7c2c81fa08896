"""How ``python -m diffqr bench`` drives a framework: the cases, the timing loop, the NumPy runner.

A framework plugs in with a module ``_bench/<name>.py`` exporting ``RUNNER``, a :class:`Runner`
that knows how to make the framework's arrays, run a forward pass, run a forward and backward pass
(timing the two segments), and multiply two matrices.  Everything else — cases, interleaving,
medians, ratios, memory — is shared.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

import diffqr
from diffqr._dispatch import NAMES

QRFn = Callable[[Any], Sequence[Any]]


@dataclass(frozen=True)
class Case:
    """One benchmark problem: a (batch of) ``m × n`` matrices of one dtype."""

    shape: tuple[int, ...]
    dtype: str
    method: str = "householder"  # diffqr's forward; the native op is always the framework's QR

    @property
    def label(self) -> str:
        size = "×".join(str(s) for s in self.shape)
        return size if self.method == "householder" else f"{size} {self.method}"

    @property
    def gemm_dims(self) -> tuple[int, int]:
        """``(k, L)``: the reference product is ``(k × L)·(L × k)`` (batched like the case)."""
        m, n = self.shape[-2:]
        return min(m, n), max(m, n)

    @property
    def batch(self) -> int:
        return int(np.prod(self.shape[:-2], dtype=np.int64))


LARGE = ((2000, 500), (1000, 1000), (500, 2000))
TINY = ((10000, 3, 3), (1000, 16, 16))
CASES = (
    tuple(Case(s, d) for d in ("float64", "float32") for s in LARGE)
    + tuple(Case(s, "float64") for s in TINY)
    + (Case((20000, 100), "float64", method="cholesky"),)
)


@dataclass
class Result:
    """Medians (seconds) and paired ratios of one case on one framework."""

    label: str
    dtype: str
    repeats: int
    seconds: dict[str, float] = field(default_factory=dict)
    ratios: dict[str, float] = field(default_factory=dict)
    spread: dict[str, float] = field(default_factory=dict)  # relative IQR of each paired ratio
    gemm_equivalents: dict[str, float] = field(default_factory=dict)
    memory: dict[str, float] = field(default_factory=dict)  # backward peak, in copies of A


class Runner:
    """One framework's side of the benchmark; subclasses override the framework-specific parts.

    ``native_qr`` is ``None`` when the framework has no QR of its own; ``has_autodiff`` is False
    for frameworks whose backward pass is the explicit rule (:func:`diffqr.qr_vjp`).
    """

    name: str = "?"
    module: str = "?"
    has_autodiff: bool = True
    clock: Callable[[], float] = staticmethod(time.process_time)  # set by run_framework

    def setup(self, threads: int) -> None:
        """Thread count and any one-time configuration (float64, ...)."""

    def versions(self) -> dict[str, str]:
        module = importlib.import_module(self.module)
        return {self.module: getattr(module, "__version__", "?")}

    def asarray(self, x: np.ndarray) -> Any:
        raise NotImplementedError

    def sync(self, x: Any) -> None:
        """Wait until ``x`` (any nesting of arrays) is computed; for asynchronous frameworks."""

    def native_qr(self) -> QRFn | None:
        raise NotImplementedError

    def diffqr_qr(self, method: str = "householder") -> QRFn:
        return lambda a: tuple(diffqr.qr(a, method=method))

    def forward(self, fn: QRFn, a: Any) -> None:
        """One forward pass with autodiff off."""
        self.sync(fn(a))

    def forward_backward(self, fn: QRFn, a: Any, cotangents: Sequence[Any]) -> tuple[float, float]:
        """One forward and backward pass; returns the seconds of the two segments."""
        raise NotImplementedError

    def matmul(self, x: Any, y: Any) -> None:
        self.sync(x @ y)

    def backward_peak_bytes(self, fn: QRFn, a: Any, cotangents: Sequence[Any]) -> float | None:
        """Peak memory allocated during the backward pass above what existed before it."""
        return None


class NumpyRunner(Runner):
    """NumPy has no autodiff: the backward pass is the explicit rule ``diffqr.qr_vjp``."""

    name = "numpy"
    module = "numpy"
    has_autodiff = False

    def versions(self):
        import scipy

        return {"numpy": np.__version__, "scipy": scipy.__version__}

    def asarray(self, x):
        return np.array(x)

    def native_qr(self):
        return lambda a: tuple(np.linalg.qr(a))

    def forward_backward(self, fn, a, cotangents):
        start = self.clock()
        q, r = fn(a)
        middle = self.clock()
        diffqr.qr_vjp(a, q, r, *cotangents)
        return middle - start, self.clock() - middle

    def backward_peak_bytes(self, fn, a, cotangents):
        import tracemalloc  # NumPy reports its array buffers to tracemalloc

        q, r = fn(a)
        tracemalloc.start()
        try:
            diffqr.qr_vjp(a, q, r, *cotangents)
            return float(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()


# The registry's frameworks that have a runner module here (NumPy's is NumpyRunner).
RUNNER_MODULES = tuple(name for name in NAMES if name != "numpy")


def available() -> list[str]:
    """NumPy plus every framework with a bench module here and the framework installed (found,
    not imported: each framework is imported only in its own benchmark process)."""
    return ["numpy"] + [
        name for name in RUNNER_MODULES
        if importlib.util.find_spec(f"{__package__}.{name}") is not None
        and importlib.util.find_spec(name) is not None
    ]


def runner_for(name: str) -> Runner:
    if name == "numpy":
        return NumpyRunner()
    return importlib.import_module(f"{__package__}.{name}").RUNNER


# ---------------------------------------------------------------------- the timing loop


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def _median_ratio(numerators: list[float], denominators: list[float]) -> tuple[float, float]:
    """Median of the per-repeat ratios (paired: both measured back to back) and its relative IQR."""
    ratios = [a / b for a, b in zip(numerators, denominators, strict=True) if b > 0]
    if not ratios:
        return float("nan"), float("nan")
    median = statistics.median(ratios)
    if len(ratios) < 4:
        return median, (max(ratios) - min(ratios)) / median
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    return median, (q3 - q1) / median


def run_case(runner: Runner, case: Case, repeats: int, max_repeats: int,
             progress: Callable[[], None]) -> Result:
    """Time forward, forward+backward and the reference product, interleaved, ``repeats`` times.

    Within one repeat every variant runs back to back (in a rotating order), so the per-repeat
    ratios pair measurements taken under the same machine load.  While the ratios' spread stays
    above 10 % the loop goes on, up to ``max_repeats``.
    """
    rng = np.random.default_rng(0)
    a_host = rng.standard_normal(case.shape).astype(case.dtype)
    a = runner.asarray(a_host)
    ours, native = runner.diffqr_qr(case.method), runner.native_qr()
    q_host, r_host = np.linalg.qr(a_host)
    cotangents = [runner.asarray(rng.standard_normal(x.shape).astype(case.dtype))
                  for x in (q_host, r_host)]
    k, big = case.gemm_dims
    batch = case.shape[:-2]
    x = runner.asarray(rng.standard_normal((*batch, k, big)).astype(case.dtype))
    y = runner.asarray(rng.standard_normal((*batch, big, k)).astype(case.dtype))

    samples: dict[str, list[float]] = {}

    def timed(call: Callable[[], Any]) -> float:
        start = runner.clock()
        call()
        return runner.clock() - start

    def record(name: str, seconds: float) -> None:
        samples.setdefault(name, []).append(seconds)

    def forward_backward(label: str, fn: QRFn) -> None:
        fwd, bwd = runner.forward_backward(fn, a, cotangents)
        record(f"{label}_vjp", bwd)
        record(f"{label}_fwd_bwd", fwd + bwd)

    variants: list[Callable[[], None]] = [
        lambda: record("diffqr_fwd", timed(lambda: runner.forward(ours, a))),
        lambda: forward_backward("diffqr", ours),
        lambda: record("gemm", timed(lambda: runner.matmul(x, y))),
    ]
    if native is not None:
        variants.append(lambda: record("native_fwd", timed(lambda: runner.forward(native, a))))
        if runner.has_autodiff:
            variants.append(lambda: forward_backward("native", native))
    for variant in variants:  # warm-up: caches, thread pools, jit compilation
        variant()
    samples.clear()

    done = 0
    while True:
        shift = done % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            variant()
        done += 1
        progress()
        result = _summarize(case, samples, done)
        noisy = any(s > 0.10 for s in result.spread.values())
        if done >= max_repeats or (done >= repeats and not noisy):
            break
    result.memory = _memory(runner, ours, native, a, cotangents, case)
    return result


def _summarize(case: Case, samples: dict[str, list[float]], repeats: int) -> Result:
    result = Result(case.label, case.dtype, repeats)
    result.seconds = {name: statistics.median(values) for name, values in samples.items()}
    for metric in ("fwd", "vjp", "fwd_bwd"):
        ours, native = samples.get(f"diffqr_{metric}"), samples.get(f"native_{metric}")
        if ours and native:
            result.ratios[metric], result.spread[metric] = _median_ratio(ours, native)
    for label in ("diffqr", "native"):
        if f"{label}_vjp" in samples:
            result.gemm_equivalents[label] = _median_ratio(samples[f"{label}_vjp"],
                                                           samples["gemm"])[0]
    return result


def _memory(runner: Runner, ours: QRFn, native: QRFn | None, a: Any, cotangents: Sequence[Any],
            case: Case) -> dict[str, float]:
    size = int(np.prod(case.shape)) * np.dtype(case.dtype).itemsize
    memory = {}
    for label, fn in (("diffqr", ours), ("native", native if runner.has_autodiff else None)):
        if fn is not None:
            peak = runner.backward_peak_bytes(fn, a, cotangents)
            if peak is not None:
                memory[label] = peak / size
    return memory


class ProgressBar:
    """``[torch] ██████░░░░ 12/40  2000×500 float64`` on stderr, redrawn in place."""

    def __init__(self, name: str, total: int, enabled: bool) -> None:
        self.name, self.total, self.done, self.label = name, total, 0, ""
        self.enabled = enabled and total > 0

    def step(self, label: str | None = None) -> None:
        if label is not None:
            self.label = label
        else:
            self.done = min(self.done + 1, self.total)
        if self.enabled:
            width = 24
            filled = round(width * self.done / self.total)
            bar = "█" * filled + "░" * (width - filled)
            sys.stderr.write(f"\r[{self.name}] {bar} {self.done}/{self.total}  {self.label:<24}")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def run_framework(name: str, *, quick: bool, threads: int, clock: str = "cpu",
                  cases: Sequence[Case] = CASES, progress: bool = True) -> dict[str, Any]:
    """Every case on one framework, as a JSON-able dict."""
    runner = runner_for(name)
    runner.setup(threads)
    runner.clock = CLOCKS[clock]
    repeats, max_repeats = (3, 5) if quick else (7, 15)
    bar = ProgressBar(name, len(cases) * repeats, progress)
    results = []
    for case in cases:
        bar.step(f"{case.label} {case.dtype}")
        results.append(asdict(run_case(runner, case, repeats, max_repeats, bar.step)))
        bar.done = len(results) * repeats  # extra repeats of a noisy case do not overfill
        bar.step(f"{case.label} {case.dtype}")
    bar.close()
    return {
        "framework": name,
        "threads": threads,
        "clock": clock,
        "quick": quick,
        "versions": runner.versions(),
        "environment": {key: os.environ[key] for key in ("OPENBLAS_CORETYPE",)
                        if key in os.environ},
        "results": results,
    }
