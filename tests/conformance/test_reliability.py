"""Bad input, fuzzed factorizations with their derivatives, 0-size inputs, hygiene and threads,
on this process's backend (the cases are written once in ``reliability.py``)."""

from __future__ import annotations

from .reliability import BadInput, Fuzz, Hygiene


class TestBadInput(BadInput):
    pass


class TestFuzz(Fuzz):
    pass


class TestHygiene(Hygiene):
    pass
