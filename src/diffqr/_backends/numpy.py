"""NumPy adapter: LAPACK through numpy/scipy; no autodiff, so the rules are called explicitly."""

from __future__ import annotations

import numpy as np
import scipy.linalg

from .base import Array, Backend


def _solve_triangular_2d_or_batched(r: np.ndarray, b: np.ndarray, **kwargs) -> np.ndarray:
    """``scipy.linalg.solve_triangular`` over leading batch axes (old SciPy does not batch)."""
    if r.ndim == 2 and b.ndim == 2:
        return scipy.linalg.solve_triangular(r, b, **kwargs)
    shape = np.broadcast_shapes(r.shape[:-2], b.shape[:-2])
    r = np.broadcast_to(r, shape + r.shape[-2:])
    b = np.broadcast_to(b, shape + b.shape[-2:])
    if r.shape[-1] <= _BATCHED_LU_MAX_SIZE:
        return _solve_triangular_by_lu(r, b, lower=kwargs["lower"], trans=kwargs["trans"])
    out = np.empty(shape + b.shape[-2:], dtype=np.result_type(r, b))
    for index in np.ndindex(*shape):
        out[index] = scipy.linalg.solve_triangular(r[index], b[index], **kwargs)
    return out


# Up to this order a batch of triangular systems goes to NumPy's batched solve in one call: the
# per-matrix SciPy calls cost ~10 µs each (10000 × 3 × 3: 20× slower), while the LU of a k × k
# triangle costs 2k³/3 flops more than the solve.
_BATCHED_LU_MAX_SIZE = 16


def _solve_triangular_by_lu(r: np.ndarray, b: np.ndarray, *, lower: bool, trans: str
                            ) -> np.ndarray:
    """``op(r) x = b`` by ``np.linalg.solve`` (batched LU), as accurate as the triangular solve.

    The system matrix is made upper triangular (reversing the order of the rows and columns of a
    lower one), so partial pivoting swaps no rows, the LU is ``I · op(r)`` exactly, and ``getrs``
    is a triangular substitution like ``trtrs`` (equal to rounding: other BLAS kernels).
    """
    s = r if trans == "N" else np.swapaxes(r, -1, -2)
    if trans == "C":
        s = np.conj(s)
    if lower == (trans == "N"):  # op(r) is lower triangular
        flip = np.s_[..., ::-1, :]
        x = np.linalg.solve(s[..., ::-1, ::-1], b[flip])
        return x[flip]
    return np.linalg.solve(s, b)


def householder_pivots(a: np.ndarray, rank: int | None = None) -> np.ndarray:
    """Column pivots of LAPACK's ``geqp3`` for each matrix of a batch, as int64 ``(..., n)``.

    With ``rank``, the pivots after the first ``rank`` are sorted: for a matrix of rank ``rank``
    LAPACK orders them by rounding noise, and sorting keeps ``P`` locally constant in ``A``.
    """
    n = a.shape[-1]
    # An explicit batch size: reshape cannot infer -1 when a dimension is 0.
    flat = a.reshape((int(np.prod(a.shape[:-2])), *a.shape[-2:]))
    perms = np.empty((flat.shape[0], n), dtype=np.int64)
    for i, matrix in enumerate(flat):
        if matrix.size:
            perms[i] = scipy.linalg.qr(matrix, mode="r", pivoting=True, check_finite=False)[1]
        else:
            perms[i] = np.arange(n)
    if rank is not None:
        perms[:, rank:] = np.sort(perms[:, rank:], axis=-1)
    return perms.reshape((*a.shape[:-2], n))


def take_columns(a: Array, perm: Array, take_along_axis) -> Array:
    """``a[..., :, perm]`` for a batch of permutations, via the framework's take-along-axis."""
    index = perm[..., None, :]
    return take_along_axis(a, index, -1)


class NumpyBackend(Backend):
    name = "numpy"
    cholesky_qr_is_faster = True  # OpenBLAS: 2.5× faster than geqrf+orgqr on 20000 × 100

    def addmm(self, c, a, b, *, alpha=1.0):
        out = a @ b
        if alpha != 1.0:
            out *= alpha
        fits = out.shape == np.broadcast_shapes(out.shape, c.shape)
        if not fits or np.result_type(out, c) != out.dtype:
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
            return _solve_triangular_2d_or_batched(
                r, b, lower=not upper, trans="C" if adjoint else "N", check_finite=False
            )
        # x op(r) = b  <=>  op(r)ᴴ xᴴ = bᴴ
        return self.mH(
            _solve_triangular_2d_or_batched(
                r, self.mH(b), lower=not upper, trans="N" if adjoint else "C", check_finite=False
            )
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

    def to_host(self, a):
        return np.asarray(a)

    def dtype_name(self, a):
        return np.dtype(a.dtype).name

    def householder_qr(self, a, *, complete):
        return np.linalg.qr(a, mode="complete" if complete else "reduced")

    def qr_r(self, a):
        return np.linalg.qr(a, mode="r")

    def column_pivots(self, a, rank):
        return householder_pivots(a, rank)

    def take_columns(self, a, perm):
        return take_columns(a, np.broadcast_to(perm, (*a.shape[:-2], a.shape[-1])),
                            np.take_along_axis)

    def apply(self, primitive, inputs, options):
        # No autodiff in NumPy: the rules are called explicitly (diffqr.qr_vjp, ...).
        return primitive.forward(self, *inputs, **options)


BACKEND = NumpyBackend()
