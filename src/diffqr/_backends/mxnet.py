"""MXNet adapter: ``mx.nd.NDArray`` and ``mx.np.ndarray`` in, the same type out.

Each primitive call becomes an ``mx.autograd.Function`` whose forward runs the primitive's forward
and whose backward runs its VJP, both on the host with diffqr's NumPy backend (``asnumpy`` in,
``mx.nd.array`` / ``mx.np.array`` out).  Why the host rather than MXNet kernels:

* MXNet does not record a Function's backward (a second backward through a gradient taken with
  ``create_graph=True`` raises MXNetError "non-differentiable"), so rules run on MXNet arrays
  would buy no higher derivatives;
* ``mx.nd.linalg`` has no QR (``gelqf`` needs ``m <= n``, no pivoting, no complete mode) and
  ``mx.np.linalg.qr`` is a fallback to official NumPy that raises under ``autograd.record()``;
  on the CPU both sides call LAPACK, and the backward measured faster on the host than as MXNet
  ops at every size tried (benchmarks/bench_mxnet.py).

The vocabulary below (for the explicit rules ``diffqr.qr_jvp`` & co. on MXNet arrays) uses MXNet's
own recorded operations (``mx.np``, ``mx.nd.linalg.trsm``, ``mx.nd.gather_nd``), so those rules
and ``take_columns`` are differentiable by ``mx.autograd``.

Limits: no complex dtypes in MXNet; no second derivatives (see above); no forward mode in MXNet
(use ``diffqr.qr_jvp``/``lq_jvp``, which accept MXNet arrays); values must be concrete (no
symbolic ``hybridize``).  An error in the backward pass, such as ``RankDeficientError``, is
printed by MXNet and raised as ``MXNetError`` when the gradient is read: MXNet cannot pass a
Python exception out of a Function's backward.
"""

from __future__ import annotations

import mxnet as mx
import numpy as np

from .base import Backend
from .numpy import BACKEND as NUMPY
from .numpy import householder_pivots


def _np(a):
    """``a`` as an ``mx.np.ndarray`` (a view: shares memory and autograd history)."""
    return a if isinstance(a, mx.np.ndarray) else a.as_np_ndarray()


def _nd(a):
    """``a`` as a legacy ``mx.nd.NDArray`` view."""
    return a.as_nd_ndarray() if isinstance(a, mx.np.ndarray) else a


def _kind_of(like):
    """Convert an MXNet array to the kind (``mx.np`` or ``mx.nd``) of ``like``."""
    return _np if isinstance(like, mx.np.ndarray) else _nd


def _from_host(x: np.ndarray, like):
    """A host array as a new MXNet array of ``like``'s kind and context."""
    module = mx.np if isinstance(like, mx.np.ndarray) else mx.nd
    return module.array(x, dtype=x.dtype, ctx=like.ctx)


class MXNetBackend(Backend):
    name = "mxnet"

    def matmul(self, a, b):
        return _kind_of(a)(mx.np.matmul(_np(a), _np(b)))

    def mH(self, a):
        return _kind_of(a)(mx.np.swapaxes(_np(a), -1, -2))

    def tril(self, a, k=0):
        return _kind_of(a)(mx.np.tril(_np(a), k))

    def triu(self, a, k=0):
        return a - self.tril(a, k - 1)

    def solve_triangular(self, r, b, *, upper, left=True, adjoint=False):
        # trsm needs equal batch shapes; real arrays, so the adjoint is the transpose.
        batch = np.broadcast_shapes(r.shape[:-2], b.shape[:-2])
        r = mx.np.broadcast_to(_np(r), batch + r.shape[-2:])
        x = mx.nd.linalg.trsm(_nd(r), _nd(mx.np.broadcast_to(_np(b), batch + b.shape[-2:])),
                              transpose=adjoint, rightside=not left, lower=not upper)
        return _kind_of(b)(x)

    def solve(self, a, b):
        return _kind_of(b)(mx.np.linalg.solve(_np(a), _np(b)))

    def concat(self, arrays, axis):
        return _kind_of(arrays[0])(mx.np.concatenate([_np(x) for x in arrays], axis=axis))

    def zeros_like(self, a):
        return _kind_of(a)(mx.np.zeros_like(_np(a)))

    def eye_like(self, a, n):
        return _kind_of(a)(mx.np.eye(n, dtype=a.dtype, ctx=a.ctx))

    def real(self, a):
        return a

    def to_host(self, a):
        return a.asnumpy()

    def dtype_name(self, a):
        return np.dtype(a.dtype).name

    def householder_qr(self, a, *, complete):
        q, r = NUMPY.householder_qr(a.asnumpy(), complete=complete)
        return _from_host(q, a), _from_host(r, a)

    def column_pivots(self, a, rank):
        return _from_host(householder_pivots(a.asnumpy(), rank), a)

    def take_columns(self, a, perm):
        # gather_nd with an index per output entry (batch indices, row, perm[..., col]).
        grids = np.indices(a.shape, sparse=True)
        columns = np.broadcast_to(perm.asnumpy()[..., None, :], a.shape)
        index = np.stack(np.broadcast_arrays(*grids[:-1], columns))
        gathered = mx.nd.gather_nd(_nd(a), mx.nd.array(index, dtype="int64", ctx=a.ctx))
        return _kind_of(a)(gathered)

    def apply(self, primitive, inputs, options):
        if mx.autograd.is_recording():
            inputs = _on_tape(inputs)
        return _HostFunction(primitive, options)(*inputs)


BACKEND = MXNetBackend()


def _on_tape(inputs):
    """``inputs + 0``, with the zero a fresh variable that requires a gradient.

    Works around two bugs of MXNet 1.9's ``autograd.Function`` backward: it stops writing input
    gradients at the first input whose gradient is not requested (so a later input's gradient
    silently stays zero), and it ignores ``grad_req="add"``.  Behind this recorded addition every
    input of the Function needs a gradient written, and MXNet's own ``add`` honours ``grad_req``.
    """
    shifted = []
    for x in inputs:
        zero = _kind_of(x)(mx.nd.zeros((1,) * x.ndim, dtype=x.dtype, ctx=x.ctx))
        zero.attach_grad()
        shifted.append(x + zero)
    return shifted


class _HostFunction(mx.autograd.Function):
    """One call of a primitive; MXNet allows each Function instance a single call."""

    def __init__(self, primitive, options):
        super().__init__()
        self.primitive = primitive
        self.options = options

    def forward(self, *inputs):
        host = tuple(x.asnumpy() for x in inputs)
        outputs = self.primitive.forward(NUMPY, *host, **self.options)
        self.host = host, outputs
        self.like = inputs[0]
        return tuple(_from_host(y, inputs[0]) for y in outputs)

    def backward(self, *cotangents):
        inputs, outputs = self.host
        # The auxiliary outputs are not differentiable: their (zero) cotangents are dropped.
        kept = len(cotangents) - self.primitive.auxiliary
        host = tuple(c.asnumpy() for c in cotangents[:kept])
        grads = self.primitive.vjp(NUMPY, inputs, outputs, host, **self.options)
        like = _nd(self.like)  # MXNet wants legacy NDArrays back
        return tuple(
            _from_host(np.zeros_like(x) if g is None else g, like)
            for g, x in zip(grads, inputs, strict=True)
        )
