"""``tria`` and ``qr(A, mode="r")`` on MXNet arrays: the gradient of a Gram loss is exact at
rank deficiency and at zero (run in .venv-mxnet)."""

from __future__ import annotations

import mxnet as mx
import numpy as np
import pytest
from tria_cases import deficient_cases

import diffqr

W = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 1.5]])


@pytest.mark.parametrize("kind", ["nd", "np"])
def test_gram_loss_gradient(kind):
    module = getattr(mx, kind)
    for a_np in (np.zeros((3, 4)), deficient_cases()[5][1][:3], deficient_cases()[6][1]):
        a = module.array(a_np, dtype="float64")
        a.attach_grad()
        with mx.autograd.record():
            lower = diffqr.tria(a)
            lower = lower if kind == "np" else lower.as_np_ndarray()  # a view, same history
            loss = (mx.np.array(W, dtype="float64") * mx.np.matmul(lower, lower.T)).sum()
        loss.backward()
        np.testing.assert_allclose(a.grad.asnumpy(), 2 * W @ a_np, atol=1e-12)
    b = module.array(deficient_cases()[5][1], dtype="float64")
    b.attach_grad()
    with mx.autograd.record():
        r = diffqr.qr(b, mode="r")
        loss = (r * r).sum()  # ‖R‖² = ‖A‖²: gradient 2 A
    loss.backward()
    np.testing.assert_allclose(b.grad.asnumpy(), 2 * deficient_cases()[5][1], atol=1e-12)
