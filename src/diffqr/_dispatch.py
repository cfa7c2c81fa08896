"""The one registry of frameworks, and dispatch by argument type: the adapter of the framework
whose arrays the user passed.

A framework is inspected only if it is already in ``sys.modules`` (the user imported it to make the
array), so diffqr itself never imports one the user did not hand it.  Adding a framework is one
line in :data:`FRAMEWORKS` plus its adapter ``_backends/<name>.py`` (see docs/contributing.md);
``python -m diffqr check``, ``python -m diffqr bench`` and the tests read the same table.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._backends.base import Backend


@dataclass(frozen=True)
class Framework:
    """One supported framework.

    ``name`` names its adapter ``diffqr._backends.<name>`` (and its ``python -m diffqr check``
    harness ``diffqr._check.<name>``, its benchmark runner ``diffqr._bench.<name>`` where it
    has one); ``module`` is the framework's import name; ``is_array(x, module)`` recognizes its
    arrays.
    """

    name: str
    module: str
    is_array: Callable[[Any, Any], bool]
    own_environment: bool = False  # tested in its own virtual environment (make test-mxnet)


FRAMEWORKS: tuple[Framework, ...] = (
    Framework("numpy", "numpy", lambda x, np_: isinstance(x, np_.ndarray)),
    Framework("torch", "torch", lambda x, torch: isinstance(x, torch.Tensor)),
    Framework("jax", "jax", lambda x, jax: isinstance(x, jax.Array)),
    Framework("tensorflow", "tensorflow", lambda x, tf: isinstance(x, (tf.Tensor, tf.Variable))),
    Framework("mxnet", "mxnet", lambda x, mx: isinstance(x, mx.nd.NDArray), own_environment=True),
    Framework("dask", "dask.array", lambda x, da: isinstance(x, da.Array)),
    Framework("paddle", "paddle", lambda x, paddle: isinstance(x, paddle.Tensor)),
    # The generic ones come last: every framework above has an Array API namespace too (and
    # array-api-compat wraps NumPy, torch, ...), and so does an autograd tracer.
    Framework("autograd", "autograd", lambda x, ag: isinstance(x, ag.tracer.Box)),
    # Any other namespace (array-api-strict, CuPy, ...): no module to find in sys.modules.
    Framework("array_api", "", lambda x, _: not isinstance(x, (np.ndarray, np.generic))
              and hasattr(x, "__array_namespace__")),
)
NAMES = tuple(f.name for f in FRAMEWORKS)
_BY_NAME = {f.name: f for f in FRAMEWORKS}
# Everything that is no other framework's array (lists, scalars, NumPy arrays) goes to NumPy.
_FALLBACK = "numpy"


def framework_of(x: Any) -> str:
    """The name of the framework whose array ``x`` is (``"numpy"`` for anything else)."""
    for framework in FRAMEWORKS:
        if framework.name == _FALLBACK:
            continue
        module = sys.modules.get(framework.module) if framework.module else np
        # Skip namespace packages that merely share a framework's name (no __file__).
        if getattr(module, "__file__", None) is not None and framework.is_array(x, module):
            return framework.name
    return _FALLBACK


def backend_for(**arrays: Any) -> Backend:
    """The adapter for the given named arrays (``None`` entries ignored); all must agree."""
    return backend_and_arrays(**arrays)[0]


def backend_and_arrays(**arrays: Any) -> tuple[Backend, dict[str, Any]]:
    """The adapter for the named arrays (``None`` entries ignored), and the arrays themselves,
    NumPy ones converted where the framework's own operations accept NumPy operands
    (``Backend.numpy_operands``: JAX and TensorFlow anywhere, Dask the right-hand side; never
    torch); any other mix of frameworks is a ``TypeError`` naming the arguments."""
    names = {arg: framework_of(value) for arg, value in arrays.items() if value is not None}
    kinds = set(names.values())
    numpy_args = [arg for arg, kind in names.items() if kind == _FALLBACK]
    if len(kinds) == 2 and numpy_args:
        kind = (kinds - {_FALLBACK}).pop()
        backend = _adapter_backend(kind, {k: v for k, v in arrays.items() if names.get(k) == kind})
        if backend.accepts_numpy_in(numpy_args):
            return backend, backend.promote_numpy_operands(dict(arrays), numpy_args)
    if len(kinds) > 1:
        listing = ", ".join(f"{arg} is a {kind} array" for arg, kind in names.items())
        raise TypeError(
            f"all arrays must come from one framework, but {listing}; convert them to one "
            "framework before calling diffqr (NumPy operands are accepted where the framework's "
            "own operations accept them: JAX, TensorFlow, autograd, and the right-hand side B "
            "of Dask's lstsq)"
        )
    kind = kinds.pop() if kinds else _FALLBACK
    return _adapter_backend(kind, {k: v for k, v in arrays.items() if names.get(k) == kind}), arrays


def _adapter_backend(kind: str, arrays: dict[str, Any]) -> Backend:
    if kind == "torch":
        # torch.compile traces an import statement (even the first one), not import_module.
        from ._backends import torch as adapter
    else:
        adapter = sys.modules.get(f"{__package__}._backends.{kind}") or importlib.import_module(
            f"{__package__}._backends.{kind}"
        )
    if hasattr(adapter, "backend_for_arrays"):  # one adapter per namespace (Array API)
        return adapter.backend_for_arrays(arrays)
    return adapter.BACKEND


def as_numpy_if_plain(x: Any) -> Any:
    """Lists, tuples and NumPy scalars become arrays; framework arrays pass through."""
    if x is None or framework_of(x) != _FALLBACK or isinstance(x, np.ndarray):
        return x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NumPy < 1.24 warns, then makes an object array
        a = np.asarray(x)
    if a.dtype == object and any(isinstance(e, (list, tuple, np.ndarray)) for e in a.flat):
        raise ValueError("a nested sequence with rows of different lengths has an inhomogeneous "
                         "shape: it is not a matrix")
    return a
