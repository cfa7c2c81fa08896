"""diffqr.lq on this process's backend: both modes, row pivoting, rank-k truncation, batches.

Each case gets the checks of ``capabilities.CHECKS`` (see ``test_qr.py``).
"""

from __future__ import annotations

from .capabilities import CHECKS, Factorization, add_tests
from .reliability import Call

CASES = [
    Factorization("lq_wide_reduced", (4, 6), Call("lq")),
    Factorization("lq_wide_complete", (4, 6), Call("lq", "complete")),
    Factorization("lq_deep_reduced", (6, 4), Call("lq")),
    Factorization("lq_deep_complete", (6, 4), Call("lq", "complete")),
    Factorization("lq_square", (5, 5), Call("lq")),
    Factorization("lq_wide_pivoted", (4, 7), Call("lq", pivoting=True)),
    Factorization("lq_deep_pivoted", (7, 4), Call("lq", pivoting=True)),
    Factorization("lq_deep_pivoted_rank2", (7, 5), Call("lq", pivoting=True, rank=2)),
    Factorization("lq_wide_truncated_rank2", (4, 6), Call("lq", rank=2)),
    Factorization("lq_batched_wide", (2, 3, 4, 6), Call("lq")),
    Factorization("lq_batched_deep_complete", (2, 6, 3), Call("lq", "complete")),
    Factorization("lq_batched_pivoted", (3, 4, 6), Call("lq", pivoting=True)),
]

add_tests(globals(), CASES, CHECKS)
