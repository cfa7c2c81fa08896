"""diffqr's gradient is as accurate as torch.linalg.qr's own, against a 60-digit reference.

Loss ℓ = Re<C_Q, Q> + Re<C_R, R> with fixed random C, float64/complex128 matrices with κ from 1e1
to 1e12 (`python -m diffqr bench --only accuracy` prints the full table for docs/reliability.md).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from accuracy import ACCURACY_CONDITIONS, accuracy_case, relative_error

import diffqr

EPS = float(np.finfo(np.float64).eps)


def _torch_gradient(qr, a, c_q, c_r):
    x = torch.from_numpy(a).requires_grad_()
    torch.autograd.backward(tuple(qr(x)), (torch.from_numpy(c_q), torch.from_numpy(c_r)))
    return x.grad.numpy()


@pytest.mark.parametrize("dtype", ["float64", "complex128"])
@pytest.mark.parametrize("cond", ACCURACY_CONDITIONS)
def test_no_less_accurate_than_native(cond, dtype):
    a, c_q, c_r, exact = accuracy_case((8, 5), dtype, cond)
    native = relative_error(_torch_gradient(torch.linalg.qr, a, c_q, c_r), exact)
    ours = relative_error(_torch_gradient(diffqr.qr, a, c_q, c_r), exact)
    q, r = np.linalg.qr(a)
    explicit = relative_error(diffqr.qr_vjp(a, q, r, c_q, c_r), exact)
    floor = 10 * EPS  # both at rounding level
    assert ours <= 2 * max(native, floor)
    assert explicit <= 4 * max(native, floor)
