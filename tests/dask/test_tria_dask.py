"""``qr(A, mode="r")`` and ``tria`` on Dask arrays: values as NumPy's, and the explicit
Gram-consistent rule, lazily, at rank deficiency."""

from __future__ import annotations

import dask.array as da
import numpy as np
from tria_cases import deficient_cases, gram_tangent, tangent

import diffqr


def test_tria_value_and_gram_rule():
    a_np = deficient_cases()[5][1]  # rank 2, 6 × 4
    a = da.from_array(a_np, chunks=(3, 4))
    r = diffqr.qr(a, mode="r")
    np.testing.assert_allclose(np.abs(r.compute()), np.abs(np.linalg.qr(a_np, mode="r")),
                               atol=1e-12)
    lower = diffqr.tria(da.from_array(a_np.T, chunks=(4, 3)))
    np.testing.assert_allclose(lower.compute() @ lower.compute().T, a_np.T @ a_np, atol=1e-12)
    q, r = diffqr.qr(a)
    d = tangent(a_np)
    _, dr = diffqr.qr_jvp(a, q, r, da.from_array(d, chunks=(3, 4)), gram=True)
    assert isinstance(dr, da.Array)
    r_np, dr_np = r.compute(), dr.compute()
    np.testing.assert_allclose(dr_np.T @ r_np + r_np.T @ dr_np, gram_tangent(a_np, d), atol=1e-11)
    a_bar = diffqr.qr_vjp(a, q, r, None, da.from_array(2 * r_np), gram=True).compute()
    np.testing.assert_allclose(a_bar, 2 * a_np, atol=1e-11)
