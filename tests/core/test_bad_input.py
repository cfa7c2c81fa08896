"""Bad input only NumPy has: its other dtypes, ragged and plain lists (the shared cases are in
tests/conformance/test_reliability.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import diffqr


@pytest.mark.parametrize("dtype", ["longdouble", "clongdouble", "object", "str", "datetime64[s]"])
def test_other_numpy_dtypes(dtype):
    a = np.ones((3, 3)).astype(dtype)
    if a.dtype in (np.float64, np.complex128):  # long double is double on some platforms
        pytest.skip("long double is double here")
    with pytest.raises(TypeError, match=re.escape(f"A has dtype {a.dtype.name}")):
        diffqr.qr(a)


def test_ragged_list():
    with pytest.raises(ValueError, match="inhomogeneous"):
        diffqr.qr([[1.0, 2.0], [3.0]])


def test_lists_are_accepted():
    q, r = diffqr.qr([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(q @ r, [[1.0, 2.0], [3.0, 4.0]])
