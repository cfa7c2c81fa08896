"""How ``python -m diffqr check`` drives one framework: conversions and its own autodiff.

A harness turns NumPy test data into the framework's arrays, runs a function of those arrays, and
returns the VJP (in PyTorch's cotangent convention) and JVP it computes, as NumPy arrays.
Frameworks without autodiff (NumPy, Dask) use the capability's explicit rules instead.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._dispatch import NAMES

Fn = Callable[..., Sequence[Any]]


class Harness:
    """Base harness; subclasses set ``name``/``module`` and implement the methods."""

    name: str = "?"
    module: str = "?"  # the framework's import name: the column appears only if it imports
    autodiff: bool = True
    forward_mode: bool = True  # False: no JVP to check, the VJP is measured alone
    native_jvp: bool = True  # False: the native ops' JVP is not checked (see the harness)
    dtypes: tuple[str, ...] = ("float32", "float64", "complex64", "complex128")  # others: n/a

    def available(self) -> bool:
        try:
            module = importlib.import_module(self.module)
        except ImportError:
            return False
        # A folder of that name on sys.path (e.g. tests/mxnet) imports as an empty namespace
        # package; only a real framework has a __file__.
        return getattr(module, "__file__", None) is not None

    def setup(self) -> None:
        """One-time framework configuration (e.g. enabling float64)."""

    def asarray(self, x: np.ndarray) -> Any:
        raise NotImplementedError

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.asarray(x)

    def call(self, fn: Fn, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """``fn`` on the framework's arrays, outputs back as NumPy."""
        return [self.to_numpy(y) for y in fn(*[self.asarray(x) for x in inputs])]

    def explicit(self, rule: Callable[..., Sequence[Any]], *groups: Sequence[np.ndarray | None]
                 ) -> list[np.ndarray | None]:
        """A capability's explicit rule evaluated on this framework's arrays, results as NumPy."""
        arrays = [[None if x is None else self.asarray(x) for x in group] for group in groups]
        return [None if y is None else self.to_numpy(y) for y in rule(*arrays)]

    def vjp(self, fn: Fn, inputs: Sequence[np.ndarray], cotangents: Sequence[np.ndarray]
            ) -> list[np.ndarray]:
        """Input cotangents ``∂ℓ/∂Re x + i ∂ℓ/∂Im x`` for ``ℓ = Σ Re <cotangent, output>``."""
        raise NotImplementedError

    def jvp(self, fn: Fn, inputs: Sequence[np.ndarray], tangents: Sequence[np.ndarray]
            ) -> list[np.ndarray]:
        """Output tangents along the input tangents (forward mode)."""
        raise NotImplementedError

    def native(self, key: str) -> Fn | None:
        """The framework's own op for a capability key (see ``capabilities.py``), or None."""
        return None


class NumpyHarness(Harness):
    name = "numpy"
    module = "numpy"
    autodiff = False

    def asarray(self, x):
        return np.array(x)


# One harness module per framework of the registry (NumPy's is NumpyHarness above).  Paddle
# first: importing paddle after TensorFlow in one process crashes (paddle 3.3, TF 2.21).
_IMPORT_FIRST = ("paddle",)
HARNESS_MODULES = tuple(sorted((name for name in NAMES if name != "numpy"),
                               key=lambda name: name not in _IMPORT_FIRST))


def harnesses() -> list[Harness]:
    """NumPy plus every framework whose harness module and framework import here."""
    found: dict[str, Harness] = {}
    for name in HARNESS_MODULES:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ImportError:
            continue
        if module.HARNESS.available():
            found[name] = module.HARNESS
    # The columns in registry order, whatever the import order.
    return [NumpyHarness(), *(found[name] for name in NAMES if name in found)]
