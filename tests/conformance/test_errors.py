"""Errors beyond ``test_reliability.py``'s: diffqr.lstsq's bad arguments, rank deficiency of QR,
LQ and least squares (RankDeficientError naming the cure), and 0-size least squares."""

from __future__ import annotations

import numpy as np
import pytest

import diffqr

from .backends import Backend
from .capabilities import FD_CONSTANT
from .oracles import central_difference, inner, random_matrix
from .reliability import Call, conditioning, jvp, permute, vjp


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


def test_lstsq_ridge_of_other_precision_is_a_type_error(backend):
    a, b = problem()
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


@pytest.mark.parametrize(("shape", "mode", "rank"), [
    ((8, 6), "reduced", 3), ((8, 6), "r", 3), ((3, 6), "reduced", None)],
    ids=["deep_rank3", "deep_rank3_mode_r", "wide_full_row_rank"])
def test_qr_rank_deficient_derivatives_raise_and_pivoting_rescues(backend, shape, mode, rank):
    """Dependent leading columns: R₁ is singular, the VJP and JVP raise naming pivoting/rank=
    (R alone, mode="r": finite and Gram-consistent instead); the pivoted (rank-k) factorization
    of the same matrix has finite derivatives equal to central differences."""
    rng = np.random.default_rng(3)
    m, n = shape
    a = random_matrix(rng, (m, rank or m)) @ random_matrix(rng, (rank or m, n))
    a[:, 1] = 3 * a[:, 0]
    call = Call("qr", mode)
    out = [backend.to_numpy(y) for y in call.differentiable(backend.asarray(a))]
    if mode == "r":
        da = random_matrix(rng, a.shape)
        (dr,) = jvp(backend, call, a, da)
        r = out[0]
        gram = dr.T @ r + r.T @ dr - (da.T @ a + a.T @ da)
        assert np.isfinite(vjp(backend, call, a, [np.ones_like(r)])).all()
        assert np.abs(gram).max() <= 1e-12 * np.abs(a).max() * np.abs(da).max() * m
    else:
        with pytest.raises(diffqr.RankDeficientError, match="pivoting=True"):
            vjp(backend, call, a, [np.ones_like(y) for y in out])
        with pytest.raises(diffqr.RankDeficientError):
            jvp(backend, call, a, np.ones_like(a))
    call = Call("qr", pivoting=True, rank=rank)
    out, perm = call.outputs(backend.asarray(a))
    out, perm = [backend.to_numpy(y) for y in out], backend.to_numpy(perm)
    cots = [random_matrix(rng, y.shape) for y in out]
    da = random_matrix(rng, a.shape)
    a_bar = vjp(backend, call, a, cots)
    fixed = Call("qr", rank=rank)
    fd = central_difference(
        lambda x: backend.call(fixed.differentiable, [permute(x, perm, "qr")]), [a], [da])
    right = sum(inner(c, t) for c, t in zip(cots, fd, strict=True))
    magnitude = sum(np.linalg.norm(c) * np.linalg.norm(t) for c, t in zip(cots, fd, strict=True))
    _, kappa, _ = conditioning(call, out)
    assert np.isfinite(a_bar).all()
    assert abs(inner(a_bar, da) - right) <= FD_CONSTANT * kappa**2 * magnitude


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
