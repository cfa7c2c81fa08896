"""Errors beyond ``test_reliability.py``'s: diffqr.lstsq's bad arguments, rank deficiency of QR,
LQ and least squares (RankDeficientError naming the cure), and 0-size least squares."""

from __future__ import annotations

import numpy as np
import pytest

import diffqr

from .backends import Backend
from .oracles import random_matrix
from .reliability import Call, vjp


def computed(backend: Backend, result):
    """NumPy values of a result (lazy frameworks raise their errors here)."""
    items = result if isinstance(result, (tuple, list)) else [result]
    return [backend.to_numpy(y) for y in items]


def problem(kind: str = "deep", dtype: str = "float64"):
    rng = np.random.default_rng(7)
    m, n = (7, 4) if kind == "deep" else (4, 7)
    return random_matrix(rng, (m, n), dtype, cond=10.0), random_matrix(rng, (m, 3), dtype)


@pytest.mark.parametrize(("change", "error", "message"), [
    (lambda a, b: (a, b[:6], {}), ValueError, r"\(7, 4\).*\(6, 3\)"),
    (lambda a, b: (np.stack([a, a]), np.stack([b, b, b]), {}), ValueError, "batch dimensions"),
    (lambda a, b: (a, b, {"ridge": -1.0}), ValueError, "ridge must be >= 0"),
    (lambda a, b: (a, b, {"ridge": float("nan")}), ValueError, "finite"),
    (lambda a, b: (a, b, {"ridge": True}), TypeError, "ridge"),
    (lambda a, b: (a, b.astype(complex), {}), TypeError, "complex128"),
    (lambda a, b: (a[0], b[0], {}), ValueError, "at least 2 dimensions"),
    (lambda a, b: (a, np.where(np.arange(3) == 1, np.inf, b), {}), ValueError,
     "B contains NaN or Inf"),
    (lambda a, b: (np.where(np.arange(4) == 1, np.nan, a), b, {}), ValueError,
     "A contains NaN or Inf"),
], ids=["rows", "batch", "negative_ridge", "nan_ridge", "bool_ridge", "mixed_dtypes",
        "one_dimensional", "inf_in_b", "nan_in_a"])
def test_lstsq_bad_arguments_raise_naming_the_argument(backend, change, error, message):
    a, b, options = change(*problem())
    if not backend.supports(str(b.dtype)):
        pytest.skip(f"{backend.name} has no {b.dtype}")
    with pytest.raises(error, match=message):
        computed(backend, diffqr.lstsq(backend.asarray(a), backend.asarray(b), **options))


def test_lstsq_array_ridge_checked(backend):
    a, b = problem()
    x, y = backend.asarray(a), backend.asarray(b)
    with pytest.raises(ValueError, match="ridge must be >= 0"):
        computed(backend, diffqr.lstsq(x, y, ridge=backend.asarray(np.array(-1.0))))
    with pytest.raises(ValueError, match="0-d"):
        diffqr.lstsq(x, y, ridge=backend.asarray(np.array([1.0])))
    with pytest.raises(TypeError, match="float32"):
        diffqr.lstsq(backend.asarray(a.astype(np.float32)), backend.asarray(b.astype(np.float32)),
                     ridge=backend.asarray(np.array(1.0)))


def test_lstsq_check_finite_false_lets_non_finite_through(backend):
    a, b = problem()
    b[0, 0] = np.inf
    x = computed(backend, diffqr.lstsq(backend.asarray(a), backend.asarray(b),
                                       check_finite=False))[0]
    assert not np.isfinite(x).all()


@pytest.mark.parametrize("kind", ["deep", "wide"])
def test_lstsq_rank_deficient_raises_and_ridge_solves(backend, kind):
    a, b = problem(kind)
    if kind == "deep":
        a[:, 2] = 3 * a[:, 0]
    else:
        a[2] = 3 * a[0]
    with pytest.raises(diffqr.RankDeficientError, match="ridge > 0"):
        computed(backend, diffqr.lstsq(backend.asarray(a), backend.asarray(b)))
    x = computed(backend, diffqr.lstsq(backend.asarray(a), backend.asarray(b), ridge=0.1))[0]
    gram = a.T @ a + 0.1 * np.eye(a.shape[1])
    expected = np.linalg.solve(gram, a.T @ b)
    tol = 100 * np.finfo(float).eps * np.linalg.cond(gram)
    assert np.linalg.norm(x - expected) <= tol * np.linalg.norm(expected)


@pytest.mark.parametrize("mode", ["reduced", "r"])
def test_qr_rank_deficient_gradient_raises_and_pivoted_truncation_is_finite(backend, mode):
    """Dependent leading columns: R₁ is singular, the VJP raises naming pivoting/rank=; the
    pivoted rank-k factorization of the same matrix has a finite gradient."""
    a = random_matrix(np.random.default_rng(3), (6, 4))
    a[:, 1] = 2 * a[:, 0]
    out = [backend.to_numpy(y) for y in Call("qr", mode).differentiable(backend.asarray(a))]
    with pytest.raises(diffqr.RankDeficientError, match="pivoting=True"):
        vjp(backend, Call("qr", mode), a, [np.ones_like(y) for y in out])
    call = Call("qr", pivoting=True, rank=3)
    out = [backend.to_numpy(y) for y in call.differentiable(backend.asarray(a))]
    assert np.isfinite(vjp(backend, call, a, [np.ones_like(y) for y in out])).all()


@pytest.mark.parametrize(("shape", "rhs"), [((0, 3), (0, 2)), ((3, 0), (3, 2)), ((2, 0, 3), (2, 0)),
                                            ((0, 4, 3), (0, 4, 2))])
def test_lstsq_empty_inputs_give_empty_or_zero_results_and_gradients(backend, shape, rhs):
    a = np.ones(shape)
    b = np.ones(rhs)
    x = computed(backend, diffqr.lstsq(backend.asarray(a), backend.asarray(b)))[0]
    expected = np.linalg.lstsq(a, b, rcond=None)[0] if len(shape) == 2 else np.zeros(x.shape)
    assert x.shape == expected.shape and not x.any()
    x_bar = np.ones_like(x)
    if backend.autodiff:
        a_bar, b_bar = backend.vjp(lambda p, q: [diffqr.lstsq(p, q)], [a, b], [x_bar])
    else:
        x_ = backend.asarray(x)
        a_bar, b_bar = computed(backend, diffqr.lstsq_vjp(backend.asarray(a), backend.asarray(b),
                                                          x_, backend.asarray(x_bar)))
    assert a_bar.shape == a.shape and b_bar.shape == b.shape
    assert np.isfinite(a_bar).all() and np.isfinite(b_bar).all()
