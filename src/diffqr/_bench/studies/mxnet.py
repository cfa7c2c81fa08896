"""diffqr's LQ against MXNet's own ``mx.nd.linalg.gelqf``: forward + backward, side by side.

``gelqf`` is MXNet's only differentiable orthogonal factorization (LQ of wide matrices, m <= n),
so wide shapes are the comparable case.  Both sides factor the same matrix and backpropagate the
same head gradients for L and Q.  A second table times diffqr's backward alone with the rules
run on the host with NumPy (what diffqr does) against the same rules run on MXNet arrays through
the MXNet vocabulary (the design alternative).

usage (in the MXNet environment, from the repository root; one BLAS thread for both sides):
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 PYTHONPATH=src \
        .venv-mxnet/bin/python -m diffqr bench --only mxnet [--quick]
"""

from __future__ import annotations

import sys
import time

import mxnet as mx
import numpy as np

import diffqr
from diffqr._backends.mxnet import BACKEND, _from_host
from diffqr._backends.numpy import BACKEND as NUMPY
from diffqr._primitives import QR

SHAPES = [(32, 64), (128, 256), (256, 1024), (512, 2048), (64, 16, 48)]
QUICK_SHAPES = [(32, 64), (128, 256), (64, 16, 48)]
DTYPES = ("float32", "float64")


def best_times(fns, repeat: int) -> list[float]:
    """Best of ``repeat`` runs of each function (after one warm-up), in seconds, the functions
    taking turns so that a change of load on a shared machine hits them alike; each ``fn`` must
    synchronize."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, samples in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
    return [min(samples) for samples in times]


def lq_pair(shape, dtype, rng):
    a = mx.nd.array(rng.standard_normal(shape), dtype=dtype)
    k = min(shape[-2:])
    l_bar = mx.nd.array(rng.standard_normal((*shape[:-1], k)), dtype=dtype)
    q_bar = mx.nd.array(rng.standard_normal((*shape[:-2], k, shape[-1])), dtype=dtype)
    a.attach_grad()

    def native():
        with mx.autograd.record():
            q, l_factor = mx.nd.linalg.gelqf(a)
        mx.autograd.backward([l_factor, q], [l_bar, q_bar])
        a.grad.wait_to_read()

    def ours():
        with mx.autograd.record():
            l_factor, q = diffqr.lq(a)
        mx.autograd.backward([l_factor, q], [l_bar, q_bar])
        a.grad.wait_to_read()

    return native, ours


def backward_designs(shape, dtype, rng):
    """The QR VJP (of Aᴴ, as LQ uses it) on the host with NumPy vs on MXNet arrays."""
    at = rng.standard_normal(shape).astype(dtype).swapaxes(-1, -2)
    q, r = np.linalg.qr(at)
    q_bar, r_bar = rng.standard_normal(q.shape).astype(dtype), rng.standard_normal(r.shape)
    host = ((at,), (q, r), (q_bar, r_bar.astype(dtype)))
    device = tuple(tuple(mx.nd.array(x, dtype=dtype) for x in group) for group in host)
    options = {"mode": "reduced", "rank": min(shape[-2:])}

    def on_mxnet():
        (a_bar,) = QR.vjp(BACKEND, *device, **options)
        a_bar.wait_to_read()

    def on_host():  # what diffqr's backward does: copy out, NumPy rules, copy back
        inputs, outputs, cots = (tuple(x.asnumpy() for x in group) for group in device)
        (a_bar,) = QR.vjp(NUMPY, inputs, outputs, cots, **options)
        _from_host(a_bar, device[0][0]).wait_to_read()

    return on_mxnet, on_host


def compare(title: str, names: tuple[str, str], make_pair, shapes, repeat: int, rng) -> None:
    """One table: both functions of ``make_pair`` per shape and dtype, and their time ratio."""
    print(f"\n{title}")
    header = (f"{'shape':<14}{'dtype':<9}{names[0]:>11}{names[1]:>11}"
              f"{names[1] + '/' + names[0]:>{len(names[0]) + len(names[1]) + 4}}")
    print(header + "\n" + "-" * len(header))
    for shape in shapes:
        for dtype in DTYPES:
            first, second = best_times(make_pair(shape, dtype, rng), repeat)
            print(f"{'×'.join(map(str, shape)):<14}{dtype:<9}{1e3 * first:>11.2f}"
                  f"{1e3 * second:>11.2f}{second / first:>{len(header) - 45}.2f}")


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    shapes, repeat = (QUICK_SHAPES, 3) if quick else (SHAPES, 9)
    rng = np.random.default_rng(0)
    print(f"MXNet {mx.__version__}, NumPy {np.__version__}, best of {repeat}, milliseconds")
    compare("LQ forward + backward (head gradients for L and Q)", ("gelqf", "diffqr"), lq_pair,
            shapes, repeat, rng)
    compare("diffqr's backward alone: its rules on MXNet arrays vs on the host (what diffqr does)",
            ("mxnet", "host"), backward_designs, shapes, repeat, rng)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
