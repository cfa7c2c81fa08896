"""QR of tall-skinny matrices by (shifted) CholeskyQR: Gram products and triangular solves.

One CholeskyQR pass is ``G = AᴴA = RᴴR`` (Cholesky), ``Q = A R⁻¹`` (a triangular solve); it
loses orthogonality like ``κ(A)² u``, so passes repeat on ``Q`` (CholeskyQR2) until the Gram
matrix of the current ``Q`` is within :data:`NEAR_IDENTITY` of the identity — then one last pass
leaves ``Q`` orthonormal to rounding.  When ``AᴴA`` is numerically indefinite (``κ(A) ≳ u^-½``)
the first pass factors ``AᴴA + sI`` instead, with Fukaya et al.'s shift
``s = 11 (mn + n(n+1)) u ‖A‖_F²`` (shifted CholeskyQR3, SIAM J. Sci. Comput. 42, 2020); each
shifted pass divides the condition number by about ``1/√(11 mn u)``, so a few passes reach
``κ(A)`` near ``1/u``.  Beyond that, :func:`cholesky_qr` returns ``None``: it never
returns a ``Q`` it cannot vouch for.

``R`` has a positive diagonal (the Cholesky gauge), a locally constant gauge, so the QR rules hold
unchanged.  The checks need concrete values (eager mode); under tracing there is no result.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._backends.base import Backend

Array = Any

# ‖QᴴQ − I‖_F at or below which one more pass gives an orthonormal Q: κ(Q)² ≤ 1.2, so that pass
# is backward stable and its loss of orthogonality is a small multiple of u.
NEAR_IDENTITY = 0.1
# CholeskyQR2 suffices for κ(A) ≲ 1e7 in float64; each further (shifted) pass gains ~1e4.
MAX_PASSES = 6


def _host_or_none(xp: Backend, a: Array) -> np.ndarray | None:
    host = xp.to_host(a)
    return None if host is None or not np.isfinite(host).all() else host


def _pass(xp: Backend, a: Array, gram: Array, gram_host: np.ndarray) -> tuple[Array, Array] | None:
    """One CholeskyQR pass ``(A R⁻¹, R)``, ``Rᴴ R = gram`` — shifted if ``gram`` is numerically
    indefinite — or ``None`` if even the shifted Gram matrix has no Cholesky factor."""
    r = xp.cholesky(gram)
    if _host_or_none(xp, r) is None:
        m, n = xp.shape(a)[-2:]
        eps = float(np.finfo(gram_host.dtype).eps)
        norm2 = np.trace(gram_host, axis1=-2, axis2=-1).real.max()  # ‖A‖_F², worst of the batch
        r = xp.cholesky(gram + (11.0 * (m * n + n * (n + 1)) * eps * norm2) * xp.eye_like(gram, n))
        if _host_or_none(xp, r) is None:
            return None
    return xp.solve_triangular(r, a, upper=True, left=False), r


def cholesky_qr(xp: Backend, a: Array) -> tuple[Array, Array] | None:
    """Reduced QR ``(Q, R)`` of ``a`` (``m ≥ n``) with ``diag R > 0``, or ``None`` when the values
    are not concrete or ``a`` is too ill-conditioned (numerically rank deficient)."""
    n = xp.shape(a)[-1]
    identity = np.eye(n)
    q, r = a, None
    for _ in range(MAX_PASSES):
        gram = xp.matmul(xp.mH(q), q)
        gram_host = _host_or_none(xp, gram)
        if gram_host is None:
            return None
        deviation = np.linalg.norm(gram_host - identity, axis=(-2, -1)).max()
        step = _pass(xp, q, gram, gram_host)
        if step is None:
            return None
        q, r_next = step
        r = r_next if r is None else xp.matmul(r_next, r)
        if deviation <= NEAR_IDENTITY:
            return q, r
    return None
