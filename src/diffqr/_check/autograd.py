"""HIPS autograd harness: ``make_vjp`` for reverse mode, ``make_jvp`` for forward mode.

autograd's cotangents of complex arrays are the conjugates of PyTorch's (like JAX's).
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
from autograd import make_vjp
from autograd.builtins import tuple as traced_tuple
from autograd.differential_operators import make_jvp

from .harness import Harness
from .jax import conj_cotangent


def _in_one_input(fn, inputs, i):
    """``fn`` as a function of its ``i``-th input only, returning one traced tuple."""
    return lambda x: traced_tuple(fn(*inputs[:i], x, *inputs[i + 1:]))


class AutogradHarness(Harness):
    name = "autograd"
    module = "autograd"

    def asarray(self, x):
        return np.array(x)

    def vjp(self, fn, inputs, cotangents):
        cotangents = tuple(conj_cotangent(np.asarray(c)) for c in cotangents)
        grads = []
        for i, x in enumerate(inputs):
            pullback, _ = make_vjp(_in_one_input(fn, inputs, i))(np.array(x))
            grads.append(conj_cotangent(np.asarray(pullback(cotangents))))
        return grads

    def jvp(self, fn, inputs, tangents):
        total = None
        for i, (x, t) in enumerate(zip(inputs, tangents, strict=True)):
            _, out = make_jvp(_in_one_input(fn, inputs, i))(np.array(x))(np.array(t))
            total = list(out) if total is None else [a + b for a, b in zip(total, out, strict=True)]
        return [np.asarray(t) for t in total]

    def native(self, key):
        # autograd's own QR and lstsq have no derivative rules (NotImplementedError).
        return {
            "qr_reduced": lambda a: list(anp.linalg.qr(a)),
            "qr_complete": lambda a: list(anp.linalg.qr(a, mode="complete")),
            "qr_r": lambda a: [anp.linalg.qr(a, mode="r")],
            "lstsq": lambda a, b: [anp.linalg.lstsq(a, b, rcond=None)[0]],
        }.get(key)


HARNESS = AutogradHarness()
