"""The one switch that turns every fast path off: ``diffqr.fast_paths(False)`` and
``DIFFQR_DISABLE_FAST_PATHS=1``.  With it off the fast path is not taken and results agree."""

from __future__ import annotations

import numpy as np
import pytest

import diffqr
import diffqr._backends._host as host
from diffqr._tuning import fast_paths_enabled
from diffqr._verify import random_matrix


def _forbid(monkeypatch, module, name):
    def taken(*args, **kwargs):
        raise AssertionError(f"fast path {name} taken with fast paths off")

    monkeypatch.setattr(module, name, taken)


def _batched_vjp(rng):
    """A batch of small systems (host batched LU) and k >= 64 (the block-split QR VJP)."""
    out = []
    for shape in ((50, 5, 4), (90, 80)):
        a = random_matrix(rng, shape, "float64")
        q, r = diffqr.qr(a)
        q_bar, r_bar = random_matrix(rng, q.shape), random_matrix(rng, r.shape)
        out.append(diffqr.qr_vjp(a, q, r, q_bar, r_bar))
        b = random_matrix(rng, (*shape[:-1], 2))
        out.append(diffqr.lstsq(a, b))
    return out


def test_context_manager_disables_and_results_agree(rng, monkeypatch):
    import diffqr._rules.qr as qr_rules

    fast = _batched_vjp(np.random.default_rng(1))
    assert qr_rules._split_min_size() == diffqr._tuning.QR_VJP_SPLIT_MIN_SIZE
    with diffqr.fast_paths(False):
        assert not fast_paths_enabled()
        assert qr_rules._split_min_size() > 10**9  # the QR VJP's block split is off
        _forbid(monkeypatch, host, "_solve_triangular_by_lu")
        plain = _batched_vjp(np.random.default_rng(1))
    assert fast_paths_enabled()
    for x, y in zip(fast, plain, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-10 * np.abs(y).max())


def test_fast_path_taken_when_on(rng, monkeypatch):
    _forbid(monkeypatch, host, "_solve_triangular_by_lu")
    with pytest.raises(AssertionError, match="fast path"):
        _batched_vjp(rng)


def test_environment_variable_read_at_call_time(rng, monkeypatch):
    monkeypatch.setenv("DIFFQR_DISABLE_FAST_PATHS", "1")
    assert not fast_paths_enabled()
    _forbid(monkeypatch, host, "_solve_triangular_by_lu")
    _batched_vjp(rng)
    with diffqr.fast_paths(True):  # the context manager overrides the variable
        assert fast_paths_enabled()
    monkeypatch.setenv("DIFFQR_DISABLE_FAST_PATHS", "0")
    assert fast_paths_enabled()


def test_switch_is_restored_after_an_error_and_nests():
    with pytest.raises(RuntimeError), diffqr.fast_paths(False):
        raise RuntimeError
    assert fast_paths_enabled()
    with diffqr.fast_paths(False):
        with diffqr.fast_paths(True):
            assert fast_paths_enabled()
        assert not fast_paths_enabled()
    with pytest.raises(TypeError, match="True or False"), diffqr.fast_paths("no"):
        pass
