"""Every script in examples/ runs to completion (each asserts its own result) in a subprocess."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))
# The framework an example needs; without it the example is skipped, not failed.
FRAMEWORK = {"lstsq_head_torch.py": "torch", "tf_lstsq_layer.py": "tensorflow",
             "mps_canonical_jax.py": "jax", "dask_tall_regression.py": "distributed",
             "distributed_jax.py": "jax", "distributed_torch.py": "torch",
             "sqrt_kalman_filter.py": "jax", "sqrt_kalman_filter_torch.py": "torch"}
# Smaller than the example's defaults, to keep the test group short.
ARGUMENTS = {"dask_tall_regression.py": ["--rows", "100000", "--chunk-rows", "20000"]}


def test_examples_exist():
    assert len(SCRIPTS) >= 3


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_example_runs(script: Path):
    framework = FRAMEWORK.get(script.name)
    if framework and importlib.util.find_spec(framework) is None:
        pytest.skip(f"{framework} is not installed")
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get(
        "PYTHONPATH")]))}
    command = [sys.executable, str(script), *ARGUMENTS.get(script.name, [])]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stdout.strip(), "an example prints its result"
