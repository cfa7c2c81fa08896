"""The ``diffqr_tangent`` primitive: reverse mode runs the VJP rule, and everything else works.

Its transpose (the VJP rule) must be the exact adjoint of its evaluation (the JVP rule) for real
and complex input; its JVP rule (second order through the residuals A, Q, R) and its batching
rule (``vmap`` over the tangents only, over everything) are checked against central differences
and against the unbatched call.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import diffqr
from diffqr._verify import central_difference, inner, random_matrix, relative_error

SHAPES = [(7, 4), (5, 5), (4, 7)]
DTYPES = ["float64", "complex128"]


def test_reverse_mode_is_the_tangent_primitive_transposed(rng):
    """The linearized QR holds ``diffqr_tangent``; its transpose holds no ``diffqr_tangent`` left
    (it was replaced by the VJP rule), and forward mode still evaluates the primitive."""
    a = jnp.asarray(random_matrix(rng, (7, 4)))
    _, linear = jax.linearize(lambda x: tuple(diffqr.qr(x)), a)
    # the printed jaxpr includes every sub-jaxpr
    assert "diffqr_tangent" in str(jax.make_jaxpr(linear)(a))
    transposed = jax.linear_transpose(linear, a)
    cotangents = tuple(jnp.ones_like(y) for y in diffqr.qr(a))
    assert "diffqr_tangent" not in str(jax.make_jaxpr(transposed)(cotangents))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_transpose_is_the_adjoint_of_the_tangent_map(rng, shape, dtype):
    """``Re <Ȳ, J dA> = Re <Jᵀ Ȳ, dA>`` with JAX's bilinear pairing, and ``J dA`` against FD."""
    a = random_matrix(rng, shape, dtype)
    da = random_matrix(rng, shape, dtype)
    call = jax.jit(lambda x: tuple(diffqr.qr(x)))
    _, linear = jax.linearize(call, jnp.asarray(a))
    tangents = [np.asarray(t) for t in linear(jnp.asarray(da))]
    fd = central_difference(lambda x: [np.asarray(y) for y in call(jnp.asarray(x))], [a], [da])
    assert relative_error(tangents, fd) < 1e-8
    cotangents = [random_matrix(rng, t.shape, dtype) for t in tangents]
    (a_bar,) = jax.linear_transpose(linear, jnp.asarray(a))(tuple(map(jnp.asarray, cotangents)))
    # JAX pairs without conjugation: Re Σ Ȳ·(J dA) = Re Σ (Jᵀ Ȳ)·dA
    left = sum(inner(np.conj(c), t) for c, t in zip(cotangents, tangents, strict=True))
    right = inner(np.conj(np.asarray(a_bar)), da)
    assert abs(left - right) <= 1e-12 * max(abs(left), 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_over_forward_matches_finite_differences(rng, shape, dtype):
    """The primitive's own JVP rule: ``d/ds J(A + s S) dA`` (its residuals move), against FD."""
    a, s, da = (random_matrix(rng, shape, dtype) for _ in range(3))
    da_j = jnp.asarray(da)

    def tangent(x):
        return jax.jvp(lambda y: tuple(diffqr.qr(y)), (x,), (da_j,))[1]

    tangent = jax.jit(tangent)
    second = jax.jvp(tangent, (jnp.asarray(a),), (jnp.asarray(s),))[1]
    fd = central_difference(lambda x: [np.asarray(t) for t in tangent(jnp.asarray(x))], [a], [s])
    assert relative_error([np.asarray(t) for t in second], fd) < 1e-7


@pytest.mark.parametrize("dtype", DTYPES)
def test_reverse_over_reverse_matches_finite_differences(rng, dtype):
    """``grad`` of a function of ``grad`` (the VJP rule differentiated again), against FD."""
    a, d = (random_matrix(rng, (6, 4), dtype) for _ in range(2))
    w = jnp.asarray(random_matrix(rng, (4, 4), dtype))

    def loss(x):
        q, r = diffqr.qr(x)
        return jnp.real(jnp.sum(w * r * r)) + jnp.sum(jnp.abs(q) ** 2 * jnp.arange(6.0)[:, None])

    def outer(x):  # a real scalar of the gradient
        g = jax.grad(loss)(x)
        return jnp.sum(jnp.abs(g) ** 2)

    grad2 = np.asarray(jax.jit(jax.grad(outer))(jnp.asarray(a)))
    (fd,) = central_difference(lambda x: [np.asarray(outer(jnp.asarray(x)))], [a], [d])
    # JAX's gradient of a real function is conj(∂/∂Re + i ∂/∂Im): the directional derivative is
    # Re Σ grad · d
    assert abs(inner(np.conj(grad2), d) - float(fd)) <= 1e-6 * max(abs(float(fd)), 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_vmap_over_tangents_only_and_over_everything(rng, dtype):
    """Batching rule: ``jacfwd`` (tangents mapped, residuals not) and ``vmap`` of ``jvp`` over
    inputs and tangents both, against the unbatched calls."""
    a = jnp.asarray(random_matrix(rng, (3, 6, 4), dtype))
    da = jnp.asarray(random_matrix(rng, (3, 6, 4), dtype))

    def jvp(x, t):
        return jax.jvp(lambda y: tuple(diffqr.qr(y)), (x,), (t,))[1]

    over_tangents = jax.jit(jax.vmap(jvp, in_axes=(None, 0)))(a[0], da)
    over_all = jax.jit(jax.vmap(jvp, in_axes=(0, 1), out_axes=1))(a, jnp.moveaxis(da, 0, 1))
    for i in range(3):
        expected_t = jvp(a[0], da[i])
        expected_a = jvp(a[i], da[i])
        for y, z in zip(over_tangents, expected_t, strict=True):
            np.testing.assert_allclose(y[i], z, atol=1e-12)
        for y, z in zip(over_all, expected_a, strict=True):
            np.testing.assert_allclose(y[:, i], z, atol=1e-12)


def test_jacfwd_equals_jacrev_for_lstsq(rng):
    """Least squares (auxiliary output, nested primitive): forward and reverse Jacobians agree."""
    a = jnp.asarray(random_matrix(rng, (6, 3)))
    b = jnp.asarray(random_matrix(rng, (6, 2)))

    def solve(x):
        return diffqr.lstsq(x, b)

    np.testing.assert_allclose(jax.jit(jax.jacfwd(solve))(a), jax.jit(jax.jacrev(solve))(a),
                               atol=1e-11)
