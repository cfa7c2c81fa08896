"""The rows of ``python -m diffqr check``: each capability with its test data and explicit rules.

``call`` runs diffqr on any framework's arrays (dispatch does the rest) and returns the
differentiable outputs.  ``explicit_vjp``/``explicit_jvp`` are the public rules, used for
frameworks without autodiff.  ``native`` names the framework op to compare with.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import diffqr

from .._dispatch import backend_for
from .._verify import random_matrix

Arrays = Sequence[Any]


@dataclass(frozen=True)
class Capability:
    name: str
    shapes: tuple[tuple[int, ...], ...]
    call: Callable[..., list[Any]]
    explicit_vjp: Callable[[Arrays, Arrays, Arrays], list[Any]]
    explicit_jvp: Callable[[Arrays, Arrays, Arrays], list[Any]]
    native: str | None
    dtype: str = "float64"
    make_inputs: Callable[[np.random.Generator, Capability], list[np.ndarray]] | None = field(
        default=None, repr=False
    )

    def inputs(self, rng: np.random.Generator) -> list[np.ndarray]:
        if self.make_inputs is not None:
            return self.make_inputs(rng, self)
        return [random_matrix(rng, shape, self.dtype) for shape in self.shapes]


# The explicit rules run on the harness's arrays (NumPy, Dask): permute through diffqr's adapter.


def _take_columns(a: Any, perm: Any) -> Any:
    """``a[..., :, perm]`` for any framework's arrays."""
    return backend_for(a=a).take_columns(a, perm)


def _take_rows(a: Any, perm: Any) -> Any:
    xp = backend_for(a=a)
    return xp.mH(xp.take_columns(xp.mH(a), perm))


def _inverse(perm: Any) -> Any:
    """The inverse permutation, on the host (pivots are small and held constant); for an Array
    API namespace in its own namespace, on its device (which may refuse the host)."""
    if backend_for(p=perm).name.startswith("array_api"):
        return perm.__array_namespace__().argsort(perm, axis=-1)
    return np.argsort(np.asarray(perm), axis=-1)


# ---------------------------------------------------------------------- QR


def _qr_case(name: str, shape: tuple[int, ...], dtype: str = "float64", mode: str = "reduced",
             rank: int | None = None, pivoting: bool = False, make_inputs=None) -> Capability:
    def call(a):
        out = diffqr.qr(a, mode=mode, rank=rank, pivoting=pivoting)
        if mode == "r":
            return [out[0] if pivoting else out]
        return [out[0], out[1]]

    factor_mode = "reduced" if mode == "r" else mode

    def factors(a):
        """Q, R and the column permutation (None without pivoting)."""
        if pivoting:
            return diffqr.qr(a, pivoting=True, rank=rank, mode=factor_mode)
        return (*diffqr.qr(a, rank=rank, mode=factor_mode), None)

    def vjp(inputs, _outputs, cotangents):
        a = inputs[0]
        q, r, p = factors(a)
        q_bar, r_bar = (None, cotangents[0]) if mode == "r" else cotangents
        gram = mode == "r" and rank is None
        if p is None:
            return [diffqr.qr_vjp(a, q, r, q_bar, r_bar, gram=gram)]
        b_bar = diffqr.qr_vjp(_take_columns(a, p), q, r, q_bar, r_bar, gram=gram)
        return [_take_columns(b_bar, _inverse(p))]

    def jvp(inputs, _outputs, tangents):
        a, da = inputs[0], tangents[0]
        q, r, p = factors(a)
        if p is not None:
            a, da = _take_columns(a, p), _take_columns(da, p)
        dq, dr = diffqr.qr_jvp(a, q, r, da, gram=mode == "r" and rank is None)
        return [dr] if mode == "r" else [dq, dr]

    native = None if rank is not None else ("qr_pivoted" if pivoting else f"qr_{mode}")
    return Capability(name, (shape,), call, vjp, jvp, native, dtype, make_inputs)


def _rank_deficient(rng: np.random.Generator, cap: Capability) -> list[np.ndarray]:
    """Rank 3 with the two leading columns dependent: only a pivoted, truncated QR is defined."""
    m, n = cap.shapes[0][-2:]
    left = random_matrix(rng, (m, 3), cap.dtype)
    right = random_matrix(rng, (3, n), cap.dtype)
    a = left @ right
    a[:, 1] = 2 * a[:, 0]
    return [a]


# ---------------------------------------------------------------------- R alone, tria: Gram
# At rank deficiency R has no derivative; its rule is Gram-consistent, so the checked output is
# the Gram matrix through R (Rᴴ R = Aᴴ A) or L (L Lᴴ = A Aᴴ), smooth in A everywhere.


def _gram_case(name: str, shape: tuple[int, ...], make_inputs, dtype: str = "float64",
               tria: bool = False) -> Capability:
    def gram(xp, r):  # Rᴴ R; for tria the same on Lᴴ = R of Aᴴ
        return xp.matmul(xp.mH(r), r)

    def call(a):
        xp = backend_for(a=a)
        if tria:
            return [gram(xp, xp.mH(diffqr.tria(a, check_finite=False)))]
        return [gram(xp, diffqr.qr(a, mode="r", check_finite=False))]

    def factors(a):
        xp = backend_for(a=a)
        a = xp.mH(a) if tria else a
        return (xp, a, *diffqr.qr(a))

    def vjp(inputs, _outputs, cotangents):
        xp, a, q, r = factors(inputs[0])
        g_bar = cotangents[0]
        a_bar = diffqr.qr_vjp(a, q, r, None, xp.matmul(r, g_bar + xp.mH(g_bar)), gram=True)
        return [xp.mH(a_bar) if tria else a_bar]

    def jvp(inputs, _outputs, tangents):
        xp, a, q, r = factors(inputs[0])
        da = xp.mH(tangents[0]) if tria else tangents[0]
        _, dr = diffqr.qr_jvp(a, q, r, da, gram=True)
        return [xp.matmul(xp.mH(dr), r) + xp.matmul(xp.mH(r), dr)]

    return Capability(name, (shape,), call, vjp, jvp, None, dtype, make_inputs)


def _low_rank(rank: int):
    """Rank ``rank`` with a zero first column (a zero pivot before nonzero ones); 0: A = 0."""

    def make(rng: np.random.Generator, cap: Capability) -> list[np.ndarray]:
        shape = cap.shapes[0]
        left = random_matrix(rng, (*shape[:-1], rank), cap.dtype)
        a = left @ random_matrix(rng, (*shape[:-2], rank, shape[-1]), cap.dtype)
        a[..., :, 0] = 0
        return [a]

    return make


# ---------------------------------------------------------------------- LQ


def _lq_case(name: str, shape: tuple[int, ...], dtype: str = "float64", mode: str = "reduced",
             pivoting: bool = False) -> Capability:
    def call(a):
        out = diffqr.lq(a, mode=mode, pivoting=pivoting)
        return [out[0], out[1]]

    def factors(a):
        if pivoting:
            lf, q, p = diffqr.lq(a, pivoting=True, mode=mode)
            return _take_rows(a, p), lf, q, p
        lf, q = diffqr.lq(a, mode=mode)
        return a, lf, q, None

    def vjp(inputs, _outputs, cotangents):
        b, lf, q, p = factors(inputs[0])
        b_bar = diffqr.lq_vjp(b, lf, q, *cotangents)
        return [b_bar if p is None else _take_rows(b_bar, _inverse(p))]

    def jvp(inputs, _outputs, tangents):
        b, lf, q, p = factors(inputs[0])
        da = tangents[0] if p is None else _take_rows(tangents[0], p)
        return list(diffqr.lq_jvp(b, lf, q, da))

    native = "lq_pivoted" if pivoting else ("lq" if mode == "reduced" else f"lq_{mode}")
    return Capability(name, (shape,), call, vjp, jvp, native, dtype)


# ---------------------------------------------------------------------- least squares


def _lstsq_case(name: str, shape: tuple[int, ...], rhs: tuple[int, ...], dtype: str = "float64",
                ridge: bool = False) -> Capability:
    """``lstsq(A, B)``, or ``lstsq(A, B, ridge=λ)`` with ``λ`` a third, differentiable input."""

    def call(a, b, lam=0.0):
        return [diffqr.lstsq(a, b, ridge=lam)]

    def vjp(inputs, outputs, cotangents):
        a, b, *lam = inputs
        grads = diffqr.lstsq_vjp(a, b, outputs[0], cotangents[0], ridge=lam[0] if lam else 0.0,
                                 return_ridge_bar=ridge)
        return list(grads)

    def jvp(inputs, outputs, tangents):
        (a, b, *lam), (da, db, *dlam) = inputs, tangents
        return [diffqr.lstsq_jvp(a, b, outputs[0], da, db, ridge=lam[0] if lam else 0.0,
                                 d_ridge=dlam[0] if dlam else None)]

    def make_inputs(rng, cap):
        a, b = (random_matrix(rng, s, cap.dtype) for s in cap.shapes[:2])
        return [a, b, np.array(0.5 + rng.random())] if ridge else [a, b]

    shapes = (shape, rhs, ()) if ridge else (shape, rhs)
    return Capability(name, shapes, call, vjp, jvp, None if ridge else "lstsq", dtype,
                      make_inputs)


CAPABILITIES: list[Capability] = [
    _qr_case("QR square 5×5", (5, 5)),
    _qr_case("QR deep 7×4", (7, 4)),
    _qr_case("QR wide 4×7", (4, 7)),
    _qr_case("QR deep complex", (7, 4), "complex128"),
    _qr_case("QR wide complex", (4, 7), "complex128"),
    _qr_case("QR batched 3×6×4", (3, 6, 4)),
    _qr_case("QR deep complete", (7, 4), mode="complete"),
    _qr_case("QR deep complete complex", (7, 4), "complex128", mode="complete"),
    _qr_case("QR mode='r' deep", (7, 4), mode="r"),
    _gram_case("QR mode='r' rank 2 of 7×4 (Gram)", (7, 4), _low_rank(2)),
    _gram_case("QR mode='r' of A = 0, wide complex (Gram)", (3, 5), _low_rank(0), "complex128"),
    _gram_case("tria (L Lᴴ = A Aᴴ) 4×6", (4, 6), None, tria=True),
    _gram_case("tria rank 2 of 5×3, batched (Gram)", (2, 5, 3), _low_rank(2), tria=True),
    _qr_case("QR truncated rank 3 of 7×6", (7, 6), rank=3),
    _qr_case("pivoted QR deep", (7, 4), pivoting=True),
    _qr_case("pivoted QR wide", (4, 7), pivoting=True),
    _qr_case("pivoted QR wide complex", (4, 7), "complex128", pivoting=True),
    _qr_case("pivoted QR batched", (3, 4, 6), pivoting=True),
    _qr_case("pivoted QR rank 3, rank-deficient", (7, 6), rank=3, pivoting=True,
             make_inputs=_rank_deficient),
    _lq_case("LQ wide 4×7", (4, 7)),
    _lq_case("LQ deep 7×4", (7, 4)),
    _lq_case("LQ deep complex", (7, 4), "complex128"),
    _lq_case("LQ wide complete", (4, 7), mode="complete"),
    _lq_case("pivoted LQ deep", (7, 4), pivoting=True),
    _lstsq_case("lstsq deep 7×4, 3 rhs", (7, 4), (7, 3)),
    _lstsq_case("lstsq wide 4×7 (min-norm)", (4, 7), (4, 3)),
    _lstsq_case("lstsq deep complex", (7, 4), (7, 3), "complex128"),
    _lstsq_case("lstsq wide complex", (4, 7), (4, 3), "complex128"),
    _lstsq_case("lstsq vector rhs", (7, 4), (7,)),
    _lstsq_case("lstsq batched 3×6×4", (3, 6, 4), (3, 6, 2)),
    _lstsq_case("lstsq ridge λ (input), deep", (7, 4), (7, 3), ridge=True),
    _lstsq_case("lstsq ridge λ (input), wide", (4, 7), (4, 3), ridge=True),
]
