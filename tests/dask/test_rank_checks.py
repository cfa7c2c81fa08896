"""Dask's deferred rank checks use the rules' tolerance, ``max(m, n) · eps · max |R_jj|``, as the
eager checks on NumPy do: the same matrices raise RankDeficientError (on Dask when computed)
with the same message, and the same pass."""

from __future__ import annotations

import re

import dask
import dask.array as da
import numpy as np
import pytest

import diffqr

EPS = np.finfo(np.float64).eps


def _with_small_pivot(rng, m: int, n: int) -> np.ndarray:
    """An ``m × n`` matrix whose QR has ``|R_kk| ≈ 16 eps · max |R_jj|`` (k = min(m, n)): above
    the tolerance for sizes ≤ 8, below it for sizes ≥ 32."""
    k = min(m, n)
    q = np.linalg.qr(rng.standard_normal((m, k)))[0]
    r = np.triu(0.1 * rng.standard_normal((k, n)), 1)
    r[:, :k] += np.diag([1.0] * (k - 1) + [16 * EPS])
    return q @ r


def _build(case: str, a, b) -> list:
    """The case's results on ``a``, ``b`` (NumPy, or Dask graphs)."""
    if case == "lstsq":
        out = [diffqr.lstsq(a, b)]
    elif case == "lstsq_vjp":
        x = diffqr.lstsq(a, b, ridge=1.0)  # any X: the rule's own forward is what is checked
        out = list(diffqr.lstsq_vjp(a, b, x, x))
    elif case == "qr_vjp":
        q, r = diffqr.qr(a)
        out = [diffqr.qr_vjp(a, q, r, q, None)]
    elif case == "qr_jvp":
        q, r = diffqr.qr(a)
        out = list(diffqr.qr_jvp(a, q, r, a))
    else:
        ell, q = diffqr.lq(a)
        out = [diffqr.lq_vjp(a, ell, q, None, q)]
    return out


def _run(case: str, a, b) -> list[np.ndarray]:
    return [np.asarray(y) for y in dask.compute(*_build(case, a, b))]


def _message(error: pytest.ExceptionInfo) -> str:
    # |R_ii| itself differs in rounding between TSQR and NumPy's Householder QR.
    return re.sub(r"\|R_ii\| = \S+", "|R_ii| = …", str(error.value))


# (case, shape of the matrix whose triangular factor is checked, transposed (that matrix is
# Aᴴ), right-hand sides, raises).  When Dask's solves checked with max(k, shape of the right-
# hand side) instead, the first five did not raise on Dask, and the sixth raised on Dask alone.
CASES = {
    "lstsq_deep": ("lstsq", (64, 4), False, 2, True),
    "lstsq_vjp_deep": ("lstsq_vjp", (64, 4), False, 2, True),
    "lstsq_wide": ("lstsq", (64, 4), True, 2, True),  # the minimum-norm solution
    "qr_vjp_wide": ("qr_vjp", (4, 64), False, 1, True),
    "lq_vjp_deep": ("lq_vjp", (4, 64), True, 1, True),
    "lstsq_many_rhs": ("lstsq", (8, 4), False, 64, False),
    "qr_vjp_deep": ("qr_vjp", (64, 4), False, 1, True),
    "qr_jvp_deep": ("qr_jvp", (64, 4), False, 1, True),
}


@pytest.mark.parametrize(("case", "shape", "transposed", "rhs", "raises"), CASES.values(),
                         ids=CASES.keys())
def test_dask_rank_check_uses_the_eager_tolerance(case, shape, transposed, rhs, raises, lazy):
    rng = np.random.default_rng(5)
    a = _with_small_pivot(rng, *shape)
    a = a.T if transposed else a
    b = rng.standard_normal((a.shape[0], rhs))
    x, y = da.from_array(a, chunks=16), da.from_array(b, chunks=16)  # TSQR over row chunks
    if not raises:
        for x_ in (_run(case, a, b)[0], _run(case, x, y)[0]):  # backward stable: small residual
            residual = np.linalg.norm(a.T @ (a @ x_ - b))
            scale = np.linalg.norm(a) * (np.linalg.norm(a) * np.linalg.norm(x_) + np.linalg.norm(b))
            assert residual <= 1e3 * EPS * scale
        return
    with pytest.raises(diffqr.RankDeficientError) as eager:
        _run(case, a, b)
    with lazy():
        graphs = _build(case, x, y)  # computes nothing, so raises nothing yet
    with pytest.raises(diffqr.RankDeficientError) as deferred:
        dask.compute(*graphs)
    assert _message(deferred) == _message(eager)


def test_dask_lstsq_rank_error_names_the_global_batch_element():
    rng = np.random.default_rng(6)
    a = rng.standard_normal((4, 6, 3))
    a[3, :, 2] = a[3, :, 0]
    b = rng.standard_normal((4, 6, 2))
    element = r"A \(batch element \(3,\)\) has numerically dependent columns"
    with pytest.raises(diffqr.RankDeficientError, match=element):
        diffqr.lstsq(a, b)
    x = diffqr.lstsq(da.from_array(a, chunks=(3, 6, 3)), da.from_array(b, chunks=(3, 6, 2)))
    with pytest.raises(diffqr.RankDeficientError, match=element):
        x.compute()
