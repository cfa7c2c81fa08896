"""``diffqr.tria`` against a pseudoinverse-based custom JVP (cuthbert's rule), under jax.jit.

The reference rule, as square-root filtering libraries write it (cuthbert,
``cuthbertlib/linalg/tria.py``), for ``A = L Qᴴ`` (the QR of ``Aᴴ``) and ``L⁺ = pinv(L)``::

    K = L⁺ dA Q,   dL = L (tril(K + Kᴴ) − diag K) + (I − L L⁺) dA Q

It is re-implemented below as a ``jax.custom_jvp`` (its own QR inside the JVP, an SVD-based
``pinv``), and JAX transposes it for ``grad``.  diffqr's rule (docs/square-root-filtering.md) uses
the ``Q`` of the forward pass and one triangular solve: for ``A`` m × n (m ≤ n) the backward costs
about ``2 n m² + 3 m³`` flops against the reference's second QR (``4 n m² − 4/3 m³``), SVD
(``≈ 22 m³``) and products (``≈ 4 n m² + 6 m³``).

Timed: ``jit(grad(ℓ))`` with ``ℓ = Σ L̄ ∘ tria(A)`` (forward + backward), median of interleaved
repeats, for single matrices and ``vmap`` batches of filter-sized ones; the ratio is diffqr /
reference (below 1: diffqr faster).

usage: python -m diffqr bench --only tria [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                      "intra_op_parallelism_threads=1")

import jax
import jax.numpy as jnp
import numpy as np

import diffqr

# (batch, m, n): a filter's state 8 with 16 stacked columns, batched; larger single matrices.
SHAPES = ((1, 8, 16), (1000, 8, 16), (100, 32, 64), (1, 200, 400), (1, 400, 400))


def _adj(x):
    return jnp.conj(jnp.swapaxes(x, -1, -2))


@jax.custom_jvp
def pinv_tria(a):
    """The reference: ``L = qr(Aᴴ, "r")ᴴ`` with the pseudoinverse-based JVP."""
    return _adj(jnp.linalg.qr(_adj(a), mode="r"))


@pinv_tria.defjvp
def _pinv_tria_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    q, r = jnp.linalg.qr(_adj(a))
    lower = _adj(r)
    lower_pinv = jnp.linalg.pinv(lower)
    dq = da @ q
    k = lower_pinv @ dq
    dm = jnp.tril(k + _adj(k)) - k * jnp.eye(k.shape[-1], dtype=k.dtype)
    null = dq - lower @ (lower_pinv @ dq)
    return lower, lower @ dm + null


def _time(fn, a) -> float:
    start = time.perf_counter()
    jax.block_until_ready(fn(a))
    return time.perf_counter() - start


def bench(shape, repeats: int, rng: np.random.Generator) -> dict[str, float]:
    batch, m, n = shape
    a = jnp.asarray(rng.standard_normal((batch, m, n)))
    l_bar = jnp.asarray(rng.standard_normal((batch, m, min(m, n))))
    functions = {"diffqr": lambda x: diffqr.tria(x, check_finite=False), "pinv": pinv_tria}
    programs = {}
    for name, tria in functions.items():
        one = jax.grad(lambda x, y, f=tria: jnp.sum(y * f(x)))
        programs[name] = jax.jit(lambda x, g=one: jax.vmap(g)(x, l_bar))
    samples = {name: [] for name in programs}
    for program in programs.values():
        _time(program, a)  # compile and warm up
    for _ in range(repeats):
        for name, program in programs.items():
            samples[name].append(_time(program, a))
    return {name: float(np.median(s)) for name, s in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(0)
    print(f"jax {jax.__version__}, float64, jit(vmap(grad)), median of {args.repeats} "
          "interleaved repeats")
    for shape in SHAPES:
        t = bench(shape, args.repeats, rng)
        print(f"batch {shape[0]} × {shape[1]}×{shape[2]}: diffqr.tria {t['diffqr'] * 1e3:8.2f} ms,"
              f" pinv rule {t['pinv'] * 1e3:8.2f} ms, ratio {t['diffqr'] / t['pinv']:.2f}")


if __name__ == "__main__":
    main()
