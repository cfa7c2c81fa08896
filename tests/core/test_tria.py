"""``qr(A, mode="r")`` and ``tria`` on NumPy: the explicit Gram-consistent rules.

Full rank: the rule is the exact derivative of ``R`` (central finite differences).  Rank
deficient or zero: finite, Gram-consistent (``dRᴴ R + Rᴴ dR = dAᴴ A + Aᴴ dA``), the VJP the
adjoint of the JVP, and the gradient of a Gram-dependent loss equal to its finite difference.
"""

from __future__ import annotations

import numpy as np
import pytest
from tria_cases import deficient_cases, full_rank_cases, gram_from_r, gram_tangent, tangent

import diffqr

H = 1e-6


def _h(x):
    return np.conj(np.swapaxes(x, -1, -2))


def _inner(x, y):
    return float(np.real(np.sum(np.conj(x) * y)))


def _rules(a):
    q, r = np.linalg.qr(a)
    da = tangent(a)
    _, dr = diffqr.qr_jvp(a, q, r, da, gram=True)
    return q, r, da, dr


@pytest.mark.parametrize(("name", "a"), full_rank_cases(), ids=lambda v: v if isinstance(v, str)
                         else "")
def test_full_rank_rule_is_the_exact_derivative(name, a):
    q, r, da, dr = _rules(a)
    fd = (np.linalg.qr(a + H * da, mode="r") - np.linalg.qr(a - H * da, mode="r")) / (2 * H)
    assert np.abs(dr - fd).max() < 1e-7 * max(1.0, np.abs(fd).max())
    assert np.abs(np.tril(dr, -1)).max() < 1e-12  # upper triangular, as R
    r_bar = tangent(r, 7)
    a_bar = diffqr.qr_vjp(a, q, r, None, r_bar, gram=True)
    assert abs(_inner(a_bar, da) - _inner(r_bar, dr)) < 1e-12 * np.abs(a_bar).max() * 10


@pytest.mark.parametrize(("name", "a"), full_rank_cases() + deficient_cases(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_q_tangent_exact_at_full_rank_finite_everywhere(name, a):
    # Q is an output of the rule (so that it differentiates again exactly): its tangent is QR's
    # at full rank and finite everywhere; the VJP with both cotangents is the JVP's adjoint.
    q, r = np.linalg.qr(a)
    da = tangent(a)
    dq, dr = diffqr.qr_jvp(a, q, r, da, gram=True)
    assert np.isfinite(dq).all()
    if name in dict(full_rank_cases()):
        want_dq, want_dr = diffqr.qr_jvp(a, q, r, da)
        assert np.abs(dq - want_dq).max() < 1e-10 and np.abs(dr - want_dr).max() < 1e-10
    q_bar, r_bar = tangent(q, 5), tangent(r, 6)
    a_bar = diffqr.qr_vjp(a, q, r, q_bar, r_bar, gram=True)
    right = _inner(q_bar, dq) + _inner(r_bar, dr)
    assert abs(_inner(a_bar, da) - right) < 1e-11 * max(1.0, np.abs(a_bar).max())


@pytest.mark.parametrize(("name", "a"), full_rank_cases() + deficient_cases(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_gram_consistent_everywhere(name, a):
    q, r, da, dr = _rules(a)
    assert np.isfinite(dr).all()
    scale = max(1.0, np.abs(a).max()) * np.abs(da).max()
    assert np.abs(gram_from_r(r, dr) - gram_tangent(a, da)).max() < 1e-12 * scale
    # adjoint identity, and the gradient of ℓ = Re tr(W Rᴴ R) (W Hermitian), which is 2 A W
    r_bar = tangent(r, 7)
    a_bar = diffqr.qr_vjp(a, q, r, None, r_bar, gram=True)
    assert np.isfinite(a_bar).all()
    assert abs(_inner(a_bar, da) - _inner(r_bar, dr)) < 1e-11 * max(1.0, np.abs(a_bar).max())
    w = tangent(np.zeros(r.shape[-1:] * 2, a.dtype), 9)
    w = w + _h(w)
    loss_grad = diffqr.qr_vjp(a, q, r, None, 2 * r @ w, gram=True)
    assert np.abs(loss_grad - 2 * a @ w).max() < 1e-11 * max(1.0, np.abs(a).max())


def test_float32():
    a = deficient_cases()[4][1].astype(np.float32)
    q, r = np.linalg.qr(a)
    da = tangent(a).astype(np.float32)
    _, dr = diffqr.qr_jvp(a, q, r, da, gram=True)
    assert dr.dtype == np.float32 and np.isfinite(dr).all()
    err = np.abs(gram_from_r(r, dr) - gram_tangent(a, da)).max()
    assert err < 1e-4 * np.abs(a).max() * np.abs(da).max()


def test_zero_pivot_in_the_middle_has_no_triangular_tangent():
    # A(t) = [[0, 0], [t, 1]]: R12(t) = sign(t) jumps at t = 0, so R has no derivative there; the
    # Gram derivative has d(AᴴA)12 = 1, which no upper-triangular dR reaches (dRᴴR + RᴴdR only
    # moves entry (2, 2) when R = diag(0, ±1)).  The rule still matches the Gram derivative.
    a = np.array([[0.0, 0.0], [0.0, 1.0]])
    da = np.array([[0.0, 0.0], [1.0, 0.0]])
    q, r = np.linalg.qr(a)
    _, dr = diffqr.qr_jvp(a, q, r, da, gram=True)
    assert np.allclose(gram_from_r(r, dr), gram_tangent(a, da))
    assert abs(dr[1, 0]) > 0.5  # necessarily off the triangle


def test_mode_r_value_and_no_rank_error():
    a = deficient_cases()[0][1]
    assert np.array_equal(diffqr.qr(a, mode="r"), np.linalg.qr(a, mode="r"))
    q, r = np.linalg.qr(a)
    with pytest.raises(diffqr.RankDeficientError):  # Q and R: the derivative does not exist
        diffqr.qr_vjp(a, q, r, np.ones_like(q), None)
    assert np.isfinite(diffqr.qr_vjp(a, q, r, np.ones_like(q), None, gram=True)).all()


@pytest.mark.parametrize("shape", [(4, 6), (6, 4), (2, 3, 3)])
def test_tria_values(shape):
    a = tangent(np.zeros(shape), 3)
    lower = diffqr.tria(a)
    assert lower.shape == (*shape[:-1], min(shape[-2:]))
    assert np.array_equal(lower, _h(np.linalg.qr(_h(a), mode="r")))  # LAPACK's signs
    assert np.allclose(lower @ _h(lower), a @ _h(a))
    assert np.array_equal(lower, np.tril(lower))


def test_tria_nan_propagates_unless_checked():
    a = np.ones((3, 4))
    a[1, 2] = np.nan
    assert np.isnan(diffqr.tria(a, check_finite=False)).any()
    with pytest.raises(ValueError, match="A"):
        diffqr.tria(a)
