"""Dask harness: no autodiff, so the explicit rules run on dask arrays and are computed at the end.

The test arrays are cut into chunks of 3 along the matrix axes (1 along batch axes): tall
matrices take the TSQR path, wide ones the column-chunked path, and every rule runs across chunks.
"""

from __future__ import annotations

import dask.array as da
import numpy as np

from .harness import Harness

CHUNK = 3


class DaskHarness(Harness):
    name = "dask"
    module = "dask.array"
    autodiff = False

    def setup(self):
        import dask

        dask.config.set(scheduler="threads")

    def asarray(self, x):
        x = np.array(x)
        return da.from_array(x, chunks=tuple(1 if axis < x.ndim - 2 else CHUNK
                                             for axis in range(x.ndim)))

    def to_numpy(self, x):
        return np.asarray(x.compute())

    def native(self, key):
        # Dask's QR has no derivative; its forward is used by the tests (wrong for complex wide).
        return {"qr_reduced": lambda a: list(da.linalg.qr(_one_chunk_along_short_axis(a)))}.get(key)


def _one_chunk_along_short_axis(a: da.Array) -> da.Array:
    """The chunking ``da.linalg.qr`` accepts: tall → one column chunk, wide → one row chunk."""
    m, n = a.shape[-2:]
    return a.rechunk({1: -1} if m >= n else {0: -1})


HARNESS = DaskHarness()
