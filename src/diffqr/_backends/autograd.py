"""HIPS autograd adapter: NumPy arrays traced by ``autograd.grad`` / ``jacobian`` / ``make_jvp``.

Each primitive becomes an ``autograd.extend.primitive`` whose forward runs on the raw arrays
(LAPACK) and whose VJP and JVP run the shared rules over the vocabulary below, written in
``autograd.numpy`` so that autograd traces the rules again (higher order); the triangular solve
is a primitive of its own (:mod:`.autograd_solve`).  autograd's cotangent of a complex ``X`` is
``∂ℓ/∂Re X − i ∂ℓ/∂Im X``, the conjugate of diffqr's convention: cotangents are conjugated on
the way in and out."""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
from autograd.extend import defjvp_argnums, defvjp_argnums, primitive
from autograd.tracer import Box, getval

from . import _host, base
from .autograd_solve import conj_cotangent as _conj
from .autograd_solve import solve_left as _solve_left


def is_traced(x) -> bool:
    """True for an autograd tracer (an ``ArrayBox``) of any nesting depth."""
    return isinstance(x, Box)


class AutogradBackend(base.Backend):
    name = "autograd"
    numpy_operands = base.ANY_ARGUMENT  # constants beside the traced arrays, kept as NumPy

    def matmul(self, a, b):
        return anp.matmul(a, b)

    def mH(self, a):
        return anp.conj(anp.swapaxes(a, -1, -2))

    def tril(self, a, k=0):
        return anp.tril(a, k)

    def triu(self, a, k=0):
        return anp.triu(a, k)

    def solve_triangular(self, r, b, *, upper, left=True, adjoint=False):
        if left:
            return _solve_left(r, b, upper=upper, adjoint=adjoint)
        # x op(r) = b  <=>  op(r)ᴴ xᴴ = bᴴ
        return self.mH(_solve_left(r, self.mH(b), upper=upper, adjoint=not adjoint))

    def cholesky(self, a):
        try:  # not differentiated (CholeskyQR checks and factors the values)
            return self.mH(np.linalg.cholesky(getval(a)))
        except np.linalg.LinAlgError:
            return np.full_like(getval(a), np.nan)

    def solve(self, a, b):
        return anp.linalg.solve(a, b)

    def concat(self, arrays, axis):
        return anp.concatenate(arrays, axis=axis)

    def sum(self, a, axis):
        return anp.sum(a, axis=axis)

    def zeros_like(self, a):
        return np.zeros(self.shape(a), dtype=_dtype(a))

    def eye_like(self, a, n):
        return np.eye(n, dtype=_dtype(a))

    def real(self, a):
        return anp.real(a)

    def where(self, condition, a, b):
        return anp.where(condition, a, b)

    def shape(self, a):
        return np.shape(getval(a))

    def to_host(self, a):
        return np.asarray(getval(a))

    def dtype_name(self, a):
        return _dtype(a).name

    def householder_qr(self, a, *, complete):
        return np.linalg.qr(getval(a), mode="complete" if complete else "reduced")

    def qr_r(self, a):
        return np.linalg.qr(getval(a), mode="r")

    def column_pivots(self, a, rank):
        return _host.householder_pivots(np.asarray(getval(a)), rank)

    def take_columns(self, a, perm):
        # A[..., :, P] by advanced indexing with broadcast index arrays (autograd differentiates
        # indexing; it has no take_along_axis).
        *batch, m, n = self.shape(a)
        perm = np.broadcast_to(np.asarray(perm), (*batch, n))
        grids = np.indices(tuple(batch), sparse=True) if batch else ()
        index = (*(g[..., None, None] for g in grids), np.arange(m)[:, None], perm[..., None, :])
        return a[index]

    def apply(self, primitive_, inputs, options):
        return _FUNCTIONS[primitive_.name](*inputs, **options)


def _dtype(a) -> np.dtype:
    return np.result_type(getval(a))


BACKEND = AutogradBackend()


def _wrap(prim):
    """``prim`` as an autograd primitive with its VJP and JVP rules."""

    @primitive
    def function(*inputs, **options):
        return tuple(BACKEND.forward(prim, inputs, options))  # raw arrays: LAPACK, no tracing

    function.__name__ = f"diffqr_{prim.name}"
    differentiable = lambda outputs: len(getval(outputs)) - prim.auxiliary  # noqa: E731

    def vjp_maker(argnums, outputs, inputs, options):
        count = differentiable(outputs)
        primal = tuple(outputs[i] for i in range(len(getval(outputs))))

        def vjp(g):
            cotangents = tuple(_conj(g[i]) for i in range(count))
            grads = prim.vjp(BACKEND, tuple(inputs), primal, cotangents, **options)
            return tuple(BACKEND.zeros_like(inputs[i]) if grads[i] is None
                         else _conj(grads[i]) for i in argnums)

        return vjp

    def jvp_maker(argnums, tangents_in, outputs, inputs, options):
        tangents = [None] * len(inputs)
        for i, t in zip(argnums, tangents_in, strict=True):
            tangents[i] = t
        primal = tuple(outputs[i] for i in range(len(getval(outputs))))
        out = prim.jvp(BACKEND, tuple(inputs), primal, tuple(tangents), **options)
        return (*out, *(BACKEND.zeros_like(y) for y in primal[len(out):]))

    defvjp_argnums(function, vjp_maker)
    defjvp_argnums(function, jvp_maker)
    return function


_FUNCTIONS = {p.name: _wrap(p) for p in base.PRIMITIVES}
