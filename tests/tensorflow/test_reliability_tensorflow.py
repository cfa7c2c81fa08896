"""The shared reliability tests (tests/reliability.py) on tensorflow arrays: bad input, 0-size and
fuzzed factorizations with their derivatives, hygiene and threads."""

from __future__ import annotations

import reliability


class TestBadInput(reliability.BadInput):
    framework = "tensorflow"


class TestFuzz(reliability.Fuzz):
    framework = "tensorflow"


class TestHygiene(reliability.Hygiene):
    framework = "tensorflow"
