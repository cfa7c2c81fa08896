"""Pivots by the host ``geqp3`` callback (JAX before 0.4.36 has no ``lax.linalg.qr(pivoting=)``):
the same permutations and derivatives as the native path, under grad, jit and vmap.  On a new
JAX the callback is forced, so both paths are tested on every stack."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import diffqr
from diffqr._backends import jax_pivots
from diffqr._backends._host import householder_pivots
from diffqr._verify import central_difference, random_matrix, relative_error


@pytest.fixture
def host_pivots(monkeypatch):
    monkeypatch.setattr(jax_pivots, "NATIVE_PIVOTING", False)


@pytest.mark.parametrize("shape", [(5, 3), (3, 6), (2, 4, 4)])
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_host_pivots_match_lapack_under_jit_and_vmap(rng, host_pivots, shape, dtype):
    a = random_matrix(rng, shape, dtype)
    expected = householder_pivots(a)
    perm = jax.jit(lambda x: diffqr.qr(x, pivoting=True).P)(jnp.asarray(a))
    np.testing.assert_array_equal(perm, expected)
    assert perm.dtype == jnp.int64
    batch = random_matrix(rng, (3, *shape), dtype)
    vmapped = jax.jit(jax.vmap(lambda x: diffqr.qr(x, pivoting=True).P))(jnp.asarray(batch))
    np.testing.assert_array_equal(vmapped, householder_pivots(batch))


@pytest.mark.parametrize(("shape", "rank"), [((6, 4), None), ((4, 7), None), ((6, 5), 3)])
def test_host_pivot_gradients_match_finite_differences(rng, host_pivots, shape, rank):
    """jit(vmap(grad)) through the callback path vs central differences (fixed pivots)."""
    batch = jnp.asarray(random_matrix(rng, (2, *shape)))
    weights = [jnp.asarray(random_matrix(rng, s)) for s in
               [(shape[0], rank or min(shape)), (rank or min(shape), shape[1])]]

    def loss(x):
        q, r, _ = diffqr.qr(x, pivoting=True, rank=rank)
        return jnp.sum(weights[0] * q) + jnp.sum(weights[1] * r)

    grads = jax.jit(jax.vmap(jax.grad(loss)))(batch)
    for a, g in zip(np.asarray(batch), np.asarray(grads), strict=True):
        direction = random_matrix(rng, shape)
        fd = central_difference(lambda x: [np.asarray(loss(jnp.asarray(x)))], [a], [direction])
        assert relative_error([np.vdot(g, direction)], [fd[0]]) < 1e-6


def test_host_and_native_paths_agree(rng, monkeypatch):
    if not jax_pivots.NATIVE_PIVOTING:
        pytest.skip("this JAX has no lax.linalg.qr(pivoting=True) to compare with")
    a = jnp.asarray(random_matrix(rng, (3, 5, 4)))
    grad = jax.jit(jax.grad(lambda x: jnp.sum(diffqr.qr(x, pivoting=True).R ** 2)))
    native = grad(a)
    monkeypatch.setattr(jax_pivots, "NATIVE_PIVOTING", False)
    host = jax.jit(jax.grad(lambda x: jnp.sum(diffqr.qr(x, pivoting=True).R ** 2)))(a)
    np.testing.assert_allclose(host, native, atol=1e-12)
