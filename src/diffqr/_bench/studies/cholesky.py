"""CholeskyQR on PyTorch CPU tensors against LAPACK Householder, with the kernels it is made of.

Forward passes of ``diffqr.qr(A, method="cholesky")`` and ``torch.linalg.qr(A)`` on tall-skinny
float64 matrices, side by side (interleaved repeats, CPU time of the process, one thread, pinned to
one core), with the ratio's median; then the kernels of one CholeskyQR pass — the Gram product
``AᴴA`` (PyTorch's GEMM, as one product or as two covering its lower half, and NumPy's ``syrk``
on a zero-copy view), the right triangular solve (PyTorch's, as an inverse and a GEMM, and SciPy's
on the view), PyTorch's ``potrf``, and the CholeskyQR2 floor they imply (two passes of the fastest
PyTorch kernels against LAPACK, per repeat) — and the orthogonality and reconstruction errors of
both factorizations at κ(A) = 1e6.

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


def _gram_two_products(a: torch.Tensor) -> torch.Tensor:
    """The lower half of ``AᴴA`` as two products (3/4 of the flops: PyTorch has no ``syrk``)."""
    h = a.shape[-1] // 2
    gram = a.new_empty((a.shape[-1], a.shape[-1]))
    torch.matmul(a.mT, a[:, :h], out=gram[:, :h])
    torch.matmul(a[:, h:].mT, a[:, h:], out=gram[h:, h:])
    return gram


def _calls(a: torch.Tensor) -> dict:
    host = a.numpy()  # a zero-copy view
    r = torch.linalg.qr(a)[1]
    r_host = r.numpy()
    r_inverse = torch.linalg.solve_triangular(r, torch.eye(r.shape[-1], dtype=r.dtype), upper=True)
    return {
        "cholesky": lambda: diffqr.qr(a, method="cholesky"),
        "lapack": lambda: torch.linalg.qr(a),
        "gram torch": lambda: a.mT @ a,
        "gram torch, two products": lambda: _gram_two_products(a),
        "gram numpy syrk": lambda: host.T @ host,
        "solve torch": lambda: torch.linalg.solve_triangular(r.mT, a.mT, upper=False).mT,
        "solve torch, inverse + GEMM": lambda: a @ r_inverse,
        "potrf torch": lambda: torch.linalg.cholesky(r.mT @ r, upper=True),
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
        # CholeskyQR2 from PyTorch's fastest kernels: two Gram products, potrf and solves
        floor = statistics.median(
            2 * (min(g1, g2) + min(s1, s2) + c) / lapack for g1, g2, s1, s2, c, lapack in zip(
                samples["gram torch"], samples["gram torch, two products"],
                samples["solve torch"], samples["solve torch, inverse + GEMM"],
                samples["potrf torch"], samples["lapack"], strict=True))
        print(f"  CholeskyQR2 kernel floor with PyTorch's kernels: {floor:.2f} × LAPACK")
    a = torch.from_numpy(random_matrix(rng, (20000, 100), "float64", cond=1e6))
    for name, (q, r) in (("cholesky", diffqr.qr(a, method="cholesky")),
                         ("lapack", torch.linalg.qr(a))):
        orthogonality = (q.mT @ q - torch.eye(100, dtype=a.dtype)).abs().max().item()
        reconstruction = ((q @ r - a).norm() / a.norm()).item()
        print(f"κ = 1e6, {name}: max |QᵀQ − I| {orthogonality:.1e}, "
              f"‖QR − A‖/‖A‖ {reconstruction:.1e}")


if __name__ == "__main__":
    main()
