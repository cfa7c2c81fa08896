"""The explicit rules on dask arrays: lazy, chunk-parallel, equal to the NumPy rules."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest

import diffqr
from diffqr._check import run_framework
from diffqr._verify import random_matrix, relative_error


def _cond(r: np.ndarray) -> float:
    """Condition number of the triangular blocks the rules solve with."""
    k = min(r.shape[-2:])
    return float(np.max(np.linalg.cond(r[..., :k, :k])))


def _assert_rules_agree(actual, expected, r):
    tol = 1e-14 * _cond(np.asarray(r)) * 10
    for x, y in zip(actual, expected, strict=True):
        assert relative_error([x], [y]) <= tol


def _random_like(rng, arrays, dtype):
    return [random_matrix(rng, np.shape(y), dtype) for y in arrays]


# (shape, row chunk, column chunk, rank)
LAYOUTS = [
    ((200, 6), 20, 6, None),
    ((60, 6), 4, 3, None),
    ((9, 9), 4, 4, None),
    ((6, 100), 3, 10, None),
    ((40, 8), 7, 8, 3),
    ((3, 9, 4), 3, 2, None),
]


@pytest.mark.parametrize("dtype", ["float64", "complex128"])
@pytest.mark.parametrize(("shape", "rows", "cols", "rank"), LAYOUTS)
def test_qr_rules_equal_numpy_and_build_lazily(rng, chunked, lazy, shape, rows, cols, rank,
                                               dtype):
    a = random_matrix(rng, shape, dtype)
    q_ref, r_ref = diffqr.qr(a, rank=rank)
    q_bar, r_bar = _random_like(rng, (q_ref, r_ref), dtype)
    da_ = random_matrix(rng, shape, dtype)
    x = chunked(a, rows, cols)
    with lazy():
        q, r = diffqr.qr(x, rank=rank)
        a_bar = diffqr.qr_vjp(x, q, r, chunked(q_bar, rows), chunked(r_bar, 3))
        r_only_bar = diffqr.qr_vjp(x, q, r, None, chunked(r_bar, 3))
        dq, dr = diffqr.qr_jvp(x, q, r, chunked(da_, rows, cols))
    actual = dask.compute(a_bar, r_only_bar, dq, dr)
    expected = (diffqr.qr_vjp(a, q_ref, r_ref, q_bar, r_bar),
                diffqr.qr_vjp(a, q_ref, r_ref, None, r_bar),
                *diffqr.qr_jvp(a, q_ref, r_ref, da_))
    _assert_rules_agree(actual, expected, r_ref)


@pytest.mark.parametrize("dtype", ["float64", "complex128"])
@pytest.mark.parametrize(("shape", "rows", "cols"), [((6, 200), 3, 20), ((200, 6), 20, 3)])
def test_lq_rules_equal_numpy_and_build_lazily(rng, chunked, lazy, shape, rows, cols, dtype):
    a = random_matrix(rng, shape, dtype)
    l_ref, q_ref = diffqr.lq(a)
    l_bar, q_bar = _random_like(rng, (l_ref, q_ref), dtype)
    da_ = random_matrix(rng, shape, dtype)
    x = chunked(a, rows, cols)
    with lazy():
        lf, q = diffqr.lq(x)
        a_bar = diffqr.lq_vjp(x, lf, q, chunked(l_bar, rows), chunked(q_bar, 3, cols))
        dl, dq = diffqr.lq_jvp(x, lf, q, chunked(da_, rows, cols))
    expected = (diffqr.lq_vjp(a, l_ref, q_ref, l_bar, q_bar), *diffqr.lq_jvp(a, l_ref, q_ref, da_))
    _assert_rules_agree(dask.compute(a_bar, dl, dq), expected, l_ref.conj().T)


def test_complete_mode_rules(rng, chunked):
    a = random_matrix(rng, (9, 4), "complex128")
    q_ref, r_ref = np.linalg.qr(a, mode="complete")
    q_bar, r_bar = _random_like(rng, (q_ref, r_ref), "complex128")
    da_ = random_matrix(rng, a.shape, "complex128")
    x = chunked(a, 4, 2)
    q, r = diffqr.qr(x, mode="complete")
    actual = dask.compute(diffqr.qr_vjp(x, q, r, chunked(q_bar, 4), chunked(r_bar, 4)),
                          *diffqr.qr_jvp(x, q, r, chunked(da_, 4)))
    expected = (diffqr.qr_vjp(a, q_ref, r_ref, q_bar, r_bar), *diffqr.qr_jvp(a, q_ref, r_ref, da_))
    _assert_rules_agree(actual, expected, r_ref)


def test_rules_on_a_local_cluster(rng, chunked, cluster_client):
    a = random_matrix(rng, (120, 5), "complex128")
    q_ref, r_ref = np.linalg.qr(a)
    q_bar, r_bar = _random_like(rng, (q_ref, r_ref), "complex128")
    da_ = random_matrix(rng, a.shape, "complex128")
    x = chunked(a, 13)
    q, r = diffqr.qr(x)
    lazy_outputs = (diffqr.qr_vjp(x, q, r, chunked(q_bar, 13), chunked(r_bar, 5)),
                    *diffqr.qr_jvp(x, q, r, chunked(da_, 13)))
    expected = (diffqr.qr_vjp(a, q_ref, r_ref, q_bar, r_bar), *diffqr.qr_jvp(a, q_ref, r_ref, da_))
    _assert_rules_agree(dask.compute(*lazy_outputs, scheduler=cluster_client), expected, r_ref)


def test_m_sized_results_are_row_chunked_and_reductions_are_trees(rng, chunked):
    """Ā and dQ keep A's row chunks; past the forward graph no task gathers many blocks."""
    m, n, rows = 4000, 5, 50
    x = chunked(random_matrix(rng, (m, n)), rows)
    q, r = diffqr.qr(x)
    q_bar = chunked(random_matrix(rng, (m, n)), rows)
    a_bar = diffqr.qr_vjp(x, q, r, q_bar, chunked(random_matrix(rng, (n, n)), n))
    dq, dr = diffqr.qr_jvp(x, q, r, chunked(random_matrix(rng, (m, n)), rows))
    for y in (a_bar, dq):
        assert y.chunks == (x.chunks[0], (n,))
    assert dr.numblocks == (1, 1)
    forward = dict(q.__dask_graph__()) | dict(r.__dask_graph__())
    for y in (a_bar, dq, dr):
        graph = dict(y.__dask_graph__())
        fan_in = max(len(dask.core.get_dependencies(graph, key)) for key in graph
                     if key not in forward)
        assert fan_in <= 8 < x.numblocks[0]


def test_rank_deficiency_raises_when_computed(rng, chunked, scheduler, lazy):
    """The graph builds (values unknown); computing the derivative raises RankDeficientError."""
    a = random_matrix(rng, (60, 4))
    a[:, 1] = 2 * a[:, 0]
    x = chunked(a, 10)
    with lazy():
        q, r = diffqr.qr(x)
        a_bar = diffqr.qr_vjp(x, q, r, chunked(random_matrix(rng, (60, 4)), 10), None)
        dq, _ = diffqr.qr_jvp(x, q, r, chunked(random_matrix(rng, (60, 4)), 10))
    for y in (a_bar, dq):
        with pytest.raises(diffqr.RankDeficientError, match="pivoting=True"):
            y.compute()
    q, r, p = diffqr.qr(x, pivoting=True, rank=3)
    assert np.isfinite(diffqr.qr_vjp(x[:, p], q, r, None, r).compute()).all()


def test_check_column_passes():
    """``python -m diffqr check``'s dask column: the explicit rules evaluated on dask arrays."""
    rows = run_framework("dask")
    failed = {name: row["diffqr"] for name, row in rows.items() if row["diffqr"]["status"] != "ok"}
    assert not failed


@pytest.mark.parametrize(("shape", "chunks", "bad"), [
    ((3, 6, 3), (1, 3, 3), (2,)),
    ((2, 3, 6, 3), (1, 2, 3, 3), (1, 2)),
    ((4, 6, 3), (3, 6, 3), (3,)),
])
def test_rank_error_names_the_global_batch_element(rng, shape, chunks, bad):
    """The check runs per chunk; its message names the element of the whole batch."""
    a = random_matrix(rng, shape)
    a[(*bad, slice(None), 2)] = a[(*bad, slice(None), 0)]
    x = da.from_array(a, chunks=chunks)
    q, r = diffqr.qr(x)
    element = rf"batch element \({', '.join(map(str, bad))},?\)"
    with pytest.raises(diffqr.RankDeficientError, match=element):
        diffqr.qr_vjp(x, q, r, da.ones_like(q), None).compute()
    with pytest.raises(diffqr.RankDeficientError, match=element):  # as NumPy says it
        diffqr.qr_vjp(a, *np.linalg.qr(a), np.ones_like(a), None)


@pytest.mark.parametrize("shape", [(1, 0), (3, 0), (2, 1, 0), (0, 2)])
@pytest.mark.parametrize("mode", ["reduced", "complete"])
def test_empty_matrices_give_empty_derivatives(shape, mode):
    x = da.zeros(shape)
    q, r = diffqr.qr(x, mode=mode)
    a_bar = diffqr.qr_vjp(x, q, r, da.ones_like(q), da.ones_like(r))
    dq, dr = diffqr.qr_jvp(x, q, r, da.ones_like(x))
    for lazy, like in ((a_bar, x), (dq, q), (dr, r)):
        assert lazy.shape == like.shape and lazy.compute().shape == like.shape
        assert not np.any(lazy.compute())
