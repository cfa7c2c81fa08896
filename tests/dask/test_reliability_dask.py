"""The shared reliability tests (tests/reliability.py) on dask arrays: bad input (non-finite
values raise when computed), 0-size and fuzzed factorizations with their derivatives, hygiene and
threads."""

from __future__ import annotations

import reliability


class TestBadInput(reliability.BadInput):
    framework = "dask"


class TestFuzz(reliability.Fuzz):
    framework = "dask"


class TestHygiene(reliability.Hygiene):
    framework = "dask"
