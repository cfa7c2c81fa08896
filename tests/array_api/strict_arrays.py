"""Helpers of the array_api group: array-api-strict arrays on a device, and back for comparisons."""

from __future__ import annotations

import numpy as np
import pytest

xp = pytest.importorskip("array_api_strict")

CPU = xp.Device("CPU_DEVICE")
DEVICES = [CPU, xp.Device("device1")]
ArrayType = type(xp.asarray(0.0))


def to_device(a, device):
    """A NumPy array (or None) as an array-api-strict array on ``device``."""
    return None if a is None else xp.asarray(np.asarray(a), device=device)


def to_host(x) -> np.ndarray:
    """An array-api-strict array as NumPy, for comparisons in the tests only."""
    return np.asarray(x.to_device(CPU))


def assert_strict(x, device, dtype=None) -> None:
    """``x`` is an array-api-strict array on ``device`` (never a NumPy array)."""
    assert type(x) is ArrayType, type(x)
    assert x.device == device, (x.device, device)
    if dtype is not None:
        assert x.dtype == dtype
