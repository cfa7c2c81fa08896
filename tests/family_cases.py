"""Shared cases for the framework-specific derivative tests of the families without a native QR
derivative of their own (HIPS autograd, PaddlePaddle): the same functions and shapes, each
framework checking them with its own ``grad``/``jvp`` against central differences."""

from __future__ import annotations

import diffqr

SHAPES = [(5, 3), (3, 5), (4, 4), (1, 1), (4, 1), (1, 4), (2, 3, 4, 3), (2, 3, 3, 4)]
DTYPES = ["float64", "complex128"]

QR_CASES = [({}, s) for s in SHAPES] + [({"mode": "complete"}, (5, 3)),
                                         ({"mode": "complete"}, (2, 6, 2)),
                                         ({"mode": "r"}, (6, 4)),
                                         ({"pivoting": True}, (3, 6)),
                                         ({"pivoting": True}, (6, 3)),
                                         ({"pivoting": True}, (2, 3, 4, 6)),
                                         ({"pivoting": True, "rank": 2}, (5, 4))]
LQ_CASES = [({}, s) for s in SHAPES] + [({"mode": "complete"}, (3, 5)),
                                         ({"pivoting": True}, (6, 3)),
                                         ({"pivoting": True}, (2, 3, 3, 6))]
LSTSQ_SHAPES = [((6, 3), (6, 2)), ((3, 6), (3, 2)), ((6, 3), (6,)), ((1, 1), (1, 1)),
                ((4, 1), (4,)), ((1, 4), (1, 2)), ((2, 3, 5, 4), (2, 3, 5)),
                ((2, 3, 4, 5), (4, 2))]


def qr_outputs(options):
    """The differentiable outputs of ``diffqr.qr(·, **options)`` as a list (P is an integer
    output, constant under differentiation)."""
    def fn(a):
        out = diffqr.qr(a, **options)
        return [out] if options.get("mode") == "r" else list(out[:2])

    return fn


def lq_outputs(options):
    """``[L, Q]`` of ``diffqr.lq(·, **options)``."""
    return lambda a: list(diffqr.lq(a, **options)[:2])


def lstsq_outputs(ridge):
    """``[X]`` of ``diffqr.lstsq(A, B, ridge=ridge)``."""
    return lambda a, b: [diffqr.lstsq(a, b, ridge=ridge)]
