"""NumPy adapter: LAPACK through numpy/scipy; no autodiff, so the rules are called explicitly."""

from __future__ import annotations

import numpy as np

from .. import _tuning
from . import _host
from .base import Backend


class NumpyBackend(Backend):
    name = "numpy"

    def addmm(self, c, a, b, *, alpha=1.0):
        out = a @ b
        if alpha != 1.0:
            out *= alpha
        fits = out.shape == np.broadcast_shapes(out.shape, c.shape)
        if not fits or np.result_type(out, c) != out.dtype or not _tuning.fast_paths_enabled():
            return c + out
        out += c  # in place into the fresh product: no autodiff here, nothing else refers to it
        return out

    def mH(self, a):
        t = np.swapaxes(a, -1, -2)
        return np.conj(t) if np.iscomplexobj(t) else t

    def tril(self, a, k=0):
        return np.tril(a, k)

    def triu(self, a, k=0):
        return np.triu(a, k)

    def solve_triangular(self, r, b, *, upper, left=True, adjoint=False):
        if left:
            return _host.solve_triangular(r, b, lower=not upper, trans="C" if adjoint else "N")
        # x op(r) = b  <=>  op(r)ᴴ xᴴ = bᴴ
        return self.mH(
            _host.solve_triangular(r, self.mH(b), lower=not upper, trans="N" if adjoint else "C")
        )

    def cholesky(self, a):
        try:
            return self.mH(np.linalg.cholesky(a))
        except np.linalg.LinAlgError:
            return np.full_like(a, np.nan)

    def solve(self, a, b):
        return np.linalg.solve(a, b)

    def concat(self, arrays, axis):
        return np.concatenate(arrays, axis=axis)

    def zeros_like(self, a):
        return np.zeros_like(a)

    def eye_like(self, a, n):
        return np.eye(n, dtype=a.dtype)

    def real(self, a):
        return np.real(a)

    def where(self, condition, a, b):
        return np.where(condition, a, b)

    def to_host(self, a):
        return np.asarray(a)

    def dtype_name(self, a):
        return np.dtype(a.dtype).name

    def householder_qr(self, a, *, complete):
        return np.linalg.qr(a, mode="complete" if complete else "reduced")

    def qr_r(self, a):
        return np.linalg.qr(a, mode="r")

    def column_pivots(self, a, rank):
        return _host.householder_pivots(a, rank)

    def take_columns(self, a, perm):
        return _host.take_columns(a, np.broadcast_to(perm, (*a.shape[:-2], a.shape[-1])),
                            np.take_along_axis)

    def apply(self, primitive, inputs, options):
        # No autodiff in NumPy: the rules are called explicitly (diffqr.qr_vjp, ...).
        return self.forward(primitive, inputs, options)


BACKEND = NumpyBackend()
