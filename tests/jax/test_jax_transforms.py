"""diffqr on jax.Array: outputs, vmap, single precision, rank deficiency."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.linalg
import numpy as np
import pytest

import diffqr
from diffqr._verify import random_matrix, relative_error

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


@pytest.mark.parametrize(("shape", "dtype"), [((7, 4), "float32"), ((4, 7), "complex64"),
                                             ((5, 5), "float64"), ((2, 4, 6), "complex128")])
def test_outputs_equal_jax_linalg_qr(rng, shape, dtype):
    a = jnp.asarray(random_matrix(rng, shape, dtype))
    for mode in ("reduced", "complete"):
        q, r = diffqr.qr(a, mode=mode)
        q_ref, r_ref = jnp.linalg.qr(a, mode=mode)
        assert isinstance(q, jax.Array) and q.dtype == a.dtype and r.dtype == a.dtype
        np.testing.assert_array_equal(q, q_ref)
        np.testing.assert_array_equal(r, r_ref)
    np.testing.assert_array_equal(diffqr.qr(a, mode="r"), jnp.linalg.qr(a, mode="r"))
    l_factor, q = diffqr.lq(a)
    q_t, r_t = jnp.linalg.qr(jnp.conj(jnp.swapaxes(a, -1, -2)))
    np.testing.assert_array_equal(l_factor, jnp.conj(jnp.swapaxes(r_t, -1, -2)))
    np.testing.assert_array_equal(q, jnp.conj(jnp.swapaxes(q_t, -1, -2)))


@pytest.mark.parametrize("shape", [(7, 4), (4, 7), (2, 5, 6)])
def test_pivoted_outputs_equal_lapack(rng, shape):
    """The pivots are LAPACK geqp3's: the same as diffqr's NumPy ones and JAX's own pivoted QR."""
    a = random_matrix(rng, shape, "complex128")
    q, r, p = diffqr.qr(jnp.asarray(a), pivoting=True)
    assert p.dtype == jnp.int64 and p.shape == (*shape[:-2], shape[-1])
    np.testing.assert_array_equal(p, diffqr.qr(a, pivoting=True).P)
    np.testing.assert_allclose(q @ r, np.take_along_axis(a, np.asarray(p)[..., None, :], -1),
                               atol=1e-13)
    if len(shape) == 2:
        q_ref, r_ref, p_ref = jax.scipy.linalg.qr(jnp.asarray(a), mode="economic", pivoting=True)
        np.testing.assert_array_equal(p, p_ref)
        np.testing.assert_allclose(q, q_ref, atol=1e-14)
        np.testing.assert_allclose(r, r_ref, atol=1e-14)


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


@pytest.mark.parametrize("cond", [1e1, 1e3])
@pytest.mark.parametrize(("shape", "dtype"), [((8, 5), "float32"), ((5, 8), "complex64")])
def test_single_precision_agrees_with_double(rng, shape, dtype, cond):
    """The float32/complex64 gradient is the float64 one up to ε₃₂ × κ of the divided block."""
    wide = "complex128" if np.dtype(dtype).kind == "c" else "float64"
    a = random_matrix(rng, shape, wide, cond=cond)
    k = min(shape)
    kappa = np.linalg.cond(a[:, :k])
    loss = _weighted_loss(rng, [(shape[0], k), (k, shape[1])], wide, diffqr.qr)
    grad = jax.jit(jax.grad(loss))
    g64, g32 = grad(jnp.asarray(a)), grad(jnp.asarray(a.astype(dtype)))
    assert g32.dtype == dtype
    assert relative_error([np.asarray(g32)], [np.asarray(g64)]) < 20 * kappa * F32_EPS


# ---------------------------------------------------------------------- rank deficiency


def _dependent_columns(rng):
    a = random_matrix(rng, (6, 4))
    a[:, 1] = 2 * a[:, 0]
    return jnp.asarray(a)


@pytest.mark.parametrize("transform", ["grad", "jvp"])
def test_rank_deficient_raises_eagerly(rng, transform):
    a = _dependent_columns(rng)
    for factor, x in ((diffqr.qr, a), (diffqr.lq, a.T)):
        def loss(y, factor=factor):
            return jnp.sum(factor(y)[0])

        with pytest.raises(diffqr.RankDeficientError, match="pivoting=True"):
            if transform == "grad":
                jax.grad(loss)(x)
            else:
                jax.jvp(loss, (x,), (x,))


def test_pivoted_rank_k_is_finite_where_plain_qr_is_not(rng):
    """Rank 3 matrix: the rank-3 pivoted gradient is defined (and FD-checked in the check table)."""
    a = random_matrix(rng, (6, 3)) @ random_matrix(rng, (3, 5))
    g = jax.grad(lambda x: jnp.sum(diffqr.qr(x, pivoting=True, rank=3)[0]))(jnp.asarray(a))
    assert np.all(np.isfinite(g))


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
