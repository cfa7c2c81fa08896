"""The QR VJP above the block-split size (k >= 64), checked against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import diffqr
from diffqr._tuning import QR_VJP_SPLIT_MIN_SIZE as _SPLIT_MIN_SIZE
from diffqr._verify import adjoint_error, central_difference, random_matrix

SHAPES = [(90, 70), (70, 70), (66, 100), (2, 80, 65)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
@pytest.mark.parametrize("given", ["both", "Q", "R"])
def test_split_vjp_matches_finite_differences(rng, shape, dtype, given):
    assert min(shape[-2:]) >= _SPLIT_MIN_SIZE  # these cases take the block-split path
    a = random_matrix(rng, shape, dtype)
    q, r = diffqr.qr(a)
    q_bar = random_matrix(rng, q.shape, dtype) if given != "R" else None
    r_bar = random_matrix(rng, r.shape, dtype) if given != "Q" else None
    da = random_matrix(rng, shape, dtype)
    fd = central_difference(lambda x: list(diffqr.qr(x)), [a], [da])
    a_bar = diffqr.qr_vjp(a, q, r, q_bar, r_bar)
    assert adjoint_error([a_bar], [da], [q_bar, r_bar], fd) < 1e-8


def test_vjp_does_not_mutate_its_inputs(rng):
    a = random_matrix(rng, (80, 70), "float64")
    q, r = diffqr.qr(a)
    q_bar, r_bar = random_matrix(rng, q.shape), random_matrix(rng, r.shape)
    saved = [x.copy() for x in (a, q, r, q_bar, r_bar)]
    diffqr.qr_vjp(a, q, r, q_bar, r_bar)
    for before, after in zip(saved, (a, q, r, q_bar, r_bar), strict=True):
        np.testing.assert_array_equal(before, after)


def test_split_and_unsplit_paths_agree(rng, monkeypatch):
    import diffqr._tuning as rules

    a = random_matrix(rng, (75, 70), "complex128")
    q, r = diffqr.qr(a)
    q_bar = random_matrix(rng, q.shape, "complex128")
    r_bar = random_matrix(rng, r.shape, "complex128")
    split = diffqr.qr_vjp(a, q, r, q_bar, r_bar)
    monkeypatch.setattr(rules, "QR_VJP_SPLIT_MIN_SIZE", 10**9)
    plain = diffqr.qr_vjp(a, q, r, q_bar, r_bar)
    np.testing.assert_allclose(split, plain, rtol=1e-12, atol=1e-12 * np.abs(plain).max())


@pytest.mark.parametrize("shape", [(300, 260), (260, 260), (260, 400), (2, 140, 130)])
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_recursive_split_agrees_with_unsplit(rng, monkeypatch, shape, dtype):
    """k >= 256: the halves of the split are split again (R's blocks are then trapezoidal)."""
    import diffqr._tuning as rules

    a = random_matrix(rng, shape, dtype)
    q, r = diffqr.qr(a)
    q_bar, r_bar = random_matrix(rng, q.shape, dtype), random_matrix(rng, r.shape, dtype)
    for given in ((q_bar, r_bar), (q_bar, None), (None, r_bar)):
        split = diffqr.qr_vjp(a, q, r, *given)
        with monkeypatch.context() as patch:
            patch.setattr(rules, "QR_VJP_SPLIT_MIN_SIZE", 10**9)
            plain = diffqr.qr_vjp(a, q, r, *given)
        np.testing.assert_allclose(split, plain, rtol=1e-11, atol=1e-11 * np.abs(plain).max())


@pytest.mark.parametrize("shape", [(80, 70), (70, 90), (5, 5), (3, 4, 4)])
def test_vjp_leaves_its_inputs_alone_every_shape(rng, shape):
    """The backward never writes into its inputs or cotangents (it fills its own temporaries)."""
    a = random_matrix(rng, shape, "float64")
    q, r = diffqr.qr(a)
    q_bar, r_bar = random_matrix(rng, q.shape), random_matrix(rng, r.shape)
    saved = [x.copy() for x in (a, q, r, q_bar, r_bar)]
    diffqr.qr_vjp(a, q, r, q_bar, r_bar)
    diffqr.qr_vjp(a, q, r, q_bar, None)
    for before, after in zip(saved, (a, q, r, q_bar, r_bar), strict=True):
        np.testing.assert_array_equal(before, after)
