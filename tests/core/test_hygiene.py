"""Hygiene on NumPy arrays: no mutation (inputs read-only), determinism, threads, lazy imports."""

from __future__ import annotations

import reliability


class TestHygiene(reliability.Hygiene):
    framework = "numpy"

    def freeze(self, x):
        # A read-only array makes any in-place write raise, even one undone afterwards.
        x.flags.writeable = False
        return x
