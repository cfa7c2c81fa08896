"""PaddlePaddle adapter: ``paddle.Tensor`` in, ``paddle.Tensor`` out.

Each primitive's forward runs without gradient (``paddle.linalg.qr``, LAPACK); its outputs are
tied to its inputs by ``PyLayer``s (:func:`.paddle_ops.connect`) whose backward runs the shared
VJP rules over the vocabulary below, in paddle operations that paddle records again when
``create_graph=True``: second and higher order, ``loss.backward()``, ``paddle.grad`` (with
respect to any subset of the inputs) and ``stop_gradient`` inputs all work.  Paddle has no
forward mode in dynamic graphs: ``paddle.incubate.autograd.jvp`` computes JVPs by the
double-backward trick, which works here (and ``diffqr.qr_jvp`` & co. accept paddle tensors).

Limits: an exception raised in a backward (``RankDeficientError``) reaches the caller as
paddle's ``OSError`` whose message contains the original one; the pivot choice and CholeskyQR's
Cholesky run on the host; ``paddle.jit.to_static`` (docs/guides/paddle.md).
"""

from __future__ import annotations

import numpy as np
import paddle

from . import _host
from . import paddle_ops as ops
from .base import Backend


def _values_known(a) -> bool:
    """True for a dynamic-graph tensor (not a static-graph variable under ``to_static``)."""
    return paddle.in_dynamic_mode() and isinstance(a, paddle.Tensor)


class PaddleBackend(Backend):
    name = "paddle"

    def matmul(self, a, b):
        return paddle.matmul(a, b)

    def real_times(self, s, a):
        return paddle.cast(s, a.dtype) * a if ops.is_complex(a) else s * a

    def mH(self, a):
        return ops.mH(a)

    def tril(self, a, k=0):
        return ops.band(a, k, lower=True)

    def triu(self, a, k=0):
        return ops.band(a, k, lower=False)

    def triangles(self, lower, upper):
        below = np.tri(*lower.shape[-2:], dtype=bool)
        return paddle.where(paddle.to_tensor(below), lower, upper)

    def solve_triangular(self, r, b, *, upper, left=True, adjoint=False):
        if left:
            return ops.solve_triangular(r, b, upper=upper, adjoint=adjoint)
        # x op(r) = b  <=>  op(r)ᴴ xᴴ = bᴴ
        return ops.mH(ops.solve_triangular(r, ops.mH(b), upper=upper, adjoint=not adjoint))

    def cholesky(self, a):
        return ops.cholesky_on_host(a)

    def solve(self, a, b):
        return ops.solve(a, b)

    def concat(self, arrays, axis):
        return paddle.concat(arrays, axis=axis)

    def sum(self, a, axis):
        return paddle.sum(a, axis=list(axis))

    def zeros_like(self, a):
        return paddle.zeros_like(a)

    def eye_like(self, a, n):
        return paddle.eye(n, dtype=a.dtype)

    def real(self, a):
        return ops.real(a)

    def where(self, condition, a, b):
        return paddle.where(condition, a, b)

    def shape(self, a):
        return tuple(a.shape)

    def to_host(self, a):
        return a.numpy() if _values_known(a) else None

    def dtype_name(self, a):
        return str(a.dtype).removeprefix("paddle.")

    def householder_qr(self, a, *, complete):
        if 0 in a.shape:  # paddle's kernel rejects empty matrices: the shapes are all we need
            m, n = a.shape[-2:]
            k = m if complete else min(m, n)
            eye = paddle.eye(m, k, dtype=a.dtype)
            q = paddle.broadcast_to(eye, [*a.shape[:-2], m, k])
            return q, paddle.zeros([*a.shape[:-2], k, n], dtype=a.dtype)
        return paddle.linalg.qr(a, mode="complete" if complete else "reduced")

    def qr_r(self, a):
        return self.householder_qr(a, complete=False)[1] if 0 in a.shape else paddle.linalg.qr(
            a, mode="r")

    def column_pivots(self, a, rank):
        return paddle.to_tensor(_host.householder_pivots(a.numpy(), rank))

    def take_columns(self, a, perm):
        return ops.take_columns(a, perm)

    def apply(self, primitive, inputs, options):
        with paddle.no_grad():
            outputs = tuple(self.forward(primitive, inputs, options))
        return _connect(self, primitive, inputs, outputs, options)


def _connect(xp, primitive, inputs, outputs, options):
    """The differentiable outputs tied to the inputs by the primitive's VJP; the auxiliary ones
    stay constants (``stop_gradient``)."""
    count = len(outputs) - primitive.auxiliary

    def vjp(cotangents):
        # Under create_graph the rules see outputs tied again, so paddle differentiates them.
        tied = _connect(xp, primitive, inputs, outputs, options)
        return primitive.vjp(xp, inputs, tied, cotangents, **options)

    return (*ops.connect(inputs, outputs[:count], vjp), *outputs[count:])


BACKEND = PaddleBackend()
