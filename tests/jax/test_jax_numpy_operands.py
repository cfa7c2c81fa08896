"""NumPy operands beside JAX arrays, as ``jnp.linalg.lstsq`` takes them: in either position,
converted by ``jnp.asarray`` and promoted by JAX's rules; derivatives flow through the JAX
argument (checked against central differences), eagerly and under ``jit``."""

from __future__ import annotations

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import diffqr
from diffqr._verify import central_difference, random_matrix, relative_error


@pytest.mark.parametrize("numpy_position", ["A", "B"])
@pytest.mark.parametrize("shape", [(6, 4), (3, 5)])
def test_lstsq_with_a_numpy_operand_differentiates_the_jax_one(rng, numpy_position, shape):
    a, b = random_matrix(rng, shape), random_matrix(rng, (shape[0], 2))
    weights = random_matrix(rng, (shape[1], 2))

    def loss(x):  # x: the JAX argument; the other one stays NumPy
        args = (a, x) if numpy_position == "A" else (x, b)
        return jnp.sum(weights * diffqr.lstsq(*args))

    framework_input = b if numpy_position == "A" else a
    x = diffqr.lstsq(*((a, jnp.asarray(b)) if numpy_position == "A" else (jnp.asarray(a), b)))
    assert isinstance(x, jax.Array)
    np.testing.assert_allclose(x, np.linalg.lstsq(a, b, rcond=None)[0], atol=1e-12)
    for grad in (jax.grad(loss), jax.jit(jax.grad(loss))):
        g = np.asarray(grad(jnp.asarray(framework_input)))
        direction = random_matrix(rng, framework_input.shape)
        (fd,) = central_difference(lambda y: [np.asarray(loss(jnp.asarray(y)))],
                                   [framework_input], [direction])
        assert relative_error([np.vdot(g, direction)], [fd]) < 1e-7


def test_promotion_follows_jnp(rng):
    """float32 JAX with float64 NumPy (x64 on): float64, as ``jnp.linalg.lstsq``; the gradient
    comes back in the JAX argument's float32."""
    a = jnp.asarray(random_matrix(rng, (6, 3)), jnp.float32)
    b = random_matrix(rng, (6, 2))
    assert diffqr.lstsq(a, b).dtype == jnp.linalg.lstsq(a, b)[0].dtype == jnp.float64
    assert jax.grad(lambda x: jnp.sum(diffqr.lstsq(x, b)))(a).dtype == jnp.float32
    complex_b = random_matrix(rng, (6, 2), "complex128")
    assert diffqr.lstsq(a, complex_b).dtype == jnp.complex128


def test_x64_off_turns_float64_numpy_into_float32():
    code = ("import numpy as np, jax, jax.numpy as jnp, diffqr\n"
            "a = np.random.default_rng(0).standard_normal((5, 3))\n"
            "x = diffqr.lstsq(jnp.asarray(a), a[:, :2])\n"
            "g = jax.grad(lambda b: diffqr.lstsq(a, b).sum())(jnp.asarray(a[:, :2]))\n"
            "assert x.dtype == g.dtype == jnp.float32, (x.dtype, g.dtype)\n"
            "np.testing.assert_allclose(x, np.linalg.lstsq(a, a[:, :2], rcond=None)[0],"
            " atol=1e-4)\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_rules_take_numpy_cotangents(rng):
    a = random_matrix(rng, (5, 3), "complex128")
    q, r = diffqr.qr(jnp.asarray(a))
    q_bar = random_matrix(rng, q.shape, "complex128")
    mixed = diffqr.qr_vjp(jnp.asarray(a), q, r, q_bar, None)
    assert isinstance(mixed, jax.Array)
    np.testing.assert_allclose(mixed, diffqr.qr_vjp(a, np.asarray(q), np.asarray(r), q_bar, None),
                               atol=1e-12)
    b, x_bar = random_matrix(rng, (5, 2), "complex128"), random_matrix(rng, (3, 2), "complex128")
    x = diffqr.lstsq(jnp.asarray(a), b)
    a_bar, b_bar = diffqr.lstsq_vjp(jnp.asarray(a), b, x, x_bar)
    expected = diffqr.lstsq_vjp(a, b, np.asarray(x), x_bar)
    np.testing.assert_allclose(a_bar, expected[0], atol=1e-12)
    np.testing.assert_allclose(b_bar, expected[1], atol=1e-12)


def test_two_frameworks_still_raise(rng):
    torch = pytest.importorskip("torch")
    a = random_matrix(rng, (5, 3))
    with pytest.raises(TypeError, match="one framework"):
        diffqr.lstsq(jnp.asarray(a), torch.from_numpy(a[:, :2]))
