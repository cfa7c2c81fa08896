"""Rank-revealing pivoted QR for column subset selection, with gradients (NumPy, explicit rules).

A 40×12 matrix has numerical rank 4: four informative columns, the rest near combinations of them.
``diffqr.qr(A, pivoting=True, rank=k)`` picks k columns (the pivots P[:k]) and gives a truncated
factorization A[:, P] ≈ Q R whose derivative is well defined even though A is rank deficient
(the unpivoted QR derivative divides by the tiny trailing diagonal of R and would raise
RankDeficientError).  The gradient of the residual energy ‖A[:, P] − QR‖² is checked against
central finite differences.
"""

import time

import numpy as np

import diffqr

start = time.perf_counter()
rng = np.random.default_rng(0)
m, n, k = 40, 12, 4
basis = rng.standard_normal((m, k))
A = basis @ rng.standard_normal((k, n))

Q, R, P = diffqr.qr(A, pivoting=True, rank=k)
print("selected columns:", sorted(P[:k].tolist()))
print("|diag R|:", np.round(np.abs(np.diag(R)), 3))
residual = np.linalg.norm(A[:, P] - Q @ R) / np.linalg.norm(A)
print(f"relative residual of the rank-{k} factorization: {residual:.1e}")

try:
    Q0, R0 = diffqr.qr(A)
    diffqr.qr_vjp(A, Q0, R0, np.ones_like(Q0), None)
except diffqr.RankDeficientError as exc:  # expected: R[k:, k:] is ~0
    print("unpivoted QR gradient raises RankDeficientError:", str(exc).split(";")[0][:80])
else:
    raise SystemExit("expected RankDeficientError from the unpivoted QR gradient")


def loss(A):
    """Energy captured by the selected columns' span: ‖Q Qᵀ A‖²."""
    Q, R, P = diffqr.qr(A, pivoting=True, rank=k)
    return np.sum((Q.T @ A) ** 2), (Q, R, P)


value, (Q, R, P) = loss(A)
# ℓ = ‖Qᵀ A‖²: ∂ℓ/∂Q = 2 A (QᵀA)ᵀ, plus the direct term 2 Q (QᵀA) through the explicit A.
QtA = Q.T @ A
grad_through_qr = diffqr.qr_vjp(A[:, P], Q, R, 2 * A @ QtA.T, None)
grad = 2 * Q @ QtA
grad[:, P] += grad_through_qr  # qr_vjp differentiates the factorization of A[:, P]

direction = rng.standard_normal((m, n))
h = 1e-6
fd = (loss(A + h * direction)[0] - loss(A - h * direction)[0]) / (2 * h)
analytic = np.sum(grad * direction)
print(f"directional derivative: analytic {analytic:.8f}  finite difference {fd:.8f}")
assert abs(analytic - fd) <= 1e-6 * max(1.0, abs(fd)), (analytic, fd)
print(f"done in {time.perf_counter() - start:.2f} s")
