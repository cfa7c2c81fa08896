"""VJP-only time of diffqr.qr against jnp.linalg.qr under jax.jit, side by side in one process.

VJP time = median(jit(grad of a loss of Q, R)) − median(jit(forward)); repeats are interleaved so
both ops see the same machine load.  One line per shape: the VJP ratio diffqr / native, and the
medians it comes from.

Single-threaded by default (XLA, OpenBLAS): on a shared machine oversubscribed LAPACK/Eigen threads
make timings swing by 10x; set XLA_FLAGS / OPENBLAS_NUM_THREADS yourself to override.

usage: PYTHONPATH=src python benchmarks/bench_jax.py [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import time

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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(0)
    print(f"jax {jax.__version__}, float64, jit, 1 thread unless overridden, median of "
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
