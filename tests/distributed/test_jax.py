"""Distributed QR and lstsq on a 4-device JAX CPU mesh, against single-device diffqr.

The checks run in one subprocess (jax_worker.py) with ``--xla_force_host_platform_device_count=4``
(the device count is fixed when JAX starts), under a timeout; each test reads its part.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                                reason="jax is not installed")


@pytest.fixture(scope="module")
def result() -> dict:
    src = str(HERE.parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get(
        "PYTHONPATH")])), "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    proc = subprocess.run([sys.executable, str(HERE / "jax_worker.py")], capture_output=True,
                          text=True, timeout=400, env=env, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_values_and_derivatives_match_single_device(result):
    errors = result["errors"]
    assert len(errors) >= 50
    bad = {k: v for k, v in errors.items() if not v[0] <= v[1]}
    assert not bad, bad


def test_every_transformation_and_case_is_checked(result):
    names = " ".join(result["errors"])
    parts = ["qr grad (jit)", "qr jvp", "qr vjp", "lstsq grad", "lstsq jvp", "complex64",
             "float32", "rows < n", "fd qr complex128", "fd lstsq float64"]
    for part in parts + ["explicit"] * result["explicit_axes"]:  # explicit axes: JAX >= 0.6
        assert part in names


def test_only_small_matrices_travel(result):
    """Compiled HLO (m = 4000, n = 3, 4 devices): the collectives carry the stacked ``[head; R]``
    blocks (2·4·n rows) or n-column matrices, never the global or local rows."""
    collectives = dict((name, found) for name, found in result["collectives"])
    assert collectives["qr"] and collectives["qr grad"]
    assert any(kind == "all-reduce" for kind, _ in collectives["qr grad"])
    for name, found in collectives.items():
        for kind, shape in found:
            dims = [int(d) for d in shape[shape.index("[") + 1:-1].split(",") if d]
            assert 4000 not in dims and 1000 not in dims, (name, kind, shape)
            assert all(d <= 2 * 4 * 5 for d in dims), (name, kind, shape)


@pytest.mark.parametrize("case, words", [
    ("bad axis", ["axis='columns'", "mesh"]), ("column sharding", ["columns", "A"]),
    ("B rows", ["B", "rows"]), ("wide", ["wide"]), ("indivisible rows", ["divisible"]),
    ("missing mesh", ["mesh="])])
def test_bad_input_names_the_argument(result, case, words):
    message = result["messages"][case]
    assert message.startswith("ValueError"), message
    assert all(w in message for w in words), message
