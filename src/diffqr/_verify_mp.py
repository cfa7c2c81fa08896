"""High-precision reference gradients (mpmath), independent of diffqr's rules.

The reference differentiates a Householder QR evaluated in ``dps`` significant digits by central
differences with a step far below float64 resolution, so its error (truncation ``O(h²)``, rounding
``O(10^-dps / h)``) is negligible next to float64 rounding even for κ = 1e12.  It needs mpmath
(a test dependency) and is used by the accuracy tests and
``python -m diffqr bench --only accuracy``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

MpMatrix = list[list[Any]]


def _to_mp(a: np.ndarray) -> MpMatrix:
    from mpmath import mp

    convert = (lambda x: mp.mpc(complex(x))) if np.iscomplexobj(a) else (
        lambda x: mp.mpf(float(x)))
    return [[convert(x) for x in row] for row in a]


def householder_qr(a: MpMatrix, is_complex: bool) -> tuple[MpMatrix, MpMatrix]:
    """Reduced QR ``(Q m×k, R k×n)`` of an mp matrix in LAPACK's gauge (``xGEQRF``/``xUNGQR``).

    As in ``xLARFG``: the reflector of column ``j`` maps it to ``β e_j`` with
    ``β = −sign(Re α) ‖x‖`` (real), and is skipped when the part below ``α`` is zero and ``α``
    is real.  So ``R``'s diagonal has the signs numpy/torch return, and the gauge is locally
    constant in ``A`` (which a central difference needs).
    """
    from mpmath import mp

    conj = mp.conj if is_complex else (lambda x: x)
    m, n = len(a), len(a[0])
    k = min(m, n)
    r = [row[:] for row in a]
    reflectors: list[tuple[list[Any], Any] | None] = []
    for j in range(k):
        alpha = r[j][j]
        below = mp.fsum(abs(r[i][j]) ** 2 for i in range(j + 1, m))
        if below == 0 and mp.im(alpha) == 0:
            reflectors.append(None)
            continue
        beta = mp.sqrt(abs(alpha) ** 2 + below)
        beta = -beta if mp.re(alpha) >= 0 else beta
        tau = (beta - alpha) / beta
        v = [None] * j + [mp.mpf(1)] + [r[i][j] / (alpha - beta) for i in range(j + 1, m)]
        for c in range(j + 1, n):  # R ← Hᴴ R,  H = I − τ v vᴴ
            s = conj(tau) * mp.fsum(conj(v[i]) * r[i][c] for i in range(j, m))
            for i in range(j, m):
                r[i][c] -= v[i] * s
        r[j][j] = beta
        for i in range(j + 1, m):
            r[i][j] = mp.mpf(0)
        reflectors.append((v, tau))
    q = [[mp.mpf(int(i == c)) for c in range(k)] for i in range(m)]
    for j in reversed(range(k)):  # Q = H_1 ⋯ H_k I[:, :k]
        if reflectors[j] is None:
            continue
        v, tau = reflectors[j]
        for c in range(k):
            s = tau * mp.fsum(conj(v[i]) * q[i][c] for i in range(j, m))
            for i in range(j, m):
                q[i][c] -= v[i] * s
    return q, r[:k]


def central_gradient(
    loss: Callable[[MpMatrix], Any], a: np.ndarray, *, dps: int = 60, step: float = 1e-25
) -> np.ndarray:
    """``∂ℓ/∂Re A + i ∂ℓ/∂Im A`` of a real mp loss at the float ``a``, entry by entry."""
    from mpmath import mp

    directions = (1, 1j) if np.iscomplexobj(a) else (1,)
    grad = np.zeros(a.shape, dtype=a.dtype)
    with mp.workdps(dps):
        x = _to_mp(a)
        h = mp.mpf(step)
        for i in range(a.shape[0]):
            for j in range(a.shape[1]):
                for direction in directions:
                    delta = h * (mp.mpc(0, 1) if direction == 1j else 1)
                    x[i][j] += delta
                    plus = loss(x)
                    x[i][j] -= 2 * delta
                    minus = loss(x)
                    x[i][j] += delta
                    grad[i, j] += float((plus - minus) / (2 * h)) * direction
    return grad


def qr_loss_gradient(
    a: np.ndarray, c_q: np.ndarray, c_r: np.ndarray, *, dps: int = 60, step: float = 1e-25
) -> np.ndarray:
    """Gradient of ``ℓ = Re Σ conj(C_Q)∘Q + Re Σ conj(C_R)∘R`` for the reduced QR of ``a``.

    The gauge is LAPACK's as returned by ``numpy.linalg.qr(a)`` (the mp factorization is
    flipped to it where a diagonal sign differs), so ``C_Q, C_R`` are exactly the cotangents a
    float64 backward pass receives: ``Ā = ∂ℓ/∂Re A + i ∂ℓ/∂Im A``.
    """
    from mpmath import mp

    is_complex = bool(np.iscomplexobj(a) or np.iscomplexobj(c_q) or np.iscomplexobj(c_r))
    lapack_signs = np.sign(np.real(np.diagonal(np.linalg.qr(a)[1])))
    with mp.workdps(dps):
        _, r0 = householder_qr(_to_mp(a), is_complex)
        flips = [1 if np.sign(float(mp.re(r0[i][i]))) == lapack_signs[i] else -1
                 for i in range(len(r0))]
        # conj(C) with the gauge flips folded in: column j of Q and row i of R flip together.
        wq = [[mp.conj(c) * flips[j] for j, c in enumerate(row)] for row in _to_mp(c_q)]
        wr = [[mp.conj(c) * flips[i] for c in row] for i, row in enumerate(_to_mp(c_r))]

    def loss(x: MpMatrix) -> Any:
        q, r = householder_qr(x, is_complex)
        total = mp.fsum(w * v for ws, vs in zip(wq + wr, q + r, strict=True)
                        for w, v in zip(ws, vs, strict=True))
        return mp.re(total)

    return central_gradient(loss, a, dps=dps, step=step)
