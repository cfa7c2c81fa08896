"""Properties of diffqr.lstsq and its explicit rules beyond the conformance cases (values, FD,
adjoint identity, batches, ridge and errors on every framework: tests/conformance/test_lstsq.py):
the ridge limits, None cotangents, the rules' rank errors, no mutation."""

from __future__ import annotations

import numpy as np
import pytest

import diffqr
from diffqr._verify import random_matrix, relative_error

SHAPES = {"deep": (7, 4), "square": (5, 5), "wide": (4, 7)}
# Relative accuracy of the solution for cond(A) = 10, per dtype.
RTOL = {"float32": 2e-5, "float64": 1e-13, "complex64": 2e-5, "complex128": 1e-13}


def problem(rng, kind, dtype="float64", vector=False, batch=(), r=3):
    m, n = SHAPES[kind]
    a = random_matrix(rng, (*batch, m, n), dtype, cond=10.0)
    b = random_matrix(rng, (*batch, m) if vector else (*batch, m, r), dtype)
    return a, b


def test_wide_ridge_tends_to_minimum_norm(rng):
    a, b = problem(rng, "wide")
    x0 = diffqr.lstsq(a, b)
    assert relative_error([diffqr.lstsq(a, b, ridge=1e-9)], [x0]) < 1e-7


# ---------------------------------------------------------------------- derivatives


@pytest.mark.parametrize("kind", ["deep", "wide"])
def test_ridge_derivative_at_zero_is_one_sided_limit(rng, kind):
    a, b = problem(rng, kind)
    x = diffqr.lstsq(a, b)
    # Second-order one-sided differences: error ~ (h / λ_min(G))² ~ (1e-7 / 1e-2)².
    h = 1e-7
    f = [diffqr.lstsq(a, b, ridge=k * h) for k in range(3)]
    one_sided = (-3 * f[0] + 4 * f[1] - f[2]) / (2 * h)
    assert relative_error([diffqr.lstsq_jvp(a, b, x, None, None, d_ridge=1.0)], [one_sided]) < 1e-7


def test_none_cotangents_and_tangents(rng):
    a, b = problem(rng, "deep")
    x = diffqr.lstsq(a, b)
    a_bar, b_bar = diffqr.lstsq_vjp(a, b, x, None)
    assert not a_bar.any() and not b_bar.any() and a_bar.shape == a.shape
    da = random_matrix(rng, a.shape)
    only_a = diffqr.lstsq_jvp(a, b, x, da, None)
    both = diffqr.lstsq_jvp(a, b, x, da, np.zeros_like(b))
    assert relative_error([only_a], [both]) < 1e-15
    assert not diffqr.lstsq_jvp(a, b, x, None, None).any()


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize("kind", ["deep", "wide"])
def test_rank_deficient_raises_and_suggests_ridge(rng, kind):
    a, b = problem(rng, kind)
    if kind == "deep":
        a[:, 2] = 3 * a[:, 0]
    else:
        a[2] = 3 * a[0]
    with pytest.raises(diffqr.RankDeficientError, match="ridge > 0"):
        diffqr.lstsq(a, b)
    with pytest.raises(diffqr.RankDeficientError):
        diffqr.lstsq_vjp(a, b, np.zeros((a.shape[1], 3)), np.ones((a.shape[1], 3)))


def test_inputs_not_mutated(rng):
    a, b = problem(rng, "wide")
    a0, b0 = a.copy(), b.copy()
    x = diffqr.lstsq(a, b, ridge=0.2)
    x0 = x.copy()
    diffqr.lstsq_vjp(a, b, x, np.ones_like(x), ridge=0.2, return_ridge_bar=True)
    diffqr.lstsq_jvp(a, b, x, np.ones_like(a), np.ones_like(b), ridge=0.2, d_ridge=1.0)
    assert np.array_equal(a, a0) and np.array_equal(b, b0) and np.array_equal(x, x0)
