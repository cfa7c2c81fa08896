"""Correctness oracles shared by the test suite and ``python -m diffqr check``.

Everything here works on NumPy arrays in float64/complex128: central finite differences of a
function along a random direction, compared with a JVP, and the adjoint identity
``<Ā, dA> = Σ <X̄, dX>`` that ties a VJP to the same finite differences.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

FD_STEP = 1e-6


def random_matrix(
    rng: np.random.Generator,
    shape: Sequence[int],
    dtype: str = "float64",
    cond: float | None = None,
) -> np.ndarray:
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


def central_difference(
    f: Callable[[np.ndarray], Sequence[np.ndarray]],
    a: np.ndarray,
    da: np.ndarray,
    step: float = FD_STEP,
) -> list[np.ndarray]:
    """``(f(a + h da) − f(a − h da)) / 2h`` for each output of ``f``."""
    plus, minus = f(a + step * da), f(a - step * da)
    return [(p - q) / (2 * step) for p, q in zip(plus, minus, strict=True)]


def relative_error(actual: Sequence[np.ndarray], expected: Sequence[np.ndarray]) -> float:
    """``‖actual − expected‖ / max(‖expected‖, tiny)`` over all outputs together."""
    num = sum(float(np.linalg.norm(np.asarray(x) - np.asarray(y)) ** 2)
              for x, y in zip(actual, expected, strict=True))
    den = sum(float(np.linalg.norm(np.asarray(y)) ** 2) for y in expected)
    return float(np.sqrt(num) / max(np.sqrt(den), 1e-300))


def vjp_error(
    f: Callable[[np.ndarray], Sequence[np.ndarray]],
    a: np.ndarray,
    a_bar: np.ndarray,
    cotangents: Sequence[np.ndarray | None],
    da: np.ndarray,
) -> float:
    """Relative mismatch of ``<Ā, dA>`` against ``Σ <X̄, dX_fd>`` along ``da``."""
    fd = central_difference(f, a, da)
    expected = sum(inner(c, d) for c, d in zip(cotangents, fd, strict=True))
    actual = inner(a_bar, da)
    scale = max(abs(expected), sum(np.linalg.norm(c) * np.linalg.norm(d)
                                   for c, d in zip(cotangents, fd, strict=True) if c is not None))
    return abs(actual - expected) / max(scale, 1e-300)
