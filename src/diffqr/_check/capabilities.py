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


# ---------------------------------------------------------------------- QR


def _qr_case(name: str, shape: tuple[int, ...], dtype: str = "float64", mode: str = "reduced",
             rank: int | None = None, pivoting: bool = False, make_inputs=None) -> Capability:
    def call(a):
        out = diffqr.qr(a, mode=mode, rank=rank, pivoting=pivoting)
        if mode == "r":
            return [out[0] if pivoting else out]
        return [out[0], out[1]]

    def factors(a):
        """Factors and the matrix they factor (``A[..., P]`` when pivoting)."""
        if pivoting:
            factor_mode = "reduced" if mode == "r" else mode
            q, r, p = diffqr.qr(a, pivoting=True, rank=rank, mode=factor_mode)
            return np.take_along_axis(a, p[..., None, :], -1), q, r
        q, r = diffqr.qr(a, rank=rank, mode="reduced" if mode == "r" else mode)
        return a, q, r

    def scatter(a_perm_bar, a):
        if not pivoting:
            return a_perm_bar
        p = diffqr.qr(a, pivoting=True, rank=rank, mode="r")[1]
        out = np.empty_like(a_perm_bar)
        np.put_along_axis(out, p[..., None, :], a_perm_bar, -1)
        return out

    def vjp(inputs, _outputs, cotangents):
        a = inputs[0]
        b, q, r = factors(a)
        q_bar, r_bar = (None, cotangents[0]) if mode == "r" else cotangents
        return [scatter(diffqr.qr_vjp(b, q, r, q_bar, r_bar), a)]

    def jvp(inputs, _outputs, tangents):
        a, da = inputs[0], tangents[0]
        b, q, r = factors(a)
        if pivoting:
            p = diffqr.qr(a, pivoting=True, rank=rank, mode="r")[1]
            da = np.take_along_axis(da, p[..., None, :], -1)
        dq, dr = diffqr.qr_jvp(b, q, r, da)
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


# ---------------------------------------------------------------------- LQ


def _lq_case(name: str, shape: tuple[int, ...], dtype: str = "float64", mode: str = "reduced",
             pivoting: bool = False) -> Capability:
    def call(a):
        out = diffqr.lq(a, mode=mode, pivoting=pivoting)
        return [out[0], out[1]]

    def factors(a):
        if pivoting:
            lf, q, p = diffqr.lq(a, pivoting=True, mode=mode)
            return np.take_along_axis(a, p[..., :, None], -2), lf, q, p
        lf, q = diffqr.lq(a, mode=mode)
        return a, lf, q, None

    def vjp(inputs, _outputs, cotangents):
        b, lf, q, p = factors(inputs[0])
        b_bar = diffqr.lq_vjp(b, lf, q, *cotangents)
        if p is None:
            return [b_bar]
        out = np.empty_like(b_bar)
        np.put_along_axis(out, p[..., :, None], b_bar, -2)
        return [out]

    def jvp(inputs, _outputs, tangents):
        b, lf, q, p = factors(inputs[0])
        da = tangents[0] if p is None else np.take_along_axis(tangents[0], p[..., :, None], -2)
        return list(diffqr.lq_jvp(b, lf, q, da))

    return Capability(name, (shape,), call, vjp, jvp, "lq_pivoted" if pivoting else "lq", dtype)


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
]
