"""Shared cases for the R-only QR (``mode="r"``) and ``tria``: full rank and rank deficient.

Each case is ``(name, A)`` in NumPy (float64 or complex128); frameworks convert.  Rank-deficient
cases cover ``A = 0``, a zero column first (a zero pivot in the middle), rank 1 and rank 2, deep
and wide, and a batch with one zero member.
"""

from __future__ import annotations

import numpy as np


def _random(shape, seed, complex_=False):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if complex_:
        a = a + 1j * rng.standard_normal(shape)
    return a


def _low_rank(m, n, rank, seed, complex_=False):
    return _random((m, rank), seed, complex_) @ _random((rank, n), seed + 1, complex_)


def full_rank_cases():
    """Matrices of full rank: the rule must equal the exact derivative of ``R``."""
    return [
        ("deep", _random((5, 3), 0)),
        ("square", _random((4, 4), 1)),
        ("wide", _random((3, 5), 2)),
        ("complex-deep", _random((5, 3), 3, True)),
        ("complex-wide", _random((3, 4), 4, True)),
        ("batch", _random((2, 4, 3), 5)),
    ]


def deficient_cases():
    """Rank-deficient and zero matrices: the rule must be finite and Gram-consistent."""
    zero_first = _random((5, 3), 6)
    zero_first[:, 0] = 0.0
    zero_last = _random((4, 3), 7)
    zero_last[:, -1] = 0.0
    batch = np.stack([_random((4, 3), 8), np.zeros((4, 3)), _low_rank(4, 3, 1, 9)])
    return [
        ("zero", np.zeros((4, 3))),
        ("zero-wide", np.zeros((2, 5))),
        ("zero-column-first", zero_first),
        ("zero-column-last", zero_last),
        ("rank1-deep", _low_rank(6, 4, 1, 10)),
        ("rank2-deep", _low_rank(6, 4, 2, 11)),
        ("rank2-wide", _low_rank(3, 6, 2, 12)),
        ("rank1-square-complex", _low_rank(3, 3, 1, 13, True)),
        ("cuthbert", np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]).T),
        ("batch-mixed", batch),
    ]


def tangent(a, seed=100):
    """A random direction shaped like ``a`` (complex for complex ``a``)."""
    return _random(a.shape, seed, np.iscomplexobj(a))


def gram_tangent(a, da):
    """``d(Aᴴ A) = dAᴴ A + Aᴴ dA``."""
    h = lambda x: np.conj(np.swapaxes(x, -1, -2))  # noqa: E731
    return h(da) @ a + h(a) @ da


def gram_from_r(r, dr):
    """``dRᴴ R + Rᴴ dR``."""
    return gram_tangent(r, dr)
