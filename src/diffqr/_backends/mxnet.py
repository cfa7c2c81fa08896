"""MXNet adapter: ``mx.nd.NDArray`` and ``mx.np.ndarray`` in, the same type out.

Each primitive call is recorded on MXNet's tape as a custom function (:mod:`.mxnet_tape`).  Its
forward is MXNet's own ``gelqf`` where that applies (:mod:`.mxnet_gelqf`, a fast path) and diffqr's
NumPy adapter on the host otherwise; its backward runs the primitive's VJP on the host.  LQ is one
call on ``A`` itself (:meth:`MXNetBackend.apply_adjoint`): MXNet's transposes are copies, NumPy's
are free views.

The vocabulary below (for the explicit rules ``diffqr.qr_jvp`` & co. on MXNet arrays) uses MXNet's
own recorded operations (``mx.np``, ``mx.nd.linalg.trsm``, ``mx.nd.gather_nd``), so those rules
and ``take_columns`` are differentiable by ``mx.autograd``.

Limits: no complex dtypes in MXNet; no second derivatives (see :mod:`.mxnet_tape`); no forward
mode in MXNet (use ``diffqr.qr_jvp``/``lq_jvp``, which accept MXNet arrays); values must be
concrete (no symbolic ``hybridize``).
"""

from __future__ import annotations

import functools

import mxnet as mx
import numpy as np

from .. import _tuning
from ._host import householder_pivots
from .base import Backend
from .mxnet_gelqf import MXNetGelqf
from .mxnet_tape import host_vjp, record, store, swap_last_axes
from .numpy import BACKEND as NUMPY


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
    return _kind_of(like)(store(None, x, add=False, like=like))


class MXNetVocabulary(Backend):
    """The MXNet vocabulary and autodiff hook, without fast paths."""

    name = "mxnet"

    def as_nd(self, a):  # for mxnet_gelqf
        return _nd(a)

    def like(self, a, y):
        """``y`` as an array of ``a``'s kind (``mx.np`` or ``mx.nd``)."""
        return _kind_of(a)(y)

    def matmul(self, a, b):
        return _kind_of(a)(mx.np.matmul(_np(a), _np(b)))

    def mH(self, a):
        # transpose, not swapaxes: MXNet's swapaxes kernel is several times slower.
        return a.transpose(swap_last_axes(a.ndim))

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

    def where(self, condition, a, b):
        return _kind_of(a)(mx.np.where(_np(condition), _np(a), _np(b)))

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
        return _call(self, primitive, inputs, options, adjoint=False)

    def apply_adjoint(self, primitive, inputs, options):
        # One call on A itself: LQ's factors come straight from gelqf, without transposed
        # copies of A, Q and their cotangents (MXNet's transposes are copies).
        return _call(self, primitive, inputs, options, adjoint=True)


class MXNetBackend(MXNetGelqf, MXNetVocabulary):
    """The MXNet adapter: the vocabulary with the ``gelqf`` forward."""


BACKEND = MXNetBackend()


def _call(xp, primitive, inputs, options, *, adjoint: bool):
    """Evaluate ``primitive`` (on the transposes of ``inputs`` with ``adjoint``, returning the
    transposes of its outputs) and record it with its VJP (on host copies; with ``adjoint`` on
    transposed views, free in NumPy: real dtypes only, so no conjugate)."""
    view = (lambda x: np.swapaxes(x, -1, -2)) if adjoint else (lambda x: x)
    recording = mx.autograd.is_recording()
    outputs = None
    if _tuning.fast_paths_enabled():
        outputs = xp.native_forward(primitive, inputs, options, adjoint=adjoint)
    if outputs is None:
        host_inputs = tuple(view(x.asnumpy()) for x in inputs)
        host_outputs = primitive.forward(NUMPY, *host_inputs, **options)
        outputs = tuple(_from_host(view(y), inputs[0]) for y in host_outputs)
    elif recording:
        host_inputs = tuple(view(x.asnumpy()) for x in inputs)
        host_outputs = tuple(view(y.asnumpy()) for y in outputs)
    if recording:
        record(inputs, outputs, functools.partial(
            host_vjp, primitive, options, view, host_inputs, host_outputs))
    return outputs
