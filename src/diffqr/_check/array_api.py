"""array-api-strict harness: no autodiff, so the explicit rules run in its namespace, on its
``Device("device1")``, which refuses any conversion to NumPy (a host round trip fails there)."""

from __future__ import annotations

import array_api_strict as xp
import numpy as np

from .harness import Harness

DEVICE = xp.Device("device1")


class ArrayApiStrictHarness(Harness):
    name = "array-api-strict"
    module = "array_api_strict"
    autodiff = False

    def asarray(self, x):
        return xp.asarray(np.array(x), device=DEVICE)

    def to_numpy(self, x):
        assert x.device == DEVICE, f"diffqr moved a result to {x.device}"
        return np.asarray(x.to_device(xp.Device("CPU_DEVICE")))


HARNESS = ArrayApiStrictHarness()
