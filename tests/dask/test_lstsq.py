"""Least squares on dask arrays: tall and wide, with and without ridge, lazy and chunk-parallel."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest

import diffqr
from diffqr._verify import random_matrix, relative_error

# (A's shape, B's trailing shape, row chunk, column chunk): tall (vector and matrix B), wide.
PROBLEMS = [
    ((300, 6), (2,), 30, 3),
    ((300, 6), (), 25, 6),
    ((6, 300), (2,), 3, 30),
]


def _problem(rng, shape, rhs, dtype):
    a = random_matrix(rng, shape, dtype)
    b = random_matrix(rng, (shape[0], *rhs), dtype)
    x_shape = (shape[1], *rhs)
    return a, b, random_matrix(rng, x_shape, dtype), random_matrix(rng, shape, dtype), \
        random_matrix(rng, b.shape, dtype)


def _chunk_like_a(y, rows, cols):
    return da.from_array(y, chunks=(rows, cols)[: y.ndim])


@pytest.mark.parametrize("ridge", [0.0, 0.3])
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
@pytest.mark.parametrize(("shape", "rhs", "rows", "cols"), PROBLEMS)
def test_lstsq_and_its_rules_equal_numpy_and_build_lazily(rng, lazy, shape, rhs, rows, cols,
                                                          dtype, ridge):
    a, b, x_bar, da_, db = _problem(rng, shape, rhs, dtype)
    x_dask, y_dask = _chunk_like_a(a, rows, cols), _chunk_like_a(b, rows, cols)
    with lazy():
        x = diffqr.lstsq(x_dask, y_dask, ridge=ridge)
        a_bar, b_bar = diffqr.lstsq_vjp(x_dask, y_dask, x, da.from_array(x_bar), ridge=ridge)
        dx = diffqr.lstsq_jvp(x_dask, y_dask, x, _chunk_like_a(da_, rows, cols),
                              _chunk_like_a(db, rows, cols), ridge=ridge)
    x_ref = diffqr.lstsq(a, b, ridge=ridge)
    if ridge == 0.0:
        np.testing.assert_allclose(x_ref, np.linalg.lstsq(a, b)[0], atol=1e-12)
    expected = (x_ref, *diffqr.lstsq_vjp(a, b, x_ref, x_bar, ridge=ridge),
                diffqr.lstsq_jvp(a, b, x_ref, da_, db, ridge=ridge))
    tol = 1e-14 * np.linalg.cond(a) * 10
    for actual, reference in zip(dask.compute(x, a_bar, b_bar, dx), expected, strict=True):
        assert actual.shape == reference.shape
        assert relative_error([actual], [reference]) <= tol
    # The m × n cotangent keeps A's chunks along its long axis.
    assert a_bar.chunks[np.argmax(shape)] == x_dask.chunks[np.argmax(shape)]


def test_tall_lstsq_forms_no_q_and_gathers_no_row_blocks(rng):
    """The forward pass is an R-only tree over the row chunks of [A | B]: small fan-in."""
    a = da.from_array(random_matrix(rng, (4000, 5)), chunks=(50, 5))
    b = da.from_array(random_matrix(rng, (4000, 2)), chunks=(50, 2))
    x = diffqr.lstsq(a, b)
    graph = dict(x.__dask_graph__())
    fan_in = max(len(dask.core.get_dependencies(graph, key)) for key in graph)
    assert fan_in <= 8 < a.numblocks[0]
    assert not any("tsqr" in str(key) or "qr-" in str(key) for key in graph)


def test_lstsq_on_a_local_cluster(rng, cluster_client):
    a, b, x_bar, _, _ = _problem(rng, (240, 5), (3,), "complex128")
    x_dask, y_dask = _chunk_like_a(a, 40, 5), _chunk_like_a(b, 40, 5)
    x = diffqr.lstsq(x_dask, y_dask, ridge=0.1)
    a_bar, b_bar = diffqr.lstsq_vjp(x_dask, y_dask, x, da.from_array(x_bar), ridge=0.1)
    x_ref = diffqr.lstsq(a, b, ridge=0.1)
    expected = (x_ref, *diffqr.lstsq_vjp(a, b, x_ref, x_bar, ridge=0.1))
    actual = dask.compute(x, a_bar, b_bar, scheduler=cluster_client)
    for y, reference in zip(actual, expected, strict=True):
        assert relative_error([y], [reference]) <= 1e-12


def test_rank_deficient_lstsq_raises_when_computed(rng, scheduler, lazy):
    a = random_matrix(rng, (60, 4))
    a[:, 1] = 2 * a[:, 0]
    x_dask = da.from_array(a, chunks=(10, 4))
    y_dask = da.from_array(random_matrix(rng, (60,)), chunks=10)
    with lazy():
        x = diffqr.lstsq(x_dask, y_dask)
    with pytest.raises(diffqr.RankDeficientError, match="ridge > 0"):
        x.compute()
    assert np.isfinite(diffqr.lstsq(x_dask, y_dask, ridge=1e-3).compute()).all()
