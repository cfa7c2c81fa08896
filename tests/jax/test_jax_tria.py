"""``tria`` and ``qr(A, mode="r")`` in JAX: jit, vmap, jvp, grad, and eager = jit at rank
deficiency (one jit per function, few shapes: this file stays fast)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from tria_cases import deficient_cases, gram_tangent, tangent

import diffqr


def _gram_of_tria(a):
    lower = diffqr.tria(a, check_finite=False)
    return lower @ jnp.conj(jnp.swapaxes(lower, -1, -2))


def test_cuthbert_rank_deficient_jvp_preserves_gram():
    a = jnp.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    da = jnp.array([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]])
    got = jax.jvp(_gram_of_tria, (a,), (da,))[1]
    want = da @ a.T + a @ da.T
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_eager_equals_jit_and_vmap_at_rank_deficiency():
    # a batch with a full-rank, a zero and a rank-1 member; Gram of Aᴴ A through R = qr(A, "r")
    a = jnp.asarray(deficient_cases()[-1][1])
    da = jnp.asarray(tangent(deficient_cases()[-1][1]))

    def gram_jvp(x, dx):
        def gram(y):
            r = diffqr.qr(y, mode="r", check_finite=False)
            return jnp.swapaxes(r, -1, -2) @ r
        return jax.jvp(gram, (x,), (dx,))[1]

    eager = gram_jvp(a, da)
    jitted = jax.jit(gram_jvp)(a, da)
    mapped = jax.vmap(gram_jvp)(a, da)
    want = gram_tangent(np.asarray(a), np.asarray(da))
    for got in (eager, jitted, mapped):
        assert np.isfinite(np.asarray(got)).all()
        np.testing.assert_allclose(got, want, atol=1e-12)
    np.testing.assert_allclose(eager, jitted, atol=1e-13)


def test_grad_of_gram_loss_at_zero_and_complex():
    # ℓ = Re tr(W L Lᴴ) for Hermitian W; gradient through tria must be 2 W A (finite at A = 0)
    w = jnp.asarray(np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 1.5]]))

    def loss(x):
        return jnp.real(jnp.trace(w @ _gram_of_tria(x)))

    grad = jax.jit(jax.grad(loss))
    for a in (jnp.zeros((3, 4)), jnp.asarray(deficient_cases()[7][1]).T):
        got = grad(a)
        want = 2 * w @ a
        np.testing.assert_allclose(jnp.conj(got) if jnp.iscomplexobj(a) else got, want,
                                   atol=1e-12)


def test_full_rank_grad_matches_finite_differences():
    a = jnp.asarray(tangent(np.zeros((3, 5)), 1))
    da = jnp.asarray(tangent(np.zeros((3, 5)), 2))
    f = lambda x: jnp.sum(diffqr.tria(x) ** 3)  # noqa: E731  (depends on L itself, not L Lᴴ)
    h = 1e-6
    fd = (f(a + h * da) - f(a - h * da)) / (2 * h)
    assert abs(jnp.vdot(jax.grad(f)(a), da) - fd) < 1e-7 * max(1.0, abs(fd))
    assert abs(jax.jvp(f, (a,), (da,))[1] - fd) < 1e-7 * max(1.0, abs(fd))
