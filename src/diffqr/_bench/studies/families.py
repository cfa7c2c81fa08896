"""The Array API and autograd paths against their NumPy/LAPACK counterparts, side by side.

usage: python -m diffqr bench --only families [--repeats N] [--size N]

array-api-strict (its CPU device; it wraps NumPy, so the ratios measure diffqr's standard-only
building blocks and the namespace's overhead, not a different BLAS):
  - pivots: column-pivoted Householder in standard operations vs LAPACK ``geqp3`` (SciPy);
  - triangular solve: the blocked solve vs ``scipy.linalg.solve_triangular``;
  - QR + ``qr_vjp``: the explicit rules in the namespace vs the same on NumPy arrays.
autograd: ``autograd.grad`` through ``diffqr.qr`` vs diffqr.qr + the explicit ``qr_vjp`` on
NumPy (the cost of autograd's tracing and of the cotangent conversions).
Median wall times of interleaved repeats (the first round is dropped); ratio = path / reference.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import array_api_strict as xp
import autograd
import autograd.numpy as anp
import numpy as np
import scipy.linalg

import diffqr
from diffqr._backends import array_api_linalg


def compare(name: str, ours: Callable[[], object], reference: Callable[[], object],
            repeats: int) -> None:
    times: dict[str, list[float]] = {"ours": [], "ref": []}
    for _ in range(repeats + 1):
        for label, fn in (("ours", ours), ("ref", reference)):
            start = time.perf_counter()
            fn()
            times[label].append(time.perf_counter() - start)
    a, b = (statistics.median(times[k][1:]) for k in ("ours", "ref"))
    print(f"{name:<48}{a:>10.4f}{b:>10.4f}{a / b:>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--size", type=int, default=400)
    args = parser.parse_args()
    n = args.size
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2 * n, n))
    q_bar, r_bar = rng.standard_normal((2 * n, n)), rng.standard_normal((n, n))
    r = np.linalg.qr(a, mode="r") + 0.0
    b = rng.standard_normal((n, 8))
    a_x, r_x, b_x = (xp.asarray(x) for x in (a, r, b))
    qb_x, rb_x = xp.asarray(q_bar), xp.asarray(r_bar)

    def strict_rules():
        q, rr = diffqr.qr(a_x)
        diffqr.qr_vjp(a_x, q, rr, qb_x, rb_x)

    def numpy_rules():
        q, rr = diffqr.qr(a)
        diffqr.qr_vjp(a, q, rr, q_bar, r_bar)

    def loss(x):
        q, rr = diffqr.qr(x)
        return anp.sum(q * q_bar) + anp.sum(rr * r_bar)

    print(f"float64, {2 * n}×{n} (solve: {n}×{n}, 8 rhs), median of {args.repeats}")
    print(f"{'case':<48}{'path [s]':>10}{'ref [s]':>10}{'ratio':>8}")
    compare("strict pivots vs geqp3 (SciPy)",
            lambda: array_api_linalg.householder_pivots(xp, a_x, None),
            lambda: scipy.linalg.qr(a, mode="r", pivoting=True), args.repeats)
    compare("strict blocked solve vs scipy solve_triangular",
            lambda: array_api_linalg.solve_upper(xp, r_x, b_x),
            lambda: scipy.linalg.solve_triangular(r, b), args.repeats)
    compare("strict QR + qr_vjp vs NumPy QR + qr_vjp", strict_rules, numpy_rules, args.repeats)
    compare("autograd.grad(qr) vs NumPy QR + qr_vjp", lambda: autograd.grad(loss)(a),
            numpy_rules, args.repeats)


if __name__ == "__main__":
    main()
