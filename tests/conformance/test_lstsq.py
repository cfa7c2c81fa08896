"""diffqr.lstsq on this process's backend: deep (least squares), wide (minimum norm), vector and
matrix right-hand sides, batches (with broadcasting), a fixed ridge and a differentiable ridge.

Each case gets ``values_match_lapack`` (NumPy's lstsq, or the regularized normal equations),
``vjp_matches_fd`` and ``jvp_matches_fd`` (float64, complex128), ``adjoint_identity`` (every dtype)
and, when batched, ``batch_equals_loop``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

import diffqr

from .backends import DTYPES, Backend
from .capabilities import COND, FD_DTYPES, VALUE_CONSTANT, add_tests, eps, seed_of
from .oracles import central_difference, inner, random_matrix
from .reliability import ROUNDING_CONSTANT, random_like

# ‖dX‖ / ‖X‖ of least squares grows like κ² (the residual term): so do its FD errors and rounding.
FD_CONSTANT = 1e-10


@dataclass(frozen=True)
class LeastSquares:
    """``diffqr.lstsq(A, B, ridge=…)``; ``differentiable_ridge``: λ is an input, not a constant."""

    name: str
    shape: tuple[int, ...]
    rhs: tuple[int, ...]
    ridge: float = 0.0
    differentiable_ridge: bool = False

    def inputs(self, dtype: str) -> list[np.ndarray]:
        rng = np.random.default_rng(seed_of(self.name))
        a = random_matrix(rng, self.shape, dtype, cond=COND)
        b = random_matrix(rng, self.rhs, dtype)
        if self.differentiable_ridge:
            return [a, b, np.array(self.ridge, dtype=np.finfo(np.dtype(dtype)).dtype)]
        return [a, b]

    def fn(self, a: Any, b: Any, *ridge: Any) -> list[Any]:
        return [diffqr.lstsq(a, b, ridge=ridge[0] if ridge else self.ridge)]

    def expected(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        vector = is_vector(a, b)
        bm = b[..., None] if vector else b
        if self.ridge:
            ah = np.conj(np.swapaxes(a, -1, -2))
            x = np.linalg.solve(ah @ a + self.ridge * np.eye(a.shape[-1]), ah @ bm)
        else:
            batch = np.broadcast_shapes(a.shape[:-2], bm.shape[:-2])
            a_, b_ = (np.broadcast_to(a, (*batch, *a.shape[-2:])),
                      np.broadcast_to(bm, (*batch, *bm.shape[-2:])))
            x = np.stack([np.linalg.lstsq(p, q, rcond=None)[0] for p, q in
                          zip(a_.reshape(-1, *a.shape[-2:]), b_.reshape(-1, *bm.shape[-2:]),
                              strict=True)])
            x = x.reshape(*batch, *x.shape[-2:])
        return x[..., 0] if vector else x

    def derivatives(self, backend: Backend, inputs: list[np.ndarray],
                    cotangent: np.ndarray, tangents: list[np.ndarray]
                    ) -> tuple[list[np.ndarray], np.ndarray]:
        """(input cotangents, output tangent): the framework's autodiff, else the rules."""
        if backend.autodiff:
            grads = backend.vjp(self.fn, inputs, [cotangent])
            dx = (backend.jvp(self.fn, inputs, tangents)[0] if backend.forward_mode
                  else self._rules(backend, inputs, cotangent, tangents)[1])
            return grads, dx
        return self._rules(backend, inputs, cotangent, tangents)

    def _rules(self, backend, inputs, cotangent, tangents):
        a, b = (backend.asarray(x) for x in inputs[:2])
        lam = float(inputs[2]) if self.differentiable_ridge else self.ridge
        x = diffqr.lstsq(a, b, ridge=lam)
        grads = diffqr.lstsq_vjp(a, b, x, backend.asarray(cotangent), ridge=lam,
                                 return_ridge_bar=self.differentiable_ridge)
        dx = diffqr.lstsq_jvp(a, b, x, backend.asarray(tangents[0]), backend.asarray(tangents[1]),
                              ridge=lam,
                              d_ridge=float(tangents[2]) if self.differentiable_ridge else None)
        return [backend.to_numpy(g) for g in grads], backend.to_numpy(dx)


def is_vector(a: np.ndarray, b: np.ndarray) -> bool:
    """diffqr's rule: B is a vector when 1-d or shaped ``A.shape[:-1]``."""
    return b.ndim == 1 or b.shape == a.shape[:-1]


@functools.cache
def _setup(case: LeastSquares, backend: Backend, dtype: str):
    """Shared by the checks of one case (each evaluation compiles anew in JAX)."""
    inputs = case.inputs(dtype)
    x = backend.call(case.fn, inputs)[0]
    rng = np.random.default_rng(seed_of(case.name) + 1)
    tangents = [random_like(rng, v) for v in inputs]
    cotangent = random_like(rng, x)
    grads, dx = case.derivatives(backend, inputs, cotangent, tangents)
    for g, v in zip(grads, inputs, strict=True):
        assert g.shape == v.shape and g.dtype == v.dtype
    assert dx.shape == x.shape
    return inputs, x, tangents, cotangent, grads, dx


def check_values(case: LeastSquares, backend: Backend, dtype: str) -> None:
    inputs = case.inputs(dtype)
    x = backend.call(case.fn, inputs)[0]
    expected = case.expected(*inputs[:2])
    assert x.dtype == inputs[0].dtype and x.shape == expected.shape
    tol = VALUE_CONSTANT * max(case.shape[-2:]) * eps(dtype) * COND**2
    assert np.linalg.norm(x - expected) <= tol * np.linalg.norm(expected)


def _fd(case: LeastSquares, backend: Backend, inputs, tangents):
    return central_difference(lambda *v: backend.call(case.fn, v), inputs, tangents)


def check_vjp_fd(case: LeastSquares, backend: Backend, dtype: str) -> None:
    inputs, _, tangents, cotangent, grads, _ = _setup(case, backend, dtype)
    fd = _fd(case, backend, inputs, tangents)[0]
    left = sum(inner(g, t) for g, t in zip(grads, tangents, strict=True))
    assert abs(left - inner(cotangent, fd)) <= (
        FD_CONSTANT * COND**2 * np.linalg.norm(cotangent) * np.linalg.norm(fd))


def check_jvp_fd(case: LeastSquares, backend: Backend, dtype: str) -> None:
    inputs, _, tangents, _, _, dx = _setup(case, backend, dtype)
    fd = _fd(case, backend, inputs, tangents)[0]
    assert np.linalg.norm(dx - fd) <= FD_CONSTANT * COND**2 * np.linalg.norm(fd)


def check_adjoint(case: LeastSquares, backend: Backend, dtype: str) -> None:
    _, x, tangents, cotangent, grads, dx = _setup(case, backend, dtype)
    left = sum(inner(g, t) for g, t in zip(grads, tangents, strict=True))
    scale = np.linalg.norm(cotangent) * sum(
        np.linalg.norm(t) for t in tangents) * (1 + np.linalg.norm(x))
    rounding = ROUNDING_CONSTANT * max(case.shape[-2:]) * eps(dtype) * COND**2 * scale
    assert abs(left - inner(cotangent, dx)) <= rounding


def check_batch(case: LeastSquares, backend: Backend, dtype: str) -> None:
    """Every member of a batch is solved on its own (broadcast batches included)."""
    inputs, x, _, cotangent, grads, _ = _setup(case, backend, dtype)
    a, b = inputs
    vector = is_vector(a, b)
    batch = x.shape[:-1] if vector else x.shape[:-2]
    a_ = np.broadcast_to(a, (*batch, *a.shape[-2:]))
    b_ = np.broadcast_to(b, (*batch, *b.shape[-(1 if vector else 2):]))
    tol = VALUE_CONSTANT * max(case.shape[-2:]) * eps(dtype) * COND**2
    a_bar = np.zeros_like(a_)
    for index in np.ndindex(*batch):
        member = backend.call(case.fn, [a_[index], b_[index]])[0]
        assert np.linalg.norm(member - x[index]) <= tol * np.linalg.norm(member)
        a_bar[index] = case.derivatives(backend, [a_[index], b_[index]], cotangent[index],
                                        [a_[index], b_[index]])[0][0]
    # Ā of a broadcast A sums its members' gradients.
    summed = a_bar.sum(axis=tuple(i for i in range(len(batch))
                                  if i < len(batch) - (a.ndim - 2) or
                                  a.shape[i - len(batch) + a.ndim - 2] == 1), keepdims=True)
    summed = summed.reshape(a.shape)
    assert np.linalg.norm(grads[0] - summed) <= tol * np.linalg.norm(summed)


CHECKS = {
    "values_match_lapack": (check_values, DTYPES),
    "vjp_matches_fd": (check_vjp_fd, FD_DTYPES),
    "jvp_matches_fd": (check_jvp_fd, FD_DTYPES),
    "adjoint_identity": (check_adjoint, DTYPES),
    "batch_equals_loop": (check_batch, ("float64", "complex128")),
}

CASES = [
    LeastSquares("lstsq_deep", (7, 4), (7, 3)),
    LeastSquares("lstsq_deep_vector_rhs", (7, 4), (7,)),
    LeastSquares("lstsq_square", (5, 5), (5, 2)),
    LeastSquares("lstsq_wide_minimum_norm", (4, 7), (4, 3)),
    LeastSquares("lstsq_wide_vector_rhs", (4, 7), (4,)),
    LeastSquares("lstsq_batched_deep", (2, 7, 4), (2, 7, 3)),
    LeastSquares("lstsq_batched_wide_vector_rhs", (3, 4, 6), (3, 4)),
    LeastSquares("lstsq_broadcast_batches", (2, 1, 6, 3), (4, 6, 2)),
    LeastSquares("lstsq_deep_ridge", (7, 4), (7, 3), ridge=0.7),
    LeastSquares("lstsq_wide_ridge", (4, 7), (4, 3), ridge=0.7),
    LeastSquares("lstsq_deep_differentiable_ridge", (7, 4), (7, 2), 0.4, True),
    LeastSquares("lstsq_wide_differentiable_ridge", (4, 7), (4,), 0.4, True),
]

add_tests(globals(), CASES, CHECKS)
