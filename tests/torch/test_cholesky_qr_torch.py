"""qr(method="cholesky") on torch tensors: same factors as NumPy, differentiable to second order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import diffqr
from diffqr._verify import random_matrix


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_gradcheck_and_gradgradcheck(rng, dtype):
    a = torch.from_numpy(random_matrix(rng, (12, 4), str(dtype).removeprefix("torch.")))
    a.requires_grad_()

    def f(x):
        return tuple(diffqr.qr(x, method="cholesky"))

    assert torch.autograd.gradcheck(f, (a,))
    assert torch.autograd.gradgradcheck(f, (a,))


def test_matches_numpy_and_auto_keeps_householder(rng):
    a = random_matrix(rng, (2, 600, 20), "float64", cond=1e6)
    q, r = diffqr.qr(torch.from_numpy(a), method="cholesky")
    qn, rn = diffqr.qr(a, method="cholesky")
    np.testing.assert_allclose(q.numpy(), qn, atol=1e-12)
    np.testing.assert_allclose(r.numpy(), rn, atol=1e-12 * np.abs(rn).max())
    t = torch.from_numpy(a)  # torch (MKL): Householder is as fast, so "auto" keeps it
    for got, expected in zip(diffqr.qr(t, method="auto"), torch.linalg.qr(t), strict=True):
        torch.testing.assert_close(got, expected)


def test_rank_deficient_raises_in_forward():
    with pytest.raises(ValueError, match="cannot factor"):
        diffqr.qr(torch.zeros(30, 4, dtype=torch.float64), method="cholesky")
