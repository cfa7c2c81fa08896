"""VJP time of diffqr.qr against TensorFlow's own tf.linalg.qr gradient, side by side.

VJP-only time = median(forward + backward) − median(forward), measured for both in one process with
interleaved repeats (so both see the same machine load), eagerly and inside tf.function.

usage: python benchmarks/bench_tensorflow.py [--repeats N] [--threads N] [--shapes 2000x500 ...]
"""

from __future__ import annotations

import argparse
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


def bench_shape(m: int, n: int, repeats: int, rng: np.random.Generator) -> dict[str, float]:
    """Ratios diffqr VJP / native VJP, eager and graph, for one ``m × n`` float64 matrix."""
    k = min(m, n)
    args = (tf.constant(rng.standard_normal((m, n))),
            tf.constant(rng.standard_normal((m, k))),
            tf.constant(rng.standard_normal((k, n))))
    fns = {}
    for mode in ("eager", "graph"):
        for lib, qr in (("native", _native_qr), ("diffqr", _diffqr_qr)):
            for phase, make in (("fwd", _forward), ("fwdbwd", _forward_backward)):
                fn = make(qr)
                fns[mode, lib, phase] = tf.function(fn) if mode == "graph" else fn
    times: dict[tuple, list[float]] = {key: [] for key in fns}
    for fn in fns.values():  # warm-up and tracing
        _timed(fn, args)
    for _ in range(repeats):
        for key, fn in fns.items():
            times[key].append(_timed(fn, args))
    med = {key: statistics.median(ts) for key, ts in times.items()}
    out = {}
    for mode in ("eager", "graph"):
        vjp = {lib: med[mode, lib, "fwdbwd"] - med[mode, lib, "fwd"]
               for lib in ("native", "diffqr")}
        out[mode] = (vjp["diffqr"], vjp["native"], vjp["diffqr"] / vjp["native"])
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
    print(f"{'shape':>10} {'mode':>6} {'diffqr VJP':>11} {'native VJP':>11} {'ratio':>6}")
    for shape in args.shapes:
        m, n = (int(s) for s in shape.split("x"))
        for mode, (ours, theirs, ratio) in bench_shape(m, n, args.repeats, rng).items():
            print(f"{shape:>10} {mode:>6} {ours * 1e3:9.1f}ms {theirs * 1e3:9.1f}ms {ratio:6.2f}")


if __name__ == "__main__":
    main()
