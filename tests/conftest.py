"""Shared fixtures for every test group (each group runs in its own pytest process)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20260924)
