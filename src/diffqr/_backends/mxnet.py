"""MXNet adapter: ``mx.nd.NDArray`` and ``mx.np.ndarray`` in, the same type out.

Each primitive call is recorded on MXNet's tape as a custom function (the C API behind
``mx.autograd.Function``, see :func:`_record`).  Its forward is MXNet's own ``gelqf`` where that
applies (the reduced QR of a deep or square matrix, the LQ of a wide or square one) and diffqr's
NumPy backend on the host otherwise; its backward runs the primitive's VJP on the host with the
NumPy backend.  Why the host rather than MXNet kernels for the rules:

* MXNet does not record a custom function's backward (a second backward through a gradient taken
  with ``create_graph=True`` raises MXNetError "non-differentiable"), so rules run on MXNet arrays
  would buy no higher derivatives;
* on the CPU both sides call BLAS/LAPACK, and each MXNet operation costs tens of microseconds
  of dispatch: the backward measured faster on the host at every size tried
  (benchmarks/bench_mxnet.py);
* ``mx.nd.linalg`` has no QR besides ``gelqf`` (``m <= n``, no pivoting, no complete mode) and
  ``mx.np.linalg.qr`` is a fallback to official NumPy that raises under ``autograd.record()``.

LQ is one call on ``A`` itself (:meth:`MXNetBackend.apply_adjoint`): MXNet's transposes are
copies, NumPy's are free views.

The vocabulary below (for the explicit rules ``diffqr.qr_jvp`` & co. on MXNet arrays) uses MXNet's
own recorded operations (``mx.np``, ``mx.nd.linalg.trsm``, ``mx.nd.gather_nd``), so those rules
and ``take_columns`` are differentiable by ``mx.autograd``.

Limits: no complex dtypes in MXNet; no second derivatives (see above); no forward mode in MXNet
(use ``diffqr.qr_jvp``/``lq_jvp``, which accept MXNet arrays); values must be concrete (no
symbolic ``hybridize``).  An error in the backward pass, such as ``RankDeficientError``, is
printed by MXNet and raised as ``MXNetError`` when the gradient is read: MXNet cannot pass a
Python exception out of a custom function's backward.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import traceback

import mxnet as mx
import numpy as np

from .._primitives import QR
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
    return _kind_of(like)(_store(None, x, add=False, like=like))


def _store(out, x: np.ndarray, *, add: bool, like=None):
    """Copy the host array ``x`` into the MXNet array ``out`` (added to it with ``add``), or into a
    new legacy array in ``like``'s context when ``out`` is ``None``; returns the array written.

    ``empty`` plus a synchronous copy is a quarter of the time of ``mx.nd.array``, whose Python
    indexing path dominates for small arrays.  A large transposed view (LQ's factors and
    gradients, computed on the host as QR's) is copied as is and transposed by MXNet, 2-4× faster
    than NumPy's transposing copy.
    """
    if out is None:
        out = mx.nd.empty(x.shape, ctx=like.ctx, dtype=x.dtype)
    large = x.ndim >= 2 and x.size >= _MX_TRANSPOSE_MIN_SIZE
    flipped = np.swapaxes(x, -1, -2) if large else x
    if not x.flags.c_contiguous and flipped.flags.c_contiguous:
        source = mx.nd.empty(flipped.shape, ctx=out.ctx, dtype=x.dtype)
        source._sync_copyfrom(flipped)
        if add:
            out += source.transpose(_swap_last_axes(x.ndim))
        else:
            mx.nd.transpose(source, axes=_swap_last_axes(x.ndim), out=out)
    elif add:
        source = mx.nd.empty(x.shape, ctx=out.ctx, dtype=x.dtype)
        source._sync_copyfrom(x)
        out += source
    else:
        out._sync_copyfrom(x)
    return out


# From about 128 × 512 entries MXNet's transpose beats NumPy's transposing copy.
_MX_TRANSPOSE_MIN_SIZE = 1 << 16


def _swap_last_axes(ndim: int) -> tuple[int, ...]:
    return (*range(ndim - 2), ndim - 1, ndim - 2)


class MXNetBackend(Backend):
    name = "mxnet"

    def matmul(self, a, b):
        return _kind_of(a)(mx.np.matmul(_np(a), _np(b)))

    def mH(self, a):
        # transpose, not swapaxes: MXNet's swapaxes kernel is several times slower.
        return a.transpose(_swap_last_axes(a.ndim))

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
        return _call(primitive, inputs, options, adjoint=False)

    def apply_adjoint(self, primitive, inputs, options):
        # One call on A itself: LQ's factors come straight from gelqf, without transposed
        # copies of A, Q and their cotangents (MXNet's transposes are copies).
        return _call(primitive, inputs, options, adjoint=True)


BACKEND = MXNetBackend()


def _transposed(x: np.ndarray) -> np.ndarray:
    return np.swapaxes(x, -1, -2)  # a view; real dtypes only, so no conjugate


def _same(x: np.ndarray) -> np.ndarray:
    return x


def _call(primitive, inputs, options, *, adjoint: bool):
    """Evaluate ``primitive`` (on the transposes of ``inputs`` with ``adjoint``, returning the
    transposes of its outputs) and record it with its VJP for ``mx.autograd``.

    The VJP runs on the host with diffqr's NumPy backend, on the host copies made here; with
    ``adjoint`` the host sees transposed views, free in NumPy.
    """
    view = _transposed if adjoint else _same
    recording = mx.autograd.is_recording()
    outputs = _gelqf_forward(primitive, inputs, options, adjoint=adjoint)
    if outputs is None:
        host_inputs = tuple(view(x.asnumpy()) for x in inputs)
        host_outputs = primitive.forward(NUMPY, *host_inputs, **options)
        outputs = tuple(_from_host(view(y), inputs[0]) for y in host_outputs)
    elif recording:
        host_inputs = tuple(view(x.asnumpy()) for x in inputs)
        host_outputs = tuple(view(y.asnumpy()) for y in outputs)
    if recording:
        _record(inputs, outputs, functools.partial(
            _host_vjp, primitive, options, view, host_inputs, host_outputs))
    return outputs


def _gelqf_forward(primitive, inputs, options, *, adjoint: bool):
    """QR's forward by MXNet's own ``gelqf`` where it applies, else ``None`` (the host).

    ``gelqf`` is the LQ of a wide or square matrix, the transposed QR of a deep or square one:
    the same LAPACK Householder reflections, so the same gauge as NumPy's ``qr``; it runs float32
    in float32 (NumPy 1.23's ``qr`` runs it in float64) and is the faster kernel for all but tiny
    matrices.  Reduced mode only, not inside CholeskyQR, and for a deep ``A`` (transposes
    around ``gelqf``) only from ``_GELQF_TRANSPOSED_MIN_SIZE`` entries.
    """
    if primitive is not QR or options["mode"] != "reduced" or options["method"] != "householder":
        return None
    (a,) = inputs
    m, n = a.shape[-2:] if adjoint else a.shape[:-3:-1]  # of the matrix gelqf factors
    if not 0 < m <= n or 0 in a.shape or (not adjoint and m * n < _GELQF_TRANSPOSED_MIN_SIZE):
        return None
    k = options["rank"]
    with mx.autograd.pause():
        q, l_factor = mx.nd.linalg.gelqf(_nd(a if adjoint else BACKEND.mH(a)))
        if k < m:
            q, l_factor = q[..., :k, :], l_factor[..., :k]
        outputs = (q, l_factor) if adjoint else (BACKEND.mH(q), BACKEND.mH(l_factor))
    return tuple(_kind_of(a)(y) for y in outputs)


# The QR of a deep A takes gelqf only from this size: below it NumPy's QR beats gelqf plus the
# three transposes around it (measured: 64 × 32 host 15% faster, 256 × 128 gelqf as fast or faster).
_GELQF_TRANSPOSED_MIN_SIZE = 128 * 64


def _host_vjp(primitive, options, view, inputs, outputs, cotangents, grads, reqs):
    """The primitive's VJP on the host, written into MXNet's input gradients ``grads``."""
    # The auxiliary outputs are not differentiable: their (zero) cotangents are dropped.
    kept = len(cotangents) - primitive.auxiliary
    host = tuple(view(c.asnumpy()) for c in cotangents[:kept])
    results = primitive.vjp(NUMPY, inputs, outputs, host, **options)
    for grad, result, req in zip(grads, results, reqs, strict=True):
        if req == _NULL or (result is None and req == _ADD):
            continue
        value = np.zeros(grad.shape, grad.dtype) if result is None else view(result)
        _store(grad, value, add=req == _ADD)


# MXNet's gradient requests (OpReqType) and the C callback types of mx.autograd.Function.
_NULL, _ADD = 0, 3
_BACKWARD_ENTRY = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                   ctypes.POINTER(ctypes.c_void_p),
                                   ctypes.POINTER(ctypes.c_int), ctypes.c_int, ctypes.c_void_p)
_DELETE_ENTRY = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
_LIVE_RECORDS: dict[int, object] = {}  # the callbacks of each record, until MXNet drops it
_RECORD_KEYS = itertools.count()


def _record(inputs, outputs, backward) -> None:
    """Put ``outputs = f(inputs)`` on MXNet's tape; its backward calls
    ``backward(cotangents, input_grads, reqs)``.

    What ``mx.autograd.Function.__call__`` does, through the same C API, with the two bugs of
    MXNet 1.9's backward entry fixed: it stops writing input gradients at the first input whose
    gradient is not requested, and it ignores ``grad_req="add"`` (it compares the request code
    with a string).  No Function object and no temporary gradient arrays either.
    """
    key = next(_RECORD_KEYS)

    def backward_entry(num_ograds, num_igrads, ptrs, reqs, is_train, _):
        try:
            arrays = [mx.nd.NDArray(ctypes.cast(ptrs[i], mx.base.NDArrayHandle),
                                    writable=i >= num_ograds)
                      for i in range(num_ograds + num_igrads)]
            backward(arrays[:num_ograds], arrays[num_ograds:],
                     [reqs[i] for i in range(num_igrads)])
        except Exception:  # MXNet cannot take it: print it and fail the gradient
            print(f"Error in diffqr's MXNet backward: {traceback.format_exc()}")
            return False
        return True

    def delete_entry(_):
        _LIVE_RECORDS.pop(key, None)
        return True

    callbacks = [ctypes.cast(_BACKWARD_ENTRY(backward_entry), ctypes.CFUNCTYPE(ctypes.c_int)),
                 ctypes.cast(_DELETE_ENTRY(delete_entry), ctypes.CFUNCTYPE(ctypes.c_int))]
    context = mx.base.MXCallbackList(
        ctypes.c_int(len(callbacks)),
        ctypes.cast(mx.base.c_array(ctypes.CFUNCTYPE(ctypes.c_int), callbacks),
                    ctypes.POINTER(ctypes.CFUNCTYPE(ctypes.c_int))),
        ctypes.cast(mx.base.c_array(ctypes.c_void_p, [None] * len(callbacks)),
                    ctypes.POINTER(ctypes.c_void_p)))
    _LIVE_RECORDS[key] = context
    mx.base.check_call(mx.base._LIB.MXCustomFunctionRecord(
        ctypes.c_int(len(inputs)), mx.base.c_handle_array(inputs),
        ctypes.c_int(len(outputs)), mx.base.c_handle_array(outputs), ctypes.byref(context)))
