"""PaddlePaddle harness: ``paddle.grad`` for the VJP; JVPs by the double-backward trick
(paddle's dynamic graph has no forward mode; ``paddle.incubate.autograd.jvp`` does the same).

Paddle's complex cotangents follow PyTorch's convention.  Its native ops: ``paddle.linalg.qr``
(no gradient for deep ``mode="complete"`` nor ``mode="r"``), ``paddle.linalg.lstsq`` (no
gradient at all: the check sees zeros).  Paddle must be imported before TensorFlow in one
process (the other order crashes): :func:`diffqr._check.harness.harnesses` orders them.
"""

from __future__ import annotations

import numpy as np
import paddle

from .harness import Harness


class PaddleHarness(Harness):
    name = "paddle"
    module = "paddle"
    # The JVP trick differentiates a backward, and paddle's qr_grad has no backward of its own:
    # the native cells measure the VJP alone (diffqr's cells measure both).
    native_jvp = False

    def asarray(self, x):
        return paddle.to_tensor(np.array(x))

    def to_numpy(self, x):
        return x.numpy()

    def _differentiated(self, fn, inputs):
        xs = [paddle.to_tensor(np.array(x), stop_gradient=False) for x in inputs]
        return xs, list(fn(*xs))

    def vjp(self, fn, inputs, cotangents):
        xs, ys = self._differentiated(fn, inputs)
        grads = paddle.grad(ys, xs, [self.asarray(c) for c in cotangents], allow_unused=True)
        return [np.zeros_like(x) if g is None else self.to_numpy(g)
                for x, g in zip(inputs, grads, strict=True)]

    def jvp(self, fn, inputs, tangents):
        xs, ys = self._differentiated(fn, inputs)
        # u ↦ Jᴴu is (real-)linear in u: its own VJP along the tangents is J·t.
        us = [paddle.zeros_like(y) for y in ys]
        for u in us:
            u.stop_gradient = False
        gs = paddle.grad(ys, xs, us, create_graph=True, allow_unused=True)
        pairs = [(g, self.asarray(t)) for g, t in zip(gs, tangents, strict=True) if g is not None]
        out = paddle.grad([g for g, _ in pairs], us, [t for _, t in pairs], allow_unused=True)
        return [np.zeros(y.shape, y.numpy().dtype) if d is None else self.to_numpy(d)
                for y, d in zip(ys, out, strict=True)]

    def native(self, key):
        return {
            "qr_reduced": lambda a: list(paddle.linalg.qr(a)),
            "qr_complete": lambda a: list(paddle.linalg.qr(a, mode="complete")),
            "qr_r": lambda a: [paddle.linalg.qr(a, mode="r")],
            "lstsq": lambda a, b: [paddle.linalg.lstsq(a, b)[0]],
        }.get(key)


HARNESS = PaddleHarness()
