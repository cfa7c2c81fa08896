"""CholeskyQR on PyTorch CPU tensors against LAPACK Householder, with the kernels it is made of.

Forward passes of ``diffqr.qr(A, method="cholesky")`` and ``torch.linalg.qr(A)`` on tall-skinny
float64 matrices, side by side (interleaved repeats, CPU time of the process, one thread, pinned to
one core), with the ratio's median; then the kernels of one CholeskyQR pass — the Gram product
``AᴴA`` (PyTorch's GEMM, and NumPy's ``syrk`` on a zero-copy view), the right triangular solve
(PyTorch's, and SciPy's on the view) — and the orthogonality and reconstruction errors of both
factorizations at κ(A) = 1e6.

usage: python -m diffqr bench --only cholesky [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

_PARSER = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_PARSER.add_argument("--repeats", type=int, default=9)
ARGS = _PARSER.parse_args()
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402
import torch  # noqa: E402

import diffqr  # noqa: E402
from diffqr._verify import random_matrix  # noqa: E402

SHAPES = ((20000, 100), (8000, 200), (2000, 500))


def _interleaved(calls: dict, repeats: int) -> dict[str, list[float]]:
    for call in calls.values():
        call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.process_time()
            call()
            samples[name].append(time.process_time() - start)
    return samples


def _calls(a: torch.Tensor) -> dict:
    host = a.numpy()  # a zero-copy view
    r = torch.linalg.qr(a)[1]
    r_host = r.numpy()
    return {
        "cholesky": lambda: diffqr.qr(a, method="cholesky"),
        "lapack": lambda: torch.linalg.qr(a),
        "gram torch": lambda: a.mT @ a,
        "gram numpy syrk": lambda: host.T @ host,
        "solve torch": lambda: torch.linalg.solve_triangular(r.mT, a.mT, upper=False).mT,
        "solve scipy": lambda: scipy.linalg.solve_triangular(r_host, host.T, trans="T"),
    }


def main() -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    print(f"torch {torch.__version__}, float64, one thread, CPU time, median of {ARGS.repeats} "
          "interleaved repeats")
    for m, n in SHAPES:
        a = torch.from_numpy(rng.standard_normal((m, n)))
        samples = _interleaved(_calls(a), ARGS.repeats)
        ratio = statistics.median(x / y for x, y in
                                  zip(samples["cholesky"], samples["lapack"], strict=True))
        times = ", ".join(f"{k} {statistics.median(v) * 1e3:.1f}" for k, v in samples.items())
        print(f"{m}×{n}: cholesky / lapack {ratio:.2f}   (ms: {times})")
    a = torch.from_numpy(random_matrix(rng, (20000, 100), "float64", cond=1e6))
    for name, (q, r) in (("cholesky", diffqr.qr(a, method="cholesky")),
                         ("lapack", torch.linalg.qr(a))):
        orthogonality = (q.mT @ q - torch.eye(100, dtype=a.dtype)).abs().max().item()
        reconstruction = ((q @ r - a).norm() / a.norm()).item()
        print(f"κ = 1e6, {name}: max |QᵀQ − I| {orthogonality:.1e}, "
              f"‖QR − A‖/‖A‖ {reconstruction:.1e}")


if __name__ == "__main__":
    main()
