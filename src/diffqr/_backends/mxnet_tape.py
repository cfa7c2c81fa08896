"""MXNet autodiff hook: a primitive call recorded on MXNet's tape as a custom function (the C API
behind ``mx.autograd.Function``) whose backward runs the primitive's VJP on the host with the
NumPy adapter, plus the host ↔ MXNet copies it needs.

Why the host rather than MXNet kernels for the rules: MXNet does not record a custom function's
backward (a second backward through a gradient taken with ``create_graph=True`` raises MXNetError
"non-differentiable"), so rules run on MXNet arrays would buy no higher derivatives; and on the CPU
both sides call BLAS/LAPACK while each MXNet operation costs tens of microseconds of dispatch: the
backward measured faster on the host at every size tried (``python -m diffqr bench --only mxnet``).
An error in the backward pass, such as ``RankDeficientError``, is printed by MXNet and raised as
``MXNetError`` when the gradient is read: MXNet cannot pass a Python exception out of a custom
function's backward.
"""

from __future__ import annotations

import ctypes
import itertools
import traceback

import mxnet as mx
import numpy as np

from .. import _tuning
from .numpy import BACKEND as NUMPY


def store(out, x: np.ndarray, *, add: bool, like=None):
    """Copy the host array ``x`` into the MXNet array ``out`` (added to it with ``add``), or into a
    new legacy array in ``like``'s context when ``out`` is ``None``; returns the array written.

    ``empty`` plus a synchronous copy is a quarter of the time of ``mx.nd.array``, whose Python
    indexing path dominates for small arrays.  A large transposed view (LQ's factors and
    gradients, computed on the host as QR's) is copied as is and transposed by MXNet, 2-4× faster
    than NumPy's transposing copy.
    """
    if out is None:
        out = mx.nd.empty(x.shape, ctx=like.ctx, dtype=x.dtype)
    large = x.ndim >= 2 and x.size >= _tuning.MXNET_TRANSPOSE_MIN_SIZE
    flipped = np.swapaxes(x, -1, -2) if large else x
    if not x.flags.c_contiguous and flipped.flags.c_contiguous:
        source = mx.nd.empty(flipped.shape, ctx=out.ctx, dtype=x.dtype)
        source._sync_copyfrom(flipped)
        if add:
            out += source.transpose(swap_last_axes(x.ndim))
        else:
            mx.nd.transpose(source, axes=swap_last_axes(x.ndim), out=out)
    elif add:
        source = mx.nd.empty(x.shape, ctx=out.ctx, dtype=x.dtype)
        source._sync_copyfrom(x)
        out += source
    else:
        out._sync_copyfrom(x)
    return out


def swap_last_axes(ndim: int) -> tuple[int, ...]:
    return (*range(ndim - 2), ndim - 1, ndim - 2)


def host_vjp(primitive, options, view, inputs, outputs, cotangents, grads, reqs):
    """The primitive's VJP on the host, written into MXNet's input gradients ``grads``."""
    # The auxiliary outputs are not differentiable: their (zero) cotangents are dropped.
    kept = len(cotangents) - primitive.auxiliary
    host = tuple(view(c.asnumpy()) for c in cotangents[:kept])
    results = primitive.vjp(NUMPY, inputs, outputs, host, **options)
    for grad, result, req in zip(grads, results, reqs, strict=True):
        if req == _NULL or (result is None and req == _ADD):
            continue
        value = np.zeros(grad.shape, grad.dtype) if result is None else view(result)
        store(grad, value, add=req == _ADD)


# MXNet's gradient requests (OpReqType) and the C callback types of mx.autograd.Function.
_NULL, _ADD = 0, 3
_BACKWARD_ENTRY = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                   ctypes.POINTER(ctypes.c_void_p),
                                   ctypes.POINTER(ctypes.c_int), ctypes.c_int, ctypes.c_void_p)
_DELETE_ENTRY = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
_LIVE_RECORDS: dict[int, object] = {}  # the callbacks of each record, until MXNet drops it
_RECORD_KEYS = itertools.count()


def record(inputs, outputs, backward) -> None:
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
