"""Batched small QR (``diffqr._rules.small_qr``): Householder across the batch, run by NumPy for
large batches of tiny matrices (``_tuning.SMALL_QR``).  Oracles: LAPACK's factors (same gauge),
orthogonality and reconstruction against LAPACK's own on ill-conditioned and rank-deficient
batches, finite differences of the public API, and the fast-path switch."""

from __future__ import annotations

import numpy as np
import pytest

import diffqr
import diffqr._primitives as primitives
from diffqr import _tuning
from diffqr._backends.numpy import BACKEND
from diffqr._rules.small_qr import small_qr

SHAPES = [(7, 3, 3), (6, 4, 2), (6, 2, 4), (5, 1, 3), (5, 3, 1), (4, 8, 8), (2, 3, 5, 4)]


def _factor(a, complete=False):
    return BACKEND.fused(small_qr, a, complete=complete)


def _lapack(a, complete=False):
    return np.linalg.qr(a, mode="complete" if complete else "reduced")


def _conditioned(rng, batch, n, kappa):
    """``batch`` matrices ``U diag(σ) Vᵀ`` with singular values from 1 down to ``1/kappa``."""
    u = np.linalg.qr(rng.standard_normal((batch, n, n)))[0]
    v = np.linalg.qr(rng.standard_normal((batch, n, n)))[0]
    return (u * np.logspace(0, -np.log10(kappa), n)) @ np.swapaxes(v, -1, -2)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("complete", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_factors_equal_lapack(rng, shape, complete, dtype):
    a = rng.standard_normal(shape).astype(dtype)
    a[..., 0, :, :] = np.triu(a[..., 0, :, :])  # zero tails: LAPACK's identity reflectors
    q, r = _factor(a, complete)
    q0, r0 = _lapack(a, complete)
    assert q.shape == q0.shape and r.shape == r0.shape and q.dtype == a.dtype
    tol = 50 * np.finfo(dtype).eps
    np.testing.assert_allclose(q, q0, atol=tol)  # the same gauge: signs of diag R included
    np.testing.assert_allclose(r, r0, atol=tol * np.abs(a).max())


@pytest.mark.parametrize("kappa", [1e2, 1e5, 1e8])
def test_ill_conditioned_accuracy_matches_lapack(rng, kappa):
    n = 6
    a = _conditioned(rng, 200, n, kappa)
    q, r = _factor(a)
    q0, r0 = _lapack(a)
    eye = np.eye(n)

    def errors(q, r):
        orthogonality = np.abs(np.swapaxes(q, -1, -2) @ q - eye).max()
        reconstruction = np.abs(q @ r - a).max() / np.abs(a).max()
        return orthogonality, reconstruction

    eps = np.finfo(float).eps
    for ours, native in zip(errors(q, r), errors(q0, r0), strict=True):
        assert ours <= 10 * max(native, eps), (ours, native)
    big = np.abs(np.diagonal(r0, axis1=-2, axis2=-1)) > 1e-6  # signs decided well above rounding
    np.testing.assert_array_equal(np.sign(np.diagonal(r, axis1=-2, axis2=-1))[big],
                                  np.sign(np.diagonal(r0, axis1=-2, axis2=-1))[big])


def test_rank_deficient_members(rng):
    a = rng.standard_normal((50, 4, 4))
    a[3, :, 2] = a[3, :, 0] + a[3, :, 1]  # dependent column: rounding-level pivot
    a[7, :, 1] = 0  # zero column: exact rank loss, LAPACK's τ = 0
    a[9] = 0
    q, r = _factor(a)
    q0, r0 = _lapack(a)
    np.testing.assert_allclose(q @ r, a, atol=1e-14 * np.abs(a).max())
    np.testing.assert_allclose(np.swapaxes(q, -1, -2) @ q, np.broadcast_to(np.eye(4), q.shape),
                               atol=1e-14)
    np.testing.assert_allclose(r[7], r0[7], atol=1e-14)
    np.testing.assert_allclose(q[9], q0[9], atol=0)
    np.testing.assert_allclose(r[9], 0, atol=0)


@pytest.mark.parametrize("value", [1e200, 1e-160, np.nan, np.inf])
def test_out_of_range_batches_go_to_lapack(rng, monkeypatch, value):
    calls = []
    monkeypatch.setattr(BACKEND, "householder_qr", raising=False,
                        value=lambda a, *, complete: calls.append(1) or _lapack(a, complete))
    a = rng.standard_normal((20, 3, 3))
    a[5] *= value if np.isfinite(value) else 1
    a[6, 1, 1] = value if not np.isfinite(value) else a[6, 1, 1]
    q, r = _factor(a)
    assert calls == [1]
    monkeypatch.undo()
    with np.errstate(invalid="ignore"):
        q0, r0 = _lapack(a)
    np.testing.assert_array_equal(q, q0)
    np.testing.assert_array_equal(r, r0)


def test_public_api_takes_it_for_large_batches_and_the_switch_turns_it_off(rng, monkeypatch):
    max_size, min_batch = _tuning.SMALL_QR["numpy"]
    a = rng.standard_normal((min_batch, max_size, max_size))
    assert BACKEND.small_batch(a) and not BACKEND.small_batch(a[: min_batch - 1])
    assert not BACKEND.small_batch(a.astype(complex))
    q, r = diffqr.qr(a)
    q0, r0 = _lapack(a)
    np.testing.assert_allclose(q, q0, atol=1e-13)
    np.testing.assert_allclose(r, r0, atol=1e-13)

    def forbidden(*args, **kwargs):
        raise AssertionError("small QR taken with fast paths off")

    monkeypatch.setattr(primitives, "small_qr", forbidden)
    with diffqr.fast_paths(False):
        assert not BACKEND.small_batch(a)
        diffqr.qr(a)
    monkeypatch.setenv("DIFFQR_DISABLE_FAST_PATHS", "1")
    diffqr.qr(a)


def test_empty_batch_and_truncation(rng, monkeypatch):
    monkeypatch.setitem(_tuning.SMALL_QR, "numpy", (4, 1))
    q, r = diffqr.qr(np.zeros((0, 3, 3)))
    assert q.shape == r.shape == (0, 3, 3)
    a = rng.standard_normal((30, 4, 3))
    q, r = diffqr.qr(a, mode="complete")
    np.testing.assert_allclose(q, _lapack(a, True)[0], atol=1e-14)


def test_gradient_matches_finite_differences(rng, monkeypatch):
    monkeypatch.setitem(_tuning.SMALL_QR, "numpy", (4, 1))
    a = rng.standard_normal((3, 4, 3))
    q_bar, r_bar = rng.standard_normal((3, 4, 3)), rng.standard_normal((3, 3, 3))

    def loss(x):
        q, r = diffqr.qr(x)
        return np.sum(q_bar * q) + np.sum(r_bar * r)

    grad = diffqr.qr_vjp(a, *diffqr.qr(a), q_bar, r_bar)
    direction = rng.standard_normal(a.shape)
    h = 1e-6
    fd = (loss(a + h * direction) - loss(a - h * direction)) / (2 * h)
    np.testing.assert_allclose(np.sum(grad * direction), fd, rtol=1e-7)
