"""Batched small QR on JAX (``_tuning.SMALL_QR["jax"]``): one jitted Householder across the batch,
with the fallback to LAPACK decided inside the computation (``lax.cond``).  Oracles: LAPACK's
factors (same gauge) eager, under ``jit`` and ``vmap``; gradients against finite differences; the
fast-path switch."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import diffqr
import diffqr._primitives as primitives
from diffqr import _tuning
from diffqr._backends.jax import BACKEND


@pytest.fixture(autouse=True)
def _small_batches_too(monkeypatch):
    monkeypatch.setitem(_tuning.SMALL_QR, "jax", (8, 2))


@pytest.mark.parametrize("mode", ["reduced", "complete"])
@pytest.mark.parametrize("shape", [(6, 3, 3), (5, 4, 2), (5, 2, 4), (3, 2, 8, 8)])
def test_factors_equal_lapack_eager_jit_vmap(rng, shape, mode):
    a = rng.standard_normal(shape)
    a[0, ...] = np.triu(a[0, ...])
    x = jnp.asarray(a)
    assert BACKEND.small_batch(x)
    q0, r0 = np.linalg.qr(a, mode=mode)
    runs = {
        "eager": diffqr.qr(x, mode=mode),
        "jit": jax.jit(lambda y: tuple(diffqr.qr(y, mode=mode)))(x),
        "vmap": jax.vmap(lambda y: tuple(diffqr.qr(y, mode=mode)))(x),
    }
    for q, r in runs.values():
        np.testing.assert_allclose(np.asarray(q), q0, atol=1e-13)
        np.testing.assert_allclose(np.asarray(r), r0, atol=1e-13)


def test_out_of_range_member_falls_back_under_jit(rng):
    a = rng.standard_normal((8, 3, 3))
    a[2] *= 1e300  # squares overflow: the whole batch goes to LAPACK, decided in the program
    a[3, 0, 0] = np.nan
    q, r = jax.jit(lambda y: tuple(diffqr.qr(y)))(jnp.asarray(a))
    good = [i for i in range(8) if i != 3]
    q0, r0 = np.linalg.qr(a[good])
    np.testing.assert_allclose(np.asarray(q)[good], q0, atol=1e-13)
    np.testing.assert_allclose(np.asarray(r)[good], r0, rtol=1e-13, atol=1e-13)
    assert np.isnan(np.asarray(r)[3]).any()


def test_gradient_matches_finite_differences(rng):
    a = jnp.asarray(rng.standard_normal((4, 4, 3)))
    q_bar, r_bar = (jnp.asarray(rng.standard_normal(s)) for s in ((4, 4, 3), (4, 3, 3)))

    def loss(x):
        q, r = diffqr.qr(x)
        return jnp.sum(q_bar * q) + jnp.sum(r_bar * r)

    direction = jnp.asarray(rng.standard_normal(a.shape))
    h = 1e-6
    fd = (loss(a + h * direction) - loss(a - h * direction)) / (2 * h)
    for grad in (jax.grad(loss), jax.jit(jax.grad(loss))):
        np.testing.assert_allclose(float(jnp.sum(grad(a) * direction)), float(fd), rtol=1e-7)
    _, tangent = jax.jvp(loss, (a,), (direction,))
    np.testing.assert_allclose(float(tangent), float(fd), rtol=1e-7)


def test_complex_and_switch_take_lapack(rng, monkeypatch):
    a = jnp.asarray(rng.standard_normal((6, 3, 3)) + 1j * rng.standard_normal((6, 3, 3)))
    assert not BACKEND.small_batch(a)
    q, r = diffqr.qr(a)
    np.testing.assert_allclose(np.asarray(q @ r), np.asarray(a), atol=1e-13)

    def forbidden(*args, **kwargs):
        raise AssertionError("small QR taken with fast paths off")

    monkeypatch.setattr(primitives, "small_qr", forbidden)
    with diffqr.fast_paths(False):
        diffqr.qr(jnp.asarray(rng.standard_normal((6, 3, 3))))
