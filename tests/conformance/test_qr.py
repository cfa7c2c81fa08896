"""diffqr.qr on this process's backend: every mode, pivoting, rank-k truncation, batches.

Each case gets ``values_match_lapack``, ``is_orthonormal_and_reconstructs``, ``vjp_matches_fd``,
``jvp_matches_fd``, ``adjoint_identity`` (and ``batch_equals_loop`` when batched); see
``capabilities.py``.
"""

from __future__ import annotations

from .capabilities import CHECKS, Factorization, add_tests
from .reliability import Call

CASES = [
    Factorization("qr_deep_reduced", (6, 4), Call("qr")),
    Factorization("qr_deep_complete", (6, 4), Call("qr", "complete")),
    Factorization("qr_deep_r", (6, 4), Call("qr", "r")),
    Factorization("qr_square", (5, 5), Call("qr")),
    Factorization("qr_wide_reduced", (4, 6), Call("qr")),
    Factorization("qr_wide_complete", (4, 6), Call("qr", "complete")),
    Factorization("qr_wide_r", (4, 6), Call("qr", "r")),
    Factorization("qr_deep_truncated_rank2", (6, 4), Call("qr", rank=2)),
    Factorization("qr_wide_truncated_rank2", (4, 7), Call("qr", rank=2)),
    Factorization("qr_deep_pivoted", (6, 4), Call("qr", pivoting=True)),
    Factorization("qr_wide_pivoted", (4, 7), Call("qr", pivoting=True)),
    Factorization("qr_deep_pivoted_r", (6, 4), Call("qr", "r", pivoting=True)),
    Factorization("qr_deep_pivoted_rank2", (7, 5), Call("qr", pivoting=True, rank=2)),
    Factorization("qr_wide_pivoted_rank2", (4, 7), Call("qr", pivoting=True, rank=2)),
    Factorization("qr_batched_deep", (2, 3, 5, 4), Call("qr")),
    Factorization("qr_batched_wide_complete", (3, 4, 6), Call("qr", "complete")),
    Factorization("qr_batched_deep_complete", (2, 6, 3), Call("qr", "complete")),
    Factorization("qr_batched_pivoted", (3, 6, 4), Call("qr", pivoting=True)),
    Factorization("qr_batched_wide_pivoted_rank2", (2, 4, 6), Call("qr", pivoting=True, rank=2)),
]

add_tests(globals(), CASES, CHECKS)
