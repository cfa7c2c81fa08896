"""Batches of small matrices: diffqr against each framework's own QR, forward and backward.

For PyTorch, JAX (under ``jit``) and NumPy, side by side in one process with interleaved repeats
(the ratio of each repeat pairs measurements taken under the same load; the median is reported):

- ``fwd+bwd``: diffqr's QR and its VJP against the native QR and its autodiff (NumPy has none:
  there ``native`` is ``np.linalg.qr`` plus diffqr's VJP);
- ``fwd``: the forward pass alone;
- ``default``: diffqr against diffqr without its batched small-matrix paths (``_tuning.SMALL_QR``,
  PyTorch's batch-last path), fwd+bwd.

Then per-kernel timings of the kernels a PyTorch QR of 1000 × 16 × 16 could be built from
(``geqrf``, ``orgqr``, a batched product, a batched triangular solve, one elementwise pass): the
floor that a batched forward+backward stands on.

Single-threaded, pinned to one core, CPU time of the process.

usage: python -m diffqr bench --only small [--repeats N] [--frameworks torch,jax,numpy]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time

_PARSER = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_PARSER.add_argument("--repeats", type=int, default=15)
_PARSER.add_argument("--frameworks", default="torch,jax,numpy")
ARGS = _PARSER.parse_args()
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
for _name, _value in (("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                       "intra_op_parallelism_threads=1"),
                      ("OPENBLAS_NUM_THREADS", "1"), ("OMP_NUM_THREADS", "1"),
                      ("MKL_NUM_THREADS", "1")):
    os.environ.setdefault(_name, _value)

import numpy as np  # noqa: E402

import diffqr  # noqa: E402
from diffqr import _tuning  # noqa: E402

SHAPES = ((10000, 3, 3), (2000, 4, 4), (1000, 8, 8), (1000, 16, 16))


def _time(call) -> float:
    """CPU time of the process (one thread): robust to other processes on a shared machine."""
    start = time.process_time()
    call()
    return time.process_time() - start


@contextlib.contextmanager
def _without_small_paths():
    """The batched small-matrix paths off (``_tuning``), every other fast path on."""
    saved = _tuning.SMALL_QR, _tuning.TORCH_BATCH_LAST_MIN_BATCH
    _tuning.SMALL_QR, _tuning.TORCH_BATCH_LAST_MIN_BATCH = {}, 1 << 62
    try:
        yield
    finally:
        _tuning.SMALL_QR, _tuning.TORCH_BATCH_LAST_MIN_BATCH = saved


def _off(call):
    def run():
        with _without_small_paths():
            call()
    return run


def _torch_programs(a, q_bar, r_bar):
    import torch

    torch.set_num_threads(1)
    a, q_bar, r_bar = (torch.from_numpy(x) for x in (a, q_bar, r_bar))

    def fwd_bwd(qr):
        def run():
            x = a.detach().requires_grad_()
            torch.autograd.grad(tuple(qr(x)), x, (q_bar, r_bar))
        return run

    def fwd(qr):
        def run():
            with torch.no_grad():
                qr(a)
        return run

    return {"diffqr": fwd_bwd(diffqr.qr), "native": fwd_bwd(torch.linalg.qr),
            "diffqr fwd": fwd(diffqr.qr), "native fwd": fwd(torch.linalg.qr),
            "default": _off(fwd_bwd(diffqr.qr))}


def _jax_programs(a, q_bar, r_bar):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    a, q_bar, r_bar = (jnp.asarray(x) for x in (a, q_bar, r_bar))

    def programs(qr):
        def loss(x):
            q, r = qr(x)
            return jnp.sum(q_bar * q) + jnp.sum(r_bar * r)
        grad, fwd = jax.jit(jax.grad(loss)), jax.jit(lambda x: tuple(qr(x)))
        return (lambda: jax.block_until_ready(grad(a))), (lambda: jax.block_until_ready(fwd(a)))

    ours, native = programs(diffqr.qr), programs(jnp.linalg.qr)
    with _without_small_paths():  # traced now: the table is read while tracing
        default = programs(lambda x: diffqr.qr(x))
        default[0]()
    return {"diffqr": ours[0], "native": native[0], "diffqr fwd": ours[1],
            "native fwd": native[1], "default": default[0]}


def _numpy_programs(a, q_bar, r_bar):
    def fwd_bwd(qr):
        return lambda: diffqr.qr_vjp(a, *qr(a), q_bar, r_bar)

    return {"diffqr": fwd_bwd(diffqr.qr), "native": fwd_bwd(np.linalg.qr),
            "diffqr fwd": lambda: diffqr.qr(a), "native fwd": lambda: np.linalg.qr(a),
            "default": _off(fwd_bwd(diffqr.qr))}


PROGRAMS = {"torch": _torch_programs, "jax": _jax_programs, "numpy": _numpy_programs}


def bench(framework: str, shape: tuple[int, ...], repeats: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    a, q_bar, r_bar = (rng.standard_normal(shape) for _ in range(3))
    programs = PROGRAMS[framework](a, q_bar, r_bar)
    for run in programs.values():  # warm-up (and jit compilation)
        run()
    samples: dict[str, list[float]] = {name: [] for name in programs}
    names = list(programs)
    for i in range(repeats):
        for name in names[i % len(names):] + names[: i % len(names)]:
            samples[name].append(_time(programs[name]))
    ratio = {
        "fwd+bwd": ("diffqr", "native"), "fwd": ("diffqr fwd", "native fwd"),
        "default": ("diffqr", "default"),
    }
    result = {key: statistics.median(x / y for x, y in zip(samples[p], samples[q], strict=True))
              for key, (p, q) in ratio.items()}
    result.update({f"{name} ms": statistics.median(s) * 1e3 for name, s in samples.items()})
    return result


def kernel_floor(repeats: int) -> dict[str, float]:
    """Milliseconds of the PyTorch kernels at 1000 × 16 × 16 (float64, one thread)."""
    import torch

    rng = np.random.default_rng(0)
    a = torch.from_numpy(rng.standard_normal((1000, 16, 16)))
    r = torch.linalg.qr(a)[1]
    reflectors, tau = torch.geqrf(a)
    kernels = {
        "geqrf": lambda: torch.geqrf(a),
        "orgqr": lambda: torch.linalg.householder_product(reflectors, tau),
        "bmm": lambda: torch.bmm(a, a),
        "trsm": lambda: torch.linalg.solve_triangular(r, a, upper=True, left=False),
        "elementwise a + a": lambda: a + a,
        "potrf": lambda: torch.linalg.cholesky_ex(a @ a.mT),
    }
    samples = {name: [] for name in kernels}
    for _ in range(repeats):
        for name, call in kernels.items():
            samples[name].append(_time(call))
    return {name: statistics.median(s) * 1e3 for name, s in samples.items()}


def main() -> None:
    print(f"float64, one thread, median of {ARGS.repeats} interleaved repeats; ratios diffqr / "
          "native (fwd+bwd, fwd) and with / without the small paths (default)")
    for framework in ARGS.frameworks.split(","):
        for shape in SHAPES:
            result = bench(framework, shape, ARGS.repeats)
            label = "×".join(map(str, shape))
            times = ", ".join(f"{k} {v:.2f}" for k, v in result.items() if k.endswith("ms"))
            print(f"{framework:6} {label:11} fwd+bwd {result['fwd+bwd']:.2f}  fwd "
                  f"{result['fwd']:.2f}  default {result['default']:.2f}   ({times})")
    if "torch" in ARGS.frameworks.split(","):
        floor = kernel_floor(ARGS.repeats)
        print("torch kernels at 1000×16×16 (ms): "
              + ", ".join(f"{k} {v:.2f}" for k, v in floor.items()))


if __name__ == "__main__":
    main()
