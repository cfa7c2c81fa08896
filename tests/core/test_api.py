"""On NumPy arrays diffqr.qr is np.linalg.qr bit for bit, 0-size shapes included (values to
rounding, pivoting, truncation and rank deficiency on every framework: tests/conformance)."""

from __future__ import annotations

import numpy as np
import pytest

import diffqr
from diffqr._verify import random_matrix


@pytest.mark.parametrize("shape", [(5, 5), (7, 4), (4, 7), (3, 6, 4), (0, 3), (3, 0)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
@pytest.mark.parametrize("mode", ["reduced", "complete"])
def test_qr_equals_numpy(rng, shape, dtype, mode):
    a = random_matrix(rng, shape, dtype)
    q, r = diffqr.qr(a, mode=mode)
    q_ref, r_ref = np.linalg.qr(a, mode=mode)
    assert q.dtype == a.dtype and r.dtype == a.dtype
    np.testing.assert_array_equal(q, q_ref)
    np.testing.assert_array_equal(r, r_ref)


def test_mode_r_returns_r_only(rng):
    a = random_matrix(rng, (6, 4))
    np.testing.assert_array_equal(diffqr.qr(a, mode="r"), np.linalg.qr(a, mode="r"))
