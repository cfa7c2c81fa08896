"""VJP time of diffqr.qr against TensorFlow's own tf.linalg.qr gradient, side by side.

VJP-only time = median(forward + backward) − median(forward), measured for both in one process with
interleaved repeats (so both see the same machine load), eagerly and inside tf.function; eagerly
also the backward pass alone (``tape.gradient``), which does not subtract two noisy numbers.

usage: python -m diffqr bench --only tensorflow [--repeats N] [--threads N] [--shapes 2000x500 ...]
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

import diffqr


def _native_qr(a):
    return tf.linalg.qr(a)


def _diffqr_qr(a):
    return tuple(diffqr.qr(a, check_finite=False))


def _forward(qr):
    def forward(a, q_bar, r_bar):
        q, r = qr(a)
        return q, r

    return forward


def _forward_backward(qr):
    def forward_backward(a, q_bar, r_bar):
        with tf.GradientTape() as tape:
            tape.watch(a)
            q, r = qr(a)
        return tape.gradient([q, r], a, output_gradients=[q_bar, r_bar])

    return forward_backward


def _timed(fn, args) -> float:
    start = time.perf_counter()
    out = fn(*args)
    # Force completion: take one value of every output back to the host.
    for x in out if isinstance(out, tuple) else (out,):
        x.numpy()
    return time.perf_counter() - start


def _backward_timed(qr, args) -> float:
    """Eager only: the forward runs untimed, the time is that of ``tape.gradient`` alone."""
    a, q_bar, r_bar = args
    with tf.GradientTape() as tape:
        tape.watch(a)
        q, r = qr(a)
    start = time.perf_counter()
    tape.gradient([q, r], a, output_gradients=[q_bar, r_bar]).numpy()
    return time.perf_counter() - start


LIBRARIES = (("native", _native_qr), ("diffqr", _diffqr_qr))


def bench_shape(m: int, n: int, repeats: int, rng: np.random.Generator
                ) -> dict[str, tuple[float, float]]:
    """VJP medians ``(diffqr, native)`` for one ``m × n`` float64 matrix, per way of measuring."""
    k = min(m, n)
    args = (tf.constant(rng.standard_normal((m, n))),
            tf.constant(rng.standard_normal((m, k))),
            tf.constant(rng.standard_normal((k, n))))
    runs = {}
    for mode in ("eager", "graph"):
        for lib, qr in LIBRARIES:
            for phase, make in (("fwd", _forward), ("fwdbwd", _forward_backward)):
                fn = make(qr)
                fn = tf.function(fn) if mode == "graph" else fn
                runs[mode, lib, phase] = functools.partial(_timed, fn, args)
    for lib, qr in LIBRARIES:
        runs["eager", lib, "bwd"] = functools.partial(_backward_timed, qr, args)
    times: dict[tuple, list[float]] = {key: [] for key in runs}
    for run in runs.values():  # warm-up and tracing
        run()
    for _ in range(repeats):
        for key, run in runs.items():
            times[key].append(run())
    med = {key: statistics.median(ts) for key, ts in times.items()}
    out = {}
    for mode in ("eager", "graph"):
        out[f"{mode} fwd+bwd−fwd"] = tuple(med[mode, lib, "fwdbwd"] - med[mode, lib, "fwd"]
                                           for lib in ("diffqr", "native"))
    out["eager bwd alone"] = (med["eager", "diffqr", "bwd"], med["eager", "native", "bwd"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--shapes", nargs="+", default=["2000x500", "1000x1000", "500x2000"])
    parser.add_argument("--threads", type=int, default=0,
                        help="intra-op threads (0: TensorFlow's default, all cores)")
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"tensorflow {tf.__version__}, float64, {args.repeats} interleaved repeats, medians, "
          f"intra-op threads {args.threads or 'default'}")
    print(f"{'shape':>10} {'measured as':>20} {'diffqr VJP':>11} {'native VJP':>11} {'ratio':>6}")
    for shape in args.shapes:
        m, n = (int(s) for s in shape.split("x"))
        for how, (ours, theirs) in bench_shape(m, n, args.repeats, rng).items():
            print(f"{shape:>10} {how:>20} {ours * 1e3:9.1f}ms {theirs * 1e3:9.1f}ms "
                  f"{ours / theirs:6.2f}")


if __name__ == "__main__":
    main()
