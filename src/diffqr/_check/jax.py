"""JAX harness: ``jax.vjp`` for reverse mode, ``jax.jvp`` for forward mode, in float64."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.linalg
import numpy as np

from .harness import Harness


def conj_cotangent(x: np.ndarray) -> np.ndarray:
    """Switch between PyTorch's cotangent convention and JAX's (its complex conjugate).

    For a real loss JAX's ``grad``/``vjp`` return ``∂ℓ/∂Re x − i ∂ℓ/∂Im x``; the same holds for the
    output cotangents it consumes, so the conversion is a conjugation both ways.
    """
    return np.conj(x) if np.iscomplexobj(x) else x


class JaxHarness(Harness):
    name = "jax"
    module = "jax"

    def setup(self):
        jax.config.update("jax_enable_x64", True)

    def asarray(self, x):
        return jnp.asarray(np.array(x))

    def vjp(self, fn, inputs, cotangents):
        _, pullback = jax.vjp(lambda *xs: tuple(fn(*xs)), *[self.asarray(x) for x in inputs])
        grads = pullback(tuple(self.asarray(conj_cotangent(c)) for c in cotangents))
        return [conj_cotangent(self.to_numpy(g)) for g in grads]

    def jvp(self, fn, inputs, tangents):
        _, out = jax.jvp(lambda *xs: tuple(fn(*xs)), tuple(self.asarray(x) for x in inputs),
                         tuple(self.asarray(t) for t in tangents))
        return [self.to_numpy(t) for t in out]

    def native(self, key):
        return {
            "qr_reduced": lambda a: list(jnp.linalg.qr(a)),
            "qr_complete": lambda a: list(jnp.linalg.qr(a, mode="complete")),
            "qr_r": lambda a: [jnp.linalg.qr(a, mode="r")],
            # Q, R of A[..., P]; the permutation itself is piecewise constant.
            "qr_pivoted": lambda a: list(jax.scipy.linalg.qr(a, mode="economic",
                                                             pivoting=True)[:2]),
            "lstsq": lambda a, b: [jnp.linalg.lstsq(a, b)[0]],
        }.get(key)


HARNESS = JaxHarness()
