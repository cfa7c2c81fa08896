"""VJP-only time of diffqr.qr against jnp.linalg.qr under jax.jit, side by side in one process.

VJP time = median(jit(grad of a loss of Q, R)) − median(jit(forward)); repeats are interleaved so
both ops see the same machine load.  One line per shape: the VJP ratio diffqr / native, and the
medians it comes from.

Single-threaded by default (XLA, OpenBLAS): on a shared machine oversubscribed LAPACK/Eigen threads
make timings swing by 10x; set XLA_FLAGS / OPENBLAS_NUM_THREADS yourself to override.  XLA's CPU
dots (YNNPACK) still run on its intra-op pool, one thread per core, whatever XLA_FLAGS say, while
the triangular solve (a LAPACK call) runs on one: so the process is pinned to one core, unless
``--all-cores``.

usage: python -m diffqr bench --only jax [--repeats N] [--all-cores]
"""

from __future__ import annotations

import argparse
import os
import time

_PARSER = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_PARSER.add_argument("--repeats", type=int, default=15)
_PARSER.add_argument("--all-cores", action="store_true",
                     help="do not pin the process to one core (XLA's dots then use every core)")
ARGS = _PARSER.parse_args()
if not ARGS.all_cores and hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # before XLA sizes its thread pool

for _name, _value in (("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                       "intra_op_parallelism_threads=1"),
                      ("OPENBLAS_NUM_THREADS", "1"), ("OMP_NUM_THREADS", "1")):
    os.environ.setdefault(_name, _value)

import jax  # noqa: E402  (after the thread settings)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import diffqr  # noqa: E402

SHAPES = ((2000, 500), (1000, 1000), (500, 2000))


def _time(fn, a) -> float:
    start = time.perf_counter()
    jax.block_until_ready(fn(a))
    return time.perf_counter() - start


def _programs(qr, q_bar, r_bar):
    """Jitted forward and forward+backward of the loss ``Σ Q̄ ∘ Q + Σ R̄ ∘ R``."""

    def loss(a):
        q, r = qr(a)
        return jnp.sum(q_bar * q) + jnp.sum(r_bar * r)

    return jax.jit(lambda a: tuple(qr(a))), jax.jit(jax.grad(loss))


def bench(shape: tuple[int, int], repeats: int, rng: np.random.Generator) -> dict[str, float]:
    m, n = shape
    k = min(m, n)
    a = jnp.asarray(rng.standard_normal(shape))
    q_bar = jnp.asarray(rng.standard_normal((m, k)))
    r_bar = jnp.asarray(rng.standard_normal((k, n)))
    programs = {
        "diffqr": _programs(lambda x: diffqr.qr(x), q_bar, r_bar),
        "native": _programs(lambda x: jnp.linalg.qr(x), q_bar, r_bar),
    }
    samples = {name: ([], []) for name in programs}
    for fwd, grad in programs.values():  # compile and warm up
        _time(fwd, a), _time(grad, a)
    for _ in range(repeats):
        for name, (fwd, grad) in programs.items():
            samples[name][0].append(_time(fwd, a))
            samples[name][1].append(_time(grad, a))
    return {name: (float(np.median(f)), float(np.median(g))) for name, (f, g) in samples.items()}


def main() -> None:
    args = ARGS
    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(0)
    cores = "all cores" if args.all_cores else "pinned to one core"
    print(f"jax {jax.__version__}, float64, jit, {cores}, median of "
          f"{args.repeats} interleaved repeats")
    for shape in SHAPES:
        times = bench(shape, args.repeats, rng)
        vjp = {name: grad - fwd for name, (fwd, grad) in times.items()}
        detail = ", ".join(f"{name} fwd {fwd * 1e3:.1f} / fwd+bwd {grad * 1e3:.1f} ms"
                           for name, (fwd, grad) in times.items())
        print(f"{shape[0]}×{shape[1]}: VJP diffqr {vjp['diffqr'] * 1e3:7.1f} ms, native "
              f"{vjp['native'] * 1e3:7.1f} ms, ratio {vjp['diffqr'] / vjp['native']:.2f}")
        print(f"    ({detail})")


if __name__ == "__main__":
    main()
