"""The explicit QR and LQ rules on NumPy arrays, against finite differences and each other.

Organized by transform: reverse mode (VJP vs central differences), forward mode (JVP vs central
differences), and the adjoint identity tying the two together to rounding.  Tolerances scale with
the condition number of the matrix.
"""

from __future__ import annotations

import numpy as np
import pytest

import diffqr
from diffqr._verify import adjoint_error, central_difference, random_matrix, relative_error

# (shape, mode, rank): square, deep, wide, truncated (deep and wide), complete deep, batched, "r".
CASES = [
    ((5, 5), "reduced", None),
    ((7, 4), "reduced", None),
    ((4, 7), "reduced", None),
    ((7, 6), "reduced", 3),
    ((5, 8), "reduced", 2),
    ((7, 3), "complete", None),
    ((3, 6, 4), "reduced", None),
    ((2, 4, 6), "reduced", None),
    ((2, 6, 3), "complete", None),
    ((7, 4), "r", None),
]
DTYPES = ["float64", "complex128"]


def _condition(a: np.ndarray) -> float:
    s = np.linalg.svd(a, compute_uv=False)
    return float(np.max(s[..., 0] / s[..., -1]))


def _qr_outputs(mode, rank):
    def f(a):
        out = diffqr.qr(a, mode=mode, rank=rank)
        return [out] if mode == "r" else list(out)

    return f


def _factors(a, mode, rank):
    return diffqr.qr(a, mode="reduced" if mode == "r" else mode, rank=rank)


def _cotangents(rng, outputs, dtype, mode):
    cots = [random_matrix(rng, y.shape, dtype) for y in outputs]
    return (None, cots[0]) if mode == "r" else tuple(cots)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "mode", "rank"), CASES)
class TestQR:
    def test_vjp_matches_finite_differences(self, rng, shape, mode, rank, dtype):
        a = random_matrix(rng, shape, dtype)
        f = _qr_outputs(mode, rank)
        outputs = f(a)
        q, r = _factors(a, mode, rank)
        q_bar, r_bar = _cotangents(rng, outputs, dtype, mode)
        a_bar = diffqr.qr_vjp(a, q, r, q_bar, r_bar)
        da = random_matrix(rng, shape, dtype)
        fd = central_difference(f, [a], [da])
        cots = [r_bar] if mode == "r" else [q_bar, r_bar]
        assert adjoint_error([a_bar], [da], cots, fd) < 1e-8 * _condition(a) ** 2

    def test_jvp_matches_finite_differences(self, rng, shape, mode, rank, dtype):
        a = random_matrix(rng, shape, dtype)
        q, r = _factors(a, mode, rank)
        da = random_matrix(rng, shape, dtype)
        dq, dr = diffqr.qr_jvp(a, q, r, da)
        fd = central_difference(_qr_outputs(mode, rank), [a], [da])
        got = [dr] if mode == "r" else [dq, dr]
        assert relative_error(got, fd) < 1e-8 * _condition(a) ** 2

    def test_adjoint_identity(self, rng, shape, mode, rank, dtype):
        a = random_matrix(rng, shape, dtype)
        q, r = _factors(a, mode, rank)
        da = random_matrix(rng, shape, dtype)
        q_bar, r_bar = random_matrix(rng, q.shape, dtype), random_matrix(rng, r.shape, dtype)
        dq, dr = diffqr.qr_jvp(a, q, r, da)
        a_bar = diffqr.qr_vjp(a, q, r, q_bar, r_bar)
        assert adjoint_error([a_bar], [da], [q_bar, r_bar], [dq, dr]) < 1e-13 * _condition(a)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "mode"), [((4, 7), "reduced"), ((7, 4), "reduced"),
                                             ((5, 5), "reduced"), ((4, 7), "complete"),
                                             ((2, 3, 6), "reduced")])
class TestLQ:
    def test_vjp_and_jvp_match_finite_differences(self, rng, shape, mode, dtype):
        a = random_matrix(rng, shape, dtype)
        l_factor, q = diffqr.lq(a, mode=mode)
        assert np.allclose(l_factor @ q, a, atol=1e-13)
        l_bar, q_bar = random_matrix(rng, l_factor.shape, dtype), random_matrix(rng, q.shape, dtype)
        da = random_matrix(rng, shape, dtype)
        fd = central_difference(lambda x: list(diffqr.lq(x, mode=mode)), [a], [da])
        a_bar = diffqr.lq_vjp(a, l_factor, q, l_bar, q_bar)
        dl, dq = diffqr.lq_jvp(a, l_factor, q, da)
        kappa = _condition(a)
        assert adjoint_error([a_bar], [da], [l_bar, q_bar], fd) < 1e-8 * kappa**2
        assert relative_error([dl, dq], fd) < 1e-8 * kappa**2
        assert adjoint_error([a_bar], [da], [l_bar, q_bar], [dl, dq]) < 1e-13 * kappa


@pytest.mark.parametrize("cond", [1e2, 1e4, 1e6])
def test_ill_conditioned_adjoint_identity(rng, cond):
    """The JVP/VJP pair stays consistent to rounding × κ even when FD would be hopeless."""
    a = random_matrix(rng, (40, 12), "float64", cond=cond)
    q, r = diffqr.qr(a)
    da = random_matrix(rng, a.shape)
    q_bar, r_bar = random_matrix(rng, q.shape), random_matrix(rng, r.shape)
    dq, dr = diffqr.qr_jvp(a, q, r, da)
    a_bar = diffqr.qr_vjp(a, q, r, q_bar, r_bar)
    assert adjoint_error([a_bar], [da], [q_bar, r_bar], [dq, dr]) < 1e-14 * cond


def test_none_cotangents_are_zero(rng):
    a = random_matrix(rng, (6, 4))
    q, r = diffqr.qr(a)
    q_bar, r_bar = random_matrix(rng, q.shape), random_matrix(rng, r.shape)
    both = diffqr.qr_vjp(a, q, r, q_bar, r_bar)
    only_q = diffqr.qr_vjp(a, q, r, q_bar, None)
    only_r = diffqr.qr_vjp(a, q, r, None, r_bar)
    np.testing.assert_allclose(only_q + only_r, both, atol=1e-13)
    assert not np.any(diffqr.qr_vjp(a, q, r, None, None))


def test_rule_ignores_gauge_junk_in_cotangent(rng):
    """A lower-triangle or imaginary-diagonal R̄ does not touch A (R has neither)."""
    a = random_matrix(rng, (6, 4), "complex128")
    q, r = diffqr.qr(a)
    r_bar = np.triu(random_matrix(rng, r.shape, "complex128"))
    junk = np.tril(random_matrix(rng, r.shape, "complex128"), -1) + 1j * np.diag(rng.random(4))
    np.testing.assert_allclose(diffqr.qr_vjp(a, q, r, None, r_bar + junk),
                               diffqr.qr_vjp(a, q, r, None, r_bar), atol=1e-12)


def test_positive_diagonal_gauge(rng):
    """The rules hold for any locally constant gauge, e.g. R with a positive diagonal."""
    a = random_matrix(rng, (8, 5), "complex128")
    q, r = diffqr.qr(a)
    phase = np.diagonal(r) / np.abs(np.diagonal(r))
    q_pos, r_pos = q * phase, np.conj(phase)[:, None] * r

    def positive_qr(x):
        qx, rx = diffqr.qr(x)
        ph = np.diagonal(rx) / np.abs(np.diagonal(rx))
        return [qx * ph, np.conj(ph)[:, None] * rx]

    da = random_matrix(rng, a.shape, "complex128")
    fd = central_difference(positive_qr, [a], [da])
    dq, dr = diffqr.qr_jvp(a, q_pos, r_pos, da)
    assert relative_error([dq, dr], fd) < 1e-7


@pytest.mark.parametrize("n", [1, 4, 9])
def test_row_vector_keeps_a_tiny_r_bar_next_to_a_huge_q_bar(n):
    """A real 1 × n matrix has Q = ±1, locally constant, so Ā = Q R̄ exactly whatever Q̄ is.

    The general form Q̄ + Q copyltu(M) cancels Q̄ against Q Qᴴ Q̄ and lost R̄ (error ~eps‖Q̄‖);
    for a square Q the rule keeps only the skew part of Qᴴ Q̄, which is exactly zero here.
    """
    rng = np.random.default_rng(n)
    a = rng.standard_normal((1, n))
    q, r = diffqr.qr(a)
    r_bar = 1e-10 * rng.standard_normal((1, n))
    a_bar = diffqr.qr_vjp(a, q, r, np.full((1, 1), 1e3), r_bar)
    np.testing.assert_allclose(a_bar, q * r_bar, rtol=1e-15, atol=0)
