"""The shared reliability tests (tests/reliability.py) on jax arrays: bad input, 0-size and
fuzzed factorizations with their derivatives, hygiene and threads."""

from __future__ import annotations

import reliability
from hypothesis import given


class TestBadInput(reliability.BadInput):
    framework = "jax"


class TestFuzz(reliability.Fuzz):
    framework = "jax"

    # Fewer gradient examples than NumPy's: every new shape is traced and compiled.
    @given(case=reliability.cases(valid=True))
    @reliability.fuzz_settings(30)
    def test_gradient(self, case):
        self.check_gradient(case)


class TestHygiene(reliability.Hygiene):
    framework = "jax"
