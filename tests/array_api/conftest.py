"""array-api-strict on its default (CPU) device and on ``Device("device1")``, which refuses any
conversion to NumPy: a host round trip inside diffqr fails there."""

from __future__ import annotations

import pytest

pytest.importorskip("array_api_strict")

from strict_arrays import DEVICES


@pytest.fixture(params=DEVICES, ids=["cpu", "device1"])
def device(request):
    return request.param
