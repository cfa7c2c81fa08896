"""MXNet harness: ``mx.autograd.record`` / ``backward`` with head gradients for the VJP.

MXNet has no forward mode (the check measures the VJP alone) and no complex dtypes (complex
capabilities are "n/a").  Its native ops: ``mx.np.linalg.qr`` and ``mx.np.linalg.lstsq`` are
fallbacks to official NumPy, which raise under ``autograd.record()``; ``mx.nd.linalg.gelqf`` is
a differentiable LQ for wide matrices only.
"""

from __future__ import annotations

import mxnet as mx

from .harness import Harness


class MXNetHarness(Harness):
    name = "mxnet"
    module = "mxnet"
    forward_mode = False
    dtypes = ("float32", "float64")

    def setup(self):
        mx.npx.set_np()  # NumPy semantics for mx.np arrays (0-d results of the loss)

    def asarray(self, x):
        return mx.np.array(x, dtype=x.dtype)

    def to_numpy(self, x):
        return x.asnumpy()

    def vjp(self, fn, inputs, cotangents):
        xs = [self.asarray(x) for x in inputs]
        for x in xs:
            x.attach_grad()
        with mx.autograd.record():
            ys = fn(*xs)
        mx.autograd.backward(list(ys), [self.asarray(c) for c in cotangents])
        return [self.to_numpy(x.grad) for x in xs]

    def native(self, key):
        return {
            "qr_reduced": lambda a: list(mx.np.linalg.qr(a)),
            "lq": _gelqf,
            "lstsq": lambda a, b: [mx.np.linalg.lstsq(a, b, rcond=None)[0]],
        }.get(key)


def _gelqf(a):
    q, l_factor = mx.nd.linalg.gelqf(a.as_nd_ndarray())
    return [l_factor.as_np_ndarray(), q.as_np_ndarray()]


HARNESS = MXNetHarness()
