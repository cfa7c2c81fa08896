"""The MXNet group: run in .venv-mxnet (``make test-mxnet``), since MXNet 1.9 needs NumPy 1.23."""

from __future__ import annotations

import importlib.util

# Where MXNet is not installed (the main environment) a bare `pytest` skips this folder; in
# .venv-mxnet a broken MXNet import fails the tests instead of skipping them.  (Without MXNet,
# this very folder would be found as a namespace package "mxnet": it has no origin.)
_spec = importlib.util.find_spec("mxnet")
if _spec is None or _spec.origin is None:
    collect_ignore_glob = ["test_*.py"]


def pytest_configure(config):
    # MXNet 1.9 under NumPy 1.23 / SciPy 1.15 warns about its own use of deprecated APIs.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning")
