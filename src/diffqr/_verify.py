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
    f: Callable[..., Sequence[np.ndarray]],
    inputs: Sequence[np.ndarray],
    directions: Sequence[np.ndarray],
    step: float = FD_STEP,
) -> list[np.ndarray]:
    """``(f(x + h dx) − f(x − h dx)) / 2h`` for each output of ``f(*inputs)``."""
    plus = f(*[x + step * d for x, d in zip(inputs, directions, strict=True)])
    minus = f(*[x - step * d for x, d in zip(inputs, directions, strict=True)])
    return [(p - q) / (2 * step) for p, q in zip(plus, minus, strict=True)]


def relative_error(actual: Sequence[np.ndarray], expected: Sequence[np.ndarray]) -> float:
    """``‖actual − expected‖ / max(‖expected‖, tiny)`` over all outputs together."""
    num = sum(float(np.linalg.norm(np.asarray(x) - np.asarray(y)) ** 2)
              for x, y in zip(actual, expected, strict=True))
    den = sum(float(np.linalg.norm(np.asarray(y)) ** 2) for y in expected)
    return float(np.sqrt(num) / max(np.sqrt(den), 1e-300))


def adjoint_error(
    input_cotangents: Sequence[np.ndarray | None],
    input_tangents: Sequence[np.ndarray],
    output_cotangents: Sequence[np.ndarray | None],
    output_tangents: Sequence[np.ndarray],
) -> float:
    """Relative mismatch of ``Σ <x̄, dx>`` against ``Σ <ȳ, dy>``.

    With ``dy`` from finite differences this checks a VJP; with ``dy`` from a JVP it is the
    adjoint identity tying the two rules together.
    """
    left = sum(inner(b, d) for b, d in zip(input_cotangents, input_tangents, strict=True))
    right = sum(inner(c, d) for c, d in zip(output_cotangents, output_tangents, strict=True))
    scale = sum(float(np.linalg.norm(c) * np.linalg.norm(d))
                for c, d in zip(output_cotangents, output_tangents, strict=True) if c is not None)
    return abs(left - right) / max(abs(right), scale, 1e-300)
