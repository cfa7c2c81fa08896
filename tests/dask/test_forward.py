"""QR/LQ of dask arrays: lazy, chunk-parallel, and equal to NumPy's (LAPACK) factors."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest

import diffqr
from diffqr._check.dask import HARNESS
from diffqr._verify import random_matrix

TOL = {"float32": 2e-5, "float64": 1e-12, "complex64": 2e-5, "complex128": 1e-12}


def assert_close(actual, expected, dtype):
    """Entrywise agreement relative to the size of ``expected``."""
    expected = np.asarray(expected)
    scale = max(float(np.abs(expected).max(initial=0.0)), 1.0)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOL[dtype] * scale)


# (shape, row chunk, column chunk): tall TSQR with chunks taller/shorter than n, square, wide
# across column chunks, batched, one chunk.
LAYOUTS = [
    ((203, 6), 20, 6),
    ((45, 6), 4, 3),
    ((9, 9), 4, 4),
    ((6, 103), 3, 10),
    ((3, 9, 4), 3, 2),
    ((3, 4, 9), 3, 2),
    ((40, 7), 40, 7),
]
DTYPES = ["float32", "float64", "complex64", "complex128"]


@pytest.mark.parametrize("scheduler", ["threads"], indirect=True)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "rows", "cols"), LAYOUTS)
def test_qr_and_lq_equal_numpy(rng, chunked, scheduler, lazy, shape, rows, cols, dtype):
    a = random_matrix(rng, shape, dtype)
    x = chunked(a, rows, cols)
    with lazy():
        q, r = diffqr.qr(x)
        lf, lq = diffqr.lq(x)
    assert all(isinstance(y, da.Array) and y.dtype == a.dtype for y in (q, r, lf, lq))
    q, r, lf, lq = dask.compute(q, r, lf, lq)
    q_ref, r_ref = np.linalg.qr(a)
    assert_close(q, q_ref, dtype)
    assert_close(r, r_ref, dtype)
    l_ref, lq_ref = diffqr.lq(a)
    assert_close(lf, l_ref, dtype)
    assert_close(lq, lq_ref, dtype)


@pytest.mark.parametrize("a", [
    np.vstack([np.eye(6), np.zeros((20, 6))]),
    -np.vstack([np.eye(6), np.zeros((20, 6))]),
    np.vstack([np.triu(np.arange(1.0, 37.0).reshape(6, 6)), np.zeros((9, 6))]),
    np.eye(7, dtype=complex),
], ids=["eye", "minus-eye", "triangular", "complex-eye"])
def test_lapack_gauge_when_householder_skips_reflections(chunked, a):
    """Columns that are already reduced: LAPACK keeps their sign, and so does the dask QR."""
    q, r = dask.compute(*diffqr.qr(chunked(a, 4)))
    q_ref, r_ref = np.linalg.qr(a)
    np.testing.assert_allclose(q, q_ref, atol=1e-14)
    np.testing.assert_allclose(r, r_ref, atol=1e-13)


@pytest.mark.parametrize(("shape", "rows", "cols", "dtype"), [
    ((90, 6), 10, 3, "float64"), ((6, 40), 3, 7, "complex128"),
])
def test_qr_lq_and_pivots_on_a_local_cluster(rng, chunked, cluster_client, shape, rows, cols,
                                             dtype):
    """The same factors from two worker processes (the kernels travel by reference)."""
    a = random_matrix(rng, shape, dtype)
    x = chunked(a, rows, cols)
    outputs = (*diffqr.qr(x), *diffqr.lq(x), *diffqr.qr(x, pivoting=True))
    expected = (*np.linalg.qr(a), *diffqr.lq(a), *diffqr.qr(a, pivoting=True))
    for actual, reference in zip(dask.compute(*outputs, scheduler=cluster_client), expected,
                                 strict=True):
        assert_close(actual, reference, dtype)


def test_tall_qr_keeps_row_chunks(rng, chunked):
    """Q is row-chunked like A (one column chunk); R is one small chunk."""
    x = chunked(random_matrix(rng, (1000, 5)), 100, 2)
    q, r = diffqr.qr(x)
    assert q.chunks == (x.chunks[0], (5,))
    assert r.chunks == ((5,), (5,))
    lf, lq = diffqr.lq(x.T)
    assert lf.chunks == ((5,), (5,)) and lq.chunks == ((5,), x.chunks[0])


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_complex_wide_across_column_chunks_where_dask_is_wrong(rng, chunked, scheduler, dtype):
    """Dask's own wide QR uses Qᵀ instead of Qᴴ; diffqr's factors reconstruct A."""
    a = random_matrix(rng, (4, 30), dtype)
    x = chunked(a, 4, 7)
    q, r = dask.compute(*diffqr.qr(x))
    q_ref, r_ref = np.linalg.qr(a)
    assert_close(q, q_ref, dtype)
    assert_close(r, r_ref, dtype)
    assert_close(q @ r, a, dtype)
    q_dask, r_dask = dask.compute(*HARNESS.native("qr_reduced")(x))
    assert np.abs(q_dask @ r_dask - a).max() > 0.1 * np.abs(a).max()


@pytest.mark.parametrize("scheduler", ["threads"], indirect=True)
@pytest.mark.parametrize(("shape", "rows", "cols"), [
    ((203, 6), 20, 6), ((60, 6), 5, 2), ((6, 50), 3, 7), ((3, 9, 5), 4, 2),
])
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_pivoted_qr_and_lq_equal_numpy(rng, chunked, scheduler, lazy, shape, rows, cols, dtype):
    """Tall pivots are geqp3's on the small R: the same permutation as geqp3 on A."""
    a = random_matrix(rng, shape, dtype)
    x = chunked(a, rows, cols)
    with lazy():
        outputs = (*diffqr.qr(x, pivoting=True), *diffqr.lq(x, pivoting=True),
                   *diffqr.qr(x, pivoting=True, rank=3))
    expected = (*diffqr.qr(a, pivoting=True), *diffqr.lq(a, pivoting=True),
                *diffqr.qr(a, pivoting=True, rank=3))
    for actual, reference in zip(dask.compute(*outputs), expected, strict=True):
        assert actual.shape == reference.shape
        assert_close(actual, reference, dtype)


def test_tall_pivots_come_from_a_tree_of_small_r_factors(rng, chunked):
    """With many row chunks no pivot task depends on more than a few blocks."""
    x = chunked(random_matrix(rng, (4000, 5)), 50)
    p = diffqr.qr(x, pivoting=True).P
    graph = dict(p.__dask_graph__())
    fan_in = max(len(dask.core.get_dependencies(graph, key)) for key in graph)
    assert fan_in <= 8 < x.numblocks[0]


def test_rank_deficient_pivoted_truncation(rng, chunked, scheduler):
    a = random_matrix(rng, (60, 3)) @ random_matrix(rng, (3, 6))
    a[:, 1] = 2 * a[:, 0]
    q, r, p = dask.compute(*diffqr.qr(chunked(a, 7), pivoting=True, rank=3))
    q_ref, r_ref, p_ref = diffqr.qr(a, pivoting=True, rank=3)
    np.testing.assert_array_equal(p, p_ref)
    assert_close(q, q_ref, "float64")
    assert_close(r, r_ref, "float64")


@pytest.mark.parametrize("shape", [(9, 4), (3, 9, 4)])
def test_complete_mode(rng, chunked, shape):
    a = random_matrix(rng, shape, "complex128")
    q, r = dask.compute(*diffqr.qr(chunked(a, 4, 2), mode="complete"))
    q_ref, r_ref = np.linalg.qr(a, mode="complete")
    assert_close(q, q_ref, "complex128")
    assert_close(r, r_ref, "complex128")


def test_bad_input_is_rejected_before_any_compute(chunked, lazy):
    with lazy():
        with pytest.raises(TypeError, match="dtype"):
            diffqr.qr(da.ones((6, 3), dtype=np.int64, chunks=2))
        with pytest.raises(ValueError, match="mode"):
            diffqr.qr(da.ones((6, 3), chunks=2), mode="economic")
        with pytest.raises(TypeError, match="one framework"):
            diffqr.qr_vjp(da.ones((6, 3), chunks=2), np.ones((6, 3)), np.ones((3, 3)), None, None)


def test_empty_columns_across_row_chunks_do_not_hang():
    """The R-only tree once looped forever on a tall matrix without columns (row chunks of 0
    rows never merge into one); run in a subprocess so a regression fails instead of hanging."""
    import subprocess
    import sys

    code = """
import dask.array as da, diffqr
x = da.zeros((5, 0), chunks=(3, 3))
assert diffqr.qr(x, pivoting=True)[2].compute().shape == (0,)
assert diffqr.lq(da.zeros((0, 5), chunks=(3, 3)), pivoting=True)[1].shape == (0, 5)
assert diffqr.lstsq(x, da.ones((5, 2), chunks=(3, 2))).compute().shape == (0, 2)
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
