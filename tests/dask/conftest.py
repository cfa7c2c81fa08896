"""Dask fixtures: every test runs on the threaded scheduler and on a 2-process LocalCluster."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
from distributed import Client, LocalCluster


@pytest.fixture(scope="session")
def cluster_client():
    """Two worker processes, one thread each (workers import diffqr like any user code)."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, \
            Client(cluster, set_as_default=False) as client:
        yield client


@pytest.fixture(params=["threads", "distributed"])
def scheduler(request):
    """The scheduler for the test's computes (set in dask's config for the test's duration)."""
    target = (request.getfixturevalue("cluster_client") if request.param == "distributed"
              else "threads")
    with dask.config.set(scheduler=target):
        yield request.param


def _refuse(*_args, **_kwargs):
    raise AssertionError("a dask graph was computed while it should only have been built")


@pytest.fixture
def lazy():
    """A context in which any compute fails: building diffqr's graphs must compute nothing."""
    return lambda: dask.config.set(scheduler=_refuse)


@pytest.fixture
def chunked():
    """``chunked(a, rows, cols=None)``: ``a`` as a dask array in ``rows × cols`` chunks."""

    def make(a: np.ndarray, rows: int, cols: int | None = None) -> da.Array:
        cols = a.shape[-1] if cols is None else cols
        return da.from_array(a, chunks=(1,) * (a.ndim - 2) + (rows, cols))

    return make
