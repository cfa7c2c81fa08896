"""Accuracy of the NumPy explicit rules against a 60-digit mpmath reference, κ up to 1e12.

The reference (diffqr._verify_mp) differentiates a Householder QR in mpmath by central
differences; it shares no code with the rules.  The comparison with PyTorch's native gradient is
in tests/torch/test_accuracy_torch.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from accuracy import ACCURACY_CONDITIONS, accuracy_case, relative_error

import diffqr
from diffqr._verify_mp import qr_loss_gradient

EPS = float(np.finfo(np.float64).eps)


def test_reference_is_converged():
    """Raising the precision and shrinking the step leaves the reference unchanged."""
    a, c_q, c_r, exact = accuracy_case((8, 5), "float64", 1e12)
    finer = qr_loss_gradient(a, c_q, c_r, dps=90, step=1e-40)
    assert relative_error(finer, exact) < 1e-20


@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_reference_matches_float64_when_well_conditioned(dtype):
    """Gauge and cotangent convention of the reference are those of the float64 rules."""
    a, c_q, c_r, exact = accuracy_case((8, 5), dtype, 1e1)
    q, r = np.linalg.qr(a)
    assert relative_error(diffqr.qr_vjp(a, q, r, c_q, c_r), exact) < 100 * EPS


@pytest.mark.parametrize("cond", ACCURACY_CONDITIONS)
def test_explicit_rule_error_is_rounding_times_condition(cond):
    """Backward-stable behaviour: relative error ≲ max(m, n) · eps · κ."""
    a, c_q, c_r, exact = accuracy_case((8, 5), "float64", cond)
    q, r = np.linalg.qr(a)
    assert relative_error(diffqr.qr_vjp(a, q, r, c_q, c_r), exact) < 8 * EPS * cond
