"""Dispatch by argument type: the adapter of the framework whose arrays the user passed.

A framework is inspected only if it is already in ``sys.modules`` (the user imported it to make the
array), so diffqr itself never imports one the user did not hand it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from .base import Backend

# (framework module that must already be imported, test on that module, adapter module)
_ADAPTERS: tuple[tuple[str, Callable[[Any, Any], bool], str], ...] = (
    ("torch", lambda x, torch: isinstance(x, torch.Tensor), "torch"),
    ("jax", lambda x, jax: isinstance(x, jax.Array), "jax"),
    ("tensorflow", lambda x, tf: isinstance(x, (tf.Tensor, tf.Variable)), "tensorflow"),
    ("mxnet", lambda x, mx: isinstance(x, mx.nd.NDArray), "mxnet"),
    ("dask.array", lambda x, da: isinstance(x, da.Array), "dask"),
)


def _adapter_name(x: Any) -> str:
    for framework, matches, adapter in _ADAPTERS:
        module = sys.modules.get(framework)
        # Skip namespace packages that merely share a framework's name (no __file__).
        if getattr(module, "__file__", None) is not None and matches(x, module):
            return adapter
    # The generic adapters come after the native ones: every framework above has an Array API
    # namespace too (array-api-compat wraps NumPy, torch, ...), and an autograd tracer has one.
    if "autograd" in sys.modules and isinstance(x, sys.modules["autograd"].tracer.Box):
        return "autograd"
    if not isinstance(x, (np.ndarray, np.generic)) and hasattr(x, "__array_namespace__"):
        return "array_api"
    return "numpy"


def backend_for(**arrays: Any) -> Backend:
    """The adapter for the given named arrays (``None`` entries ignored); all must agree."""
    names: dict[str, str] = {}
    for argument, value in arrays.items():
        if value is not None:
            names[argument] = _adapter_name(value)
    kinds = set(names.values())
    if kinds == {"autograd", "numpy"}:  # constants next to traced arrays (grad in one argument)
        kinds = {"autograd"}
    if len(kinds) > 1:
        listing = ", ".join(f"{arg} is a {kind} array" for arg, kind in names.items())
        raise TypeError(
            f"all arrays must come from one framework, but {listing}; convert them to one "
            "framework before calling diffqr"
        )
    kind = kinds.pop() if kinds else "numpy"
    if kind == "array_api":
        from .array_api import backend_for_arrays

        return backend_for_arrays({k: v for k, v in arrays.items() if names.get(k) == kind})
    if kind == "torch":
        # torch.compile traces an import statement (even the first one), not import_module.
        from . import torch as adapter
    else:
        adapter = sys.modules.get(f"{__name__}.{kind}") or importlib.import_module(
            f"{__name__}.{kind}"
        )
    return adapter.BACKEND


def as_numpy_if_plain(x: Any) -> Any:
    """Lists, tuples and NumPy scalars become arrays; framework arrays pass through."""
    if x is None or _adapter_name(x) != "numpy" or isinstance(x, np.ndarray):
        return x
    return np.asarray(x)
