"""MXNet with every fast path off (``diffqr.fast_paths(False)``): the ``gelqf`` forward is not
taken, and values and gradients agree with it."""

from __future__ import annotations

import mxnet as mx
import numpy as np

import diffqr
from diffqr._verify import random_matrix


def _lq_and_grad(a, cotangents):
    x = mx.nd.array(a, dtype="float64")
    x.attach_grad()
    with mx.autograd.record():
        l_factor, q = diffqr.lq(x)
    mx.autograd.backward([l_factor, q], [mx.nd.array(c, dtype="float64") for c in cotangents])
    return l_factor.asnumpy(), q.asnumpy(), x.grad.asnumpy()


def test_fast_paths_off_skips_gelqf_and_agrees(rng, monkeypatch):
    a = random_matrix(rng, (6, 11))
    cotangents = [random_matrix(rng, (6, 6)), random_matrix(rng, (6, 11))]
    calls = []
    gelqf = mx.nd.linalg.gelqf
    monkeypatch.setattr(mx.nd.linalg, "gelqf", lambda *x, **k: calls.append(1) or gelqf(*x, **k))
    fast = _lq_and_grad(a, cotangents)
    assert calls  # the fast path is taken by default
    calls.clear()
    with diffqr.fast_paths(False):
        plain = _lq_and_grad(a, cotangents)
    assert not calls
    for x, y in zip(fast, plain, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12 * np.abs(y).max())
