"""Fuzzing of diffqr.qr/lq and the explicit rules on NumPy arrays (see tests/reliability.py)."""

from __future__ import annotations

import reliability


class TestFuzz(reliability.Fuzz):
    framework = "numpy"
