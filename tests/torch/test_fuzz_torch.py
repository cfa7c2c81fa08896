"""Fuzzing of diffqr.qr/lq on torch tensors through autograd (see tests/reliability.py)."""

from __future__ import annotations

import reliability


class TestFuzzTorch(reliability.Fuzz):
    framework = "torch"
