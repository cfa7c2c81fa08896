"""A square-root Kalman filter in JAX whose log-likelihood gradient is taken through diffqr.tria.

The filter propagates Cholesky-like factors L (P = L Lᵀ) with the triangularization
``tria(A)``: lower-triangular L with L Lᵀ = A Aᵀ (Arasaratnam & Haykin, 2008).  With zero process
noise and a partly known initial state, every matrix it triangularizes is rank deficient; the
gradient of the log-likelihood with respect to the model parameters (a dynamics parameter θ,
the process-noise scale q and the observation-noise scale r) is still exact, because it depends
on the factors only through their Gram matrices, where diffqr.tria's derivative is exact
(docs/square-root-filtering.md).  It is checked against the covariance-form Kalman filter, and
the same filter with jnp.linalg.qr's derivative is shown for contrast.

usage: python examples/sqrt_kalman_filter.py
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import diffqr

jax.config.update("jax_enable_x64", True)

DX, DY, STEPS = 3, 2, 25
H = jnp.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def model(params):
    theta, q, r = params
    f = jnp.array([[1.0, 0.1, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.9]]) + theta * jnp.array(
        [[0.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    return f, q * jnp.eye(DX), r * jnp.eye(DY)


def sqrt_filter(params, ys, m0, l0, tria):
    """Log-likelihood of ``ys`` by the square-root filter with the triangularization ``tria``."""
    f, sq, sr = model(params)

    def step(carry, y):
        m, lf, ll = carry
        m, lf = f @ m, tria(jnp.concatenate([f @ lf, sq], axis=1))  # predict
        block = jnp.block([[H @ lf, sr], [lf, jnp.zeros((DX, DY))]])  # update, one tria
        lower = tria(block)
        ly, g, lf = lower[:DY, :DY], lower[DY:, :DY], lower[DY:, DY:]
        z = jax.scipy.linalg.solve_triangular(ly, y - H @ m, lower=True)
        ll = ll - 0.5 * z @ z - jnp.sum(jnp.log(jnp.abs(jnp.diag(ly)))) - DY / 2 * jnp.log(
            2 * jnp.pi)
        return (m + g @ z, lf, ll), None

    return jax.lax.scan(step, (m0, l0, 0.0), ys)[0][2]


def covariance_filter(params, ys, m0, l0):
    """The same log-likelihood by the textbook (covariance-form) Kalman filter."""
    f, sq, sr = model(params)

    def step(carry, y):
        m, p, ll = carry
        m, p = f @ m, f @ p @ f.T + sq @ sq.T
        s = H @ p @ H.T + sr @ sr.T
        k = jnp.linalg.solve(s, H @ p).T
        e = y - H @ m
        ll = ll - 0.5 * e @ jnp.linalg.solve(s, e) - 0.5 * jnp.linalg.slogdet(s)[1] - DY / 2 * (
            jnp.log(2 * jnp.pi))
        return (m + k @ e, p - k @ s @ k.T, ll), None

    return jax.lax.scan(step, (m0, l0 @ l0.T, 0.0), ys)[0][2]


def native_tria(a):
    return jnp.linalg.qr(a.T, mode="r").T


def main() -> None:
    ys = jnp.asarray(np.random.default_rng(0).standard_normal((STEPS, DY)))
    m0 = jnp.zeros(DX)
    l0 = jnp.diag(jnp.array([1.0, 0.0, 0.5]))  # the second coordinate is known exactly
    diffqr_tria = lambda a: diffqr.tria(a, check_finite=False)  # noqa: E731
    for params in (jnp.array([0.3, 0.2, 0.5]), jnp.array([0.3, 0.0, 0.5])):  # q = 0: no noise
        value, grad = jax.jit(jax.value_and_grad(sqrt_filter), static_argnums=4)(
            params, ys, m0, l0, diffqr_tria)
        want_value, want = jax.value_and_grad(covariance_filter)(params, ys, m0, l0)
        native = jax.grad(sqrt_filter)(params, ys, m0, l0, native_tria)
        print(f"q = {float(params[1])}: log-likelihood {float(value):.6f}")
        print(f"  d/d(θ, q, r) via diffqr.tria        {np.asarray(grad)}")
        print(f"  covariance-form filter (reference)  {np.asarray(want)}")
        print(f"  via jnp.linalg.qr's derivative      {np.asarray(native)}")
        assert abs(value - want_value) < 1e-9 * abs(want_value)
        assert np.allclose(grad, want, rtol=1e-8, atol=1e-10)


if __name__ == "__main__":
    main()
