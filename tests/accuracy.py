"""Accuracy cases shared by tests/core and tests/torch: exact gradients of ill-conditioned QRs."""

from __future__ import annotations

import functools

import numpy as np

ACCURACY_CONDITIONS = (1e1, 1e4, 1e8, 1e12)


@functools.cache
def accuracy_case(shape: tuple[int, int], dtype: str, cond: float, seed: int = 0):
    """``(A, C_Q, C_R, exact Ā)`` for ``ℓ = Re<C_Q, Q> + Re<C_R, R>``, κ(A) = ``cond``."""
    from diffqr._verify import random_matrix
    from diffqr._verify_mp import qr_loss_gradient

    rng = np.random.default_rng(seed)
    a = random_matrix(rng, shape, dtype, cond=cond)
    q, r = np.linalg.qr(a)
    c_q, c_r = random_like(rng, q), random_like(rng, r)
    return a, c_q, c_r, qr_loss_gradient(a, c_q, c_r)


def random_like(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    out = rng.standard_normal(x.shape)
    if np.iscomplexobj(x):
        out = out + 1j * rng.standard_normal(x.shape)
    return out.astype(x.dtype)


def relative_error(x: np.ndarray, exact: np.ndarray) -> float:
    return float(np.linalg.norm(x - exact) / np.linalg.norm(exact))
