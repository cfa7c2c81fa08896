"""PyTorch harness: ``torch.autograd.grad`` for the VJP, ``torch.func.jvp`` for forward mode."""

from __future__ import annotations

import numpy as np
import torch

from .harness import Harness


class TorchHarness(Harness):
    name = "torch"
    module = "torch"

    def asarray(self, x):
        return torch.from_numpy(np.array(x))

    def to_numpy(self, x):
        return x.detach().resolve_conj().numpy()

    def vjp(self, fn, inputs, cotangents):
        xs = [self.asarray(x).requires_grad_() for x in inputs]
        ys = fn(*xs)
        grads = torch.autograd.grad(ys, xs, [self.asarray(c) for c in cotangents],
                                    allow_unused=True)
        return [None if g is None else self.to_numpy(g) for g in grads]

    def jvp(self, fn, inputs, tangents):
        _, out = torch.func.jvp(lambda *xs: tuple(fn(*xs)), tuple(self.asarray(x) for x in inputs),
                                tuple(self.asarray(t) for t in tangents))
        return [self.to_numpy(t) for t in out]

    def native(self, key):
        return {
            "qr_reduced": lambda a: list(torch.linalg.qr(a)),
            "qr_complete": lambda a: list(torch.linalg.qr(a, mode="complete")),
            "qr_r": lambda a: [torch.linalg.qr(a, mode="r")[1]],
            "lstsq": lambda a, b: [torch.linalg.lstsq(a, b).solution],
        }.get(key)


HARNESS = TorchHarness()
