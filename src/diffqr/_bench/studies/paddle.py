"""diffqr against PaddlePaddle's own ``paddle.linalg.qr`` and ``lstsq``: forward + backward.

QR: both sides factor the same matrix and backpropagate the same cotangents of Q and R
(``paddle.grad``), reduced mode, where paddle's gradient exists.  Least squares: paddle's
``lstsq`` has no gradient, so diffqr's forward + backward is set against paddle's forward alone
(and diffqr's forward).  Medians of interleaved repeats, so both sides see the same load.

usage: python -m diffqr bench --only paddle [--repeats N] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import paddle

import diffqr

SHAPES = [(64, 32), (256, 128), (1000, 250), (500, 500), (250, 1000), (100, 16, 16)]
QUICK_SHAPES = [(64, 32), (500, 500), (100, 16, 16)]


def _medians(runs: dict, repeats: int) -> dict:
    times = {key: [] for key in runs}
    for run in runs.values():  # warm-up
        run()
    for _ in range(repeats):
        for key, run in runs.items():
            start = time.perf_counter()
            run()
            times[key].append(time.perf_counter() - start)
    return {key: statistics.median(ts) for key, ts in times.items()}


def qr_runs(shape, dtype, rng) -> dict:
    k = min(shape[-2:])
    a = paddle.to_tensor(rng.standard_normal(shape).astype(dtype), stop_gradient=False)
    q_bar = paddle.to_tensor(rng.standard_normal((*shape[:-1], k)).astype(dtype))
    r_bar = paddle.to_tensor(rng.standard_normal((*shape[:-2], k, shape[-1])).astype(dtype))

    def fwd_bwd(qr):
        def run():
            q, r = qr(a)
            paddle.grad([q, r], [a], [q_bar, r_bar])[0].numpy()
        return run

    return {"native": fwd_bwd(paddle.linalg.qr),
            "diffqr": fwd_bwd(lambda x: tuple(diffqr.qr(x, check_finite=False)))}


def lstsq_runs(shape, dtype, rng) -> dict:
    a = paddle.to_tensor(rng.standard_normal(shape).astype(dtype), stop_gradient=False)
    b = paddle.to_tensor(rng.standard_normal((*shape[:-1], 3)).astype(dtype))
    x_bar = paddle.to_tensor(rng.standard_normal((*shape[:-2], shape[-1], 3)).astype(dtype))

    def ours_fwd_bwd():
        x = diffqr.lstsq(a, b, check_finite=False)
        paddle.grad([x], [a], [x_bar])[0].numpy()

    return {"native fwd": lambda: paddle.linalg.lstsq(a.detach(), b)[0].numpy(),
            "diffqr fwd": lambda: diffqr.lstsq(a.detach(), b, check_finite=False).numpy(),
            "diffqr fwd+bwd": ours_fwd_bwd}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="three shapes, 5 repeats")
    args = parser.parse_args()
    repeats = 5 if args.quick else args.repeats
    rng = np.random.default_rng(0)
    shapes = QUICK_SHAPES if args.quick else SHAPES
    print(f"paddle {paddle.__version__} ({paddle.get_device()}), {repeats} interleaved repeats, "
          "medians")
    print(f"\nQR fwd+bwd (reduced)\n{'shape':>12} {'dtype':>8} {'diffqr':>10} {'paddle':>10} "
          f"{'ratio':>6}")
    for shape in shapes:
        for dtype in ("float64", "float32"):
            med = _medians(qr_runs(shape, dtype, rng), repeats)
            label = "×".join(map(str, shape))
            print(f"{label:>12} {dtype:>8} {med['diffqr'] * 1e3:8.2f}ms "
                  f"{med['native'] * 1e3:8.2f}ms {med['diffqr'] / med['native']:6.2f}")
    print(f"\nlstsq, 3 right-hand sides, float64 (paddle.linalg.lstsq has no gradient)\n"
          f"{'shape':>12} {'paddle fwd':>11} {'diffqr fwd':>11} {'diffqr fwd+bwd':>15} "
          f"{'fwd ratio':>9}")
    for shape in shapes:
        if shape[-2] < shape[-1]:
            continue  # paddle's CPU lstsq (gelsy) of a wide matrix is the same call; keep deep
        med = _medians(lstsq_runs(shape, "float64", rng), repeats)
        label = "×".join(map(str, shape))
        print(f"{label:>12} {med['native fwd'] * 1e3:9.2f}ms {med['diffqr fwd'] * 1e3:9.2f}ms "
              f"{med['diffqr fwd+bwd'] * 1e3:13.2f}ms "
              f"{med['diffqr fwd'] / med['native fwd']:9.2f}")


if __name__ == "__main__":
    main()
