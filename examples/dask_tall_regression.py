"""Tall linear regression on Dask: fit by QR, then differentiate the fit with respect to the data.

The design matrix ``A`` (``--rows × --cols``) and the response ``y = A β_true + noise`` live in
row chunks on a Dask cluster.  ``diffqr.qr`` factors ``A`` by TSQR, the coefficients are
``β = R⁻¹ Qᴴ y``, and ``diffqr.qr_vjp`` gives the gradient of ``ℓ(β) = ½‖β − β_prior‖²`` with
respect to every entry of ``A`` — an m × n array computed row block by row block, never in one
piece.  The example checks it against the closed-form least-squares gradient
``Ā = r zᴴ − ȳ βᴴ`` (``w = R⁻ᴴ β̄``, ``z = R⁻¹ w``, ``ȳ = Q w``, ``r = y − A β``).

usage: python examples/dask_tall_regression.py [--rows N] [--cols N] [--chunk-rows N]
                                               [--scheduler-address tcp://host:8786]
Without an address a LocalCluster of 2 worker processes is started.
"""

from __future__ import annotations

import argparse
import contextlib

import dask
import dask.array as da
import numpy as np
import scipy.linalg
from distributed import Client, LocalCluster

import diffqr


def regression_gradient(a: da.Array, y: da.Array, beta_prior: np.ndarray):
    """``β``, the lazy gradient ``Ā`` of ``½‖β − β_prior‖²`` through QR, and ``Q``, ``R``."""
    q, r = diffqr.qr(a)
    r_value, qty = dask.compute(r, q.conj().T @ y)  # one pass over the data; k-sized results
    beta = scipy.linalg.solve_triangular(r_value, qty)
    beta_bar = beta - beta_prior
    # β = R⁻¹ Qᴴ y  ⇒  Q̄ = y wᴴ and R̄ = −w βᴴ with w = R⁻ᴴ β̄ (the chain rule through β).
    w = scipy.linalg.solve_triangular(r_value, beta_bar, trans="C")
    q_bar = y[:, None] * w.conj()[None, :]
    r_bar = da.from_array(-np.outer(w, beta.conj()))
    a_bar = diffqr.qr_vjp(a, q, r, q_bar, r_bar)
    return beta, a_bar, q, r_value, w


def closed_form_gradient(a, y, q, r_value, beta, w):
    """``Ā = r zᴴ − (Q w) βᴴ``: the direct least-squares rule, for comparison."""
    z = scipy.linalg.solve_triangular(r_value, w)
    residual = y - a @ beta
    return residual[:, None] * z.conj()[None, :] - (q @ w)[:, None] * beta.conj()[None, :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--cols", type=int, default=20)
    parser.add_argument("--chunk-rows", type=int, default=200_000)
    parser.add_argument("--scheduler-address", help="e.g. tcp://10.0.0.5:8786 (default: local)")
    args = parser.parse_args(argv)

    with contextlib.ExitStack() as stack:
        if args.scheduler_address:
            client = stack.enter_context(Client(args.scheduler_address))
        else:
            cluster = stack.enter_context(LocalCluster(n_workers=2, threads_per_worker=1,
                                                       dashboard_address=None))
            client = stack.enter_context(Client(cluster))
        print(f"cluster: {len(client.scheduler_info(n_workers=-1)['workers'])} workers")

        rng = da.random.default_rng(0)
        a = rng.standard_normal((args.rows, args.cols), chunks=(args.chunk_rows, args.cols))
        beta_true = np.linspace(-1.0, 1.0, args.cols)
        y = a @ beta_true + 0.1 * rng.standard_normal(args.rows, chunks=args.chunk_rows)
        beta_prior = np.zeros(args.cols)

        beta, a_bar, q, r_value, w = regression_gradient(a, y, beta_prior)
        print(f"max |β − β_true| = {np.abs(beta - beta_true).max():.2e}")
        reference = closed_form_gradient(a, y, q, r_value, beta, w)
        norm, difference = dask.compute(da.linalg.norm(a_bar),
                                         da.linalg.norm(a_bar - reference))
        print(f"‖Ā‖ = {norm:.6e}; relative difference to the closed-form gradient: "
              f"{difference / norm:.1e}")
        print(f"Ā is {a_bar.shape[0]:,} × {a_bar.shape[1]} in {a_bar.numblocks[0]} row chunks")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
