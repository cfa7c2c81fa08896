"""Properties of the explicit QR rules beyond the conformance suite's cases (which check every
mode, pivoting and truncation against finite differences on every framework): ill conditioning,
None cotangents, gauge junk in cotangents, other gauges, 1 × n matrices."""

from __future__ import annotations

import numpy as np
import pytest

import diffqr
from diffqr._verify import adjoint_error, central_difference, random_matrix, relative_error


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
