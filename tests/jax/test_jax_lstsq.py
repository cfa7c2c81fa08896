"""diffqr.lstsq on jax.Array: outputs, the ridge as a traced input, vmap, second order, rank.

First-order derivatives of every lstsq capability row are checked against finite differences in
test_jax_derivatives.py; this file covers what is particular to least squares.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import diffqr
from diffqr._verify import central_difference, random_matrix, relative_error


@pytest.mark.parametrize("shape", [(7, 4), (4, 7)])
def test_ridge_gradient_vmapped_over_ridge(rng, shape):
    """``λ`` as a traced 0-d input: jit(vmap(grad)) over a batch of λ equals the loop and FD."""
    a = jnp.asarray(random_matrix(rng, shape))
    b = jnp.asarray(random_matrix(rng, (shape[0], 2)))
    w = jnp.asarray(random_matrix(rng, (shape[1], 2)))

    def loss(lam):
        return jnp.sum(w * diffqr.lstsq(a, b, ridge=lam))

    lams = jnp.asarray([0.1, 0.7, 2.0])
    batched = jax.jit(jax.vmap(jax.grad(loss)))(lams)
    grad = jax.jit(jax.grad(loss))
    np.testing.assert_allclose(batched, [grad(lam) for lam in lams], rtol=1e-12)
    for lam, g in zip(lams, batched, strict=True):
        h = 1e-6
        fd = (loss(lam + h) - loss(lam - h)) / (2 * h)
        assert abs(g - fd) < 1e-7 * max(abs(fd), 1.0)


@pytest.mark.parametrize(("shape", "dtype"), [((7, 4), "float64"), ((4, 7), "complex128")])
def test_hessian_vector_product(rng, shape, dtype):
    """Forward over reverse through the nested primitives (the rules solve with GRAM_SOLVE)."""
    a = random_matrix(rng, shape, dtype)
    b = jnp.asarray(random_matrix(rng, (shape[0], 2), dtype))
    w = jnp.asarray(random_matrix(rng, (shape[1], 2), dtype))

    def loss(x):
        return jnp.real(jnp.sum(w * diffqr.lstsq(x, b, ridge=jnp.asarray(0.2)) ** 2))

    grad = jax.jit(jax.grad(loss))
    d = random_matrix(rng, shape, dtype)
    _, hd = jax.jit(lambda x, t: jax.jvp(grad, (x,), (t,)))(jnp.asarray(a), jnp.asarray(d))
    (fd,) = central_difference(lambda x: [np.asarray(grad(jnp.asarray(x)))], [a], [d])
    assert relative_error([np.asarray(hd)], [fd]) < 1e-7


