"""diffqr's JAX derivatives against central differences, the NumPy explicit rules and JAX's own.

Every capability row of ``python -m diffqr check`` (plus a few LQ cases) runs through ``jax.vjp``
and ``jax.jvp``; the gradient convention for complex input, second order (``jax.hessian``,
forward-over-reverse) and the agreement with the explicit NumPy rules are checked separately.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.linalg
import numpy as np
import pytest

import diffqr
from diffqr._backends.jax_pivots import NATIVE_PIVOTING
from diffqr._check import TOLERANCE, measure
from diffqr._check.capabilities import CAPABILITIES, _lq_case, _qr_case
from diffqr._check.jax import HARNESS, conj_cotangent
from diffqr._verify import adjoint_error, central_difference, random_matrix, relative_error

# Comparisons with JAX's own pivoted QR, which JAX before 0.4.36 does not have (diffqr's
# host-pivot path there is tested in test_jax_host_pivots.py).
NATIVE_ONLY = pytest.mark.skipif(not NATIVE_PIVOTING,
                                 reason="this JAX has no pivoted QR of its own to compare with")

EXTRA = [
    _lq_case("pivoted LQ wide", (4, 7), pivoting=True),
    _qr_case("QR truncated rank 2 of wide 5×8", (5, 8), "complex128", rank=2),
]
CASES = CAPABILITIES + EXTRA
IDS = [cap.name for cap in CASES]


@pytest.mark.parametrize("cap", CASES, ids=IDS)
def test_vjp_and_jvp_match_finite_differences_under_jit(cap):
    """``jax.vjp`` (adjoint identity against FD) and ``jax.jvp`` (against FD) of the jitted call."""
    jitted = jax.jit(lambda *xs: tuple(cap.call(*xs)))
    assert measure(HARNESS, cap, jitted, explicit=False) <= TOLERANCE


EAGER = [cap for cap in CASES if cap.name in {
    "QR deep complete complex", "pivoted LQ wide", "lstsq ridge λ (input), wide"}]


def test_complex_gradient_convention(rng):
    """``jax.grad`` of a real loss returns conj(X̄) with X̄ = ∂ℓ/∂Re A + i ∂ℓ/∂Im A (PyTorch's).

    Checked on both sides: conj(grad) satisfies dℓ = Re <X̄, dA> against finite differences (and
    equals diffqr.qr_vjp), while grad itself does not.
    """
    a = random_matrix(rng, (6, 4), "complex128")
    q_bar = random_matrix(rng, (6, 4), "complex128")
    r_bar = random_matrix(rng, (4, 4), "complex128")

    def loss(x):
        q, r = diffqr.qr(x)
        return jnp.real(jnp.vdot(q_bar, q) + jnp.vdot(r_bar, r))

    g = np.asarray(jax.grad(loss)(jnp.asarray(a)))
    da = random_matrix(rng, a.shape, "complex128")
    (dl,) = central_difference(lambda x: [np.asarray(loss(jnp.asarray(x)))], [a], [da])
    assert adjoint_error([np.conj(g)], [da], [np.ones(())], [dl]) < 1e-8
    assert adjoint_error([g], [da], [np.ones(())], [dl]) > 1e-2
    q, r = np.linalg.qr(a)
    np.testing.assert_allclose(np.conj(g), diffqr.qr_vjp(a, q, r, q_bar, r_bar), atol=1e-12)
    np.testing.assert_array_equal(conj_cotangent(g), np.conj(g))


def _fd_of_gradient(grad, a, d):
    """Central differences of ``grad`` along ``d``: a Hessian-vector product oracle."""
    (hd,) = central_difference(lambda x: [np.asarray(grad(jnp.asarray(x)))], [a], [d])
    return hd


@pytest.mark.parametrize(("shape", "pivoting"), [((6, 4), False), ((4, 7), True)])
def test_hessian_matches_finite_differences(rng, shape, pivoting):
    """``jax.hessian`` (forward over reverse) of a scalar of Q and R, against FD of the gradient."""
    a = random_matrix(rng, shape)
    weights = [jnp.asarray(random_matrix(rng, s)) for s in ((shape[0], min(shape)),
                                                            (min(shape), shape[1]))]

    def loss(x):
        q, r, *_ = diffqr.qr(x, pivoting=pivoting)
        return jnp.sum(weights[0] * q**2) + jnp.sum(weights[1] * jnp.sin(r))

    h = np.asarray(jax.jit(jax.hessian(loss))(jnp.asarray(a)))
    d = random_matrix(rng, shape)
    hd = np.tensordot(h, d, axes=2)
    assert relative_error([hd], [_fd_of_gradient(jax.jit(jax.grad(loss)), a, d)]) < 1e-7
    np.testing.assert_allclose(h, np.swapaxes(np.swapaxes(h, 0, 2), 1, 3), atol=1e-9)


@pytest.mark.parametrize("kind", ["qr", "lq"])
def test_complex_hessian_vector_product(rng, kind):
    """Forward-over-reverse on complex input: the JVP of ``jax.grad`` against FD of ``grad``."""
    a = random_matrix(rng, (4, 6) if kind == "lq" else (6, 4), "complex128")
    c = jnp.asarray(random_matrix(rng, (4, 4), "complex128"))

    def loss(x):
        tri = diffqr.qr(x).R if kind == "qr" else diffqr.lq(x).L[:4]
        return jnp.real(jnp.sum(c * tri**2))

    grad = jax.jit(jax.grad(loss))
    d = random_matrix(rng, a.shape, "complex128")
    _, hd = jax.jvp(grad, (jnp.asarray(a),), (jnp.asarray(d),))
    assert relative_error([np.asarray(hd)], [_fd_of_gradient(grad, a, d)]) < 1e-7


@NATIVE_ONLY
def test_jax_pivoted_gradient_is_wrong_for_wide_matrices(rng):
    """JAX 0.10's own pivoted rule forgets to permute A2 (wide case); diffqr's matches FD."""
    a = random_matrix(rng, (4, 7))
    weights = [jnp.asarray(random_matrix(rng, s)) for s in ((4, 4), (4, 7))]

    def make_loss(qr):
        return lambda x: jnp.sum(weights[0] * qr(x)[0]) + jnp.sum(weights[1] * qr(x)[1])

    native = make_loss(lambda x: jax.scipy.linalg.qr(x, mode="economic", pivoting=True))
    ours = make_loss(lambda x: diffqr.qr(x, pivoting=True))
    np.testing.assert_allclose(native(jnp.asarray(a)), ours(jnp.asarray(a)), rtol=1e-12)
    d = random_matrix(rng, a.shape)
    (fd,) = central_difference(lambda x: [np.asarray(ours(jnp.asarray(x)))], [a], [d])

    def directional(loss):
        return float(np.sum(np.asarray(jax.jit(jax.grad(loss))(jnp.asarray(a))) * d))

    assert abs(directional(ours) - fd) < 1e-7 * abs(fd)
    assert abs(directional(native) - fd) > 1e-3 * abs(fd)


@NATIVE_ONLY
def test_batched_pivoted_gradient_where_jax_raises(rng):
    """JAX's pivoted QR gradient raises on a batch; diffqr's works and equals per-matrix grads."""
    a = jnp.asarray(random_matrix(rng, (3, 6, 4)))
    w = jnp.asarray(random_matrix(rng, (4, 4)))

    def loss(qr):
        return lambda x: jnp.sum(w * qr(x)[1])

    with pytest.raises(TypeError, match="batch dimensions"):
        jax.jit(jax.grad(loss(lambda x: jax.scipy.linalg.qr(x, mode="economic",
                                                            pivoting=True))))(a)
    grad = jax.jit(jax.grad(loss(lambda x: diffqr.qr(x, pivoting=True))))
    batched = grad(a)
    singles = jnp.stack([grad(x) for x in a])
    np.testing.assert_allclose(batched, singles, atol=1e-12)
