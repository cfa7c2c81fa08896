"""The conformance suite runs for ONE framework per pytest process (torch and TensorFlow clash).

Choose it with ``--backend NAME`` or the environment variable ``DIFFQR_BACKEND`` (default numpy)::

    PYTHONPATH=src python -m pytest tests/conformance --backend torch
    python tests/run_groups.py conformance-torch          # the same, as CI runs it

Every test takes the ``backend`` fixture, so its id names the framework, e.g.
``test_qr_deep_complete_vjp_matches_fd[torch-float64]``.
"""

from __future__ import annotations

import os

import pytest

from . import backends


def pytest_addoption(parser):
    parser.addoption("--backend", default=None, choices=sorted(backends.BACKENDS),
                     help=f"framework for tests/conformance (default: ${backends.ENV} or numpy)")


def pytest_configure(config):
    name = config.getoption("--backend") or os.environ.get(backends.ENV, "numpy")
    backends.select(name)  # a framework that does not import fails the run
    if name == "mxnet":  # MXNet 1.9 under NumPy 1.23 warns about its own deprecated calls
        config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning")


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        backend = backends.current()
        metafunc.parametrize("backend", [backend], ids=[backend.name], scope="session")


def pytest_collection_modifyitems(config, items):
    known = backends.current().known_failures
    for item in items:
        # a whole test by its name, or one parametrization by its full name
        reason = known.get(item.name) or known.get(getattr(item, "originalname", item.name))
        if reason:
            item.add_marker(pytest.mark.xfail(strict=True, reason=reason))
