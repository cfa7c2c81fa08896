"""diffqr on jax.Array: outputs, vmap, single precision, rank deficiency."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.linalg
import numpy as np
import pytest

import diffqr
from diffqr._verify import random_matrix

F32_EPS = float(np.finfo(np.float32).eps)


def _weighted_loss(rng, shapes, dtype, factor):
    """A real scalar ``Re Σ W_i ∘ X_i`` of the outputs ``factor(x)`` (random weights)."""
    weights = [jnp.asarray(random_matrix(rng, s, dtype)) for s in shapes]

    def loss(x):
        outputs = factor(x)
        return sum(jnp.real(jnp.sum(w.astype(x.dtype) * y))
                   for w, y in zip(weights, outputs, strict=True))

    return loss


# ---------------------------------------------------------------------- outputs


# ---------------------------------------------------------------------- vmap


@pytest.mark.parametrize(("shape", "pivoting"), [((3, 6, 4), False), ((3, 4, 7), True)])
def test_vmap_matches_batch_and_loop(rng, shape, pivoting):
    """vmap of the factorization, of its gradient and of its JVP (pivoted wide included)."""
    a = jnp.asarray(random_matrix(rng, shape))

    def factor(x):
        return diffqr.qr(x, pivoting=pivoting)[:2]

    for y, z in zip(jax.vmap(factor)(a), factor(a), strict=True):
        np.testing.assert_allclose(y, z, atol=1e-13)
    loss = _weighted_loss(rng, [y.shape[1:] for y in factor(a)], "float64", factor)
    grad = jax.jit(jax.grad(loss))
    vmapped = jax.jit(jax.vmap(jax.grad(loss)))(a)
    np.testing.assert_allclose(vmapped, jnp.stack([grad(x) for x in a]), atol=1e-12)
    da = jnp.asarray(random_matrix(rng, shape))
    jvp = jax.jit(lambda x, t: jax.jvp(factor, (x,), (t,))[1])
    for y, z in zip(jax.jit(jax.vmap(jvp))(a, da), jvp(a, da), strict=True):
        np.testing.assert_allclose(y, z, atol=1e-12)


# ---------------------------------------------------------------------- single precision


# ---------------------------------------------------------------------- rank deficiency


def _dependent_columns(rng):
    a = random_matrix(rng, (6, 4))
    a[:, 1] = 2 * a[:, 0]
    return jnp.asarray(a)


def test_singular_block_under_jit_is_non_finite(rng):
    """Documented: under jit the eager check cannot run, and an exactly singular R is inf/nan."""
    a = np.array(_dependent_columns(rng))
    a[:, 1] = 0.0

    def loss(x):
        return jnp.sum(diffqr.qr(x).Q)

    with pytest.raises(diffqr.RankDeficientError):
        jax.grad(loss)(jnp.asarray(a))
    g = jax.jit(jax.grad(loss))(jnp.asarray(a))
    assert not np.all(np.isfinite(g))
