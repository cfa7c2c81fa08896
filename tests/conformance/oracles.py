"""Correctness oracles of the conformance suite, on NumPy arrays in float64/complex128.

Kept here (not imported from diffqr) so the suite checks the package against independent code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

FD_STEP = 1e-6


def random_matrix(rng: np.random.Generator, shape: Sequence[int], dtype: str = "float64",
                  cond: float | None = None) -> np.ndarray:
    """A random ``(..., m, n)`` matrix; with ``cond``, singular values log-spaced in [1/cond, 1]."""
    shape = tuple(shape)
    a = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    if cond is not None and min(shape[-2:]) > 0:
        u, _, vh = np.linalg.svd(a, full_matrices=False)
        s = np.logspace(0, -np.log10(cond), min(shape[-2:]))
        a = (u * s[..., None, :]) @ vh
    return a.astype(dtype)


def inner(x: np.ndarray | None, y: np.ndarray | None) -> float:
    """Real inner product ``Re tr(xᴴ y)`` summed over batches (``None`` counts as zero)."""
    if x is None or y is None:
        return 0.0
    return float(np.real(np.vdot(np.asarray(x), np.asarray(y))))


def central_difference(f: Callable[..., Sequence[np.ndarray]], inputs: Sequence[np.ndarray],
                       directions: Sequence[np.ndarray], step: float = FD_STEP
                       ) -> list[np.ndarray]:
    """``(f(x + h dx) − f(x − h dx)) / 2h`` for each output of ``f(*inputs)``."""
    plus = f(*[x + step * d for x, d in zip(inputs, directions, strict=True)])
    minus = f(*[x - step * d for x, d in zip(inputs, directions, strict=True)])
    return [(p - q) / (2 * step) for p, q in zip(plus, minus, strict=True)]


def condition(a: np.ndarray) -> float:
    """Largest 2-norm condition number over a batch (1 for empty matrices)."""
    if a.size == 0:
        return 1.0
    s = np.linalg.svd(a.astype(np.complex128), compute_uv=False)
    return float(np.max(s[..., 0] / s[..., -1]))


def fd_tolerance(kappa: float) -> float:
    """Relative error of a central difference (h = 1e-6) of a function whose second and third
    derivatives grow like κ², κ³: truncation h² κ³ plus rounding eps/h · κ, with headroom 10.
    """
    return 10 * (FD_STEP**2 * kappa**3 + 1.2e-16 / FD_STEP * kappa)
