"""One small adapter per framework for the conformance suite (the array-api-extra pattern).

An adapter turns NumPy test data into the framework's arrays and back, and differentiates a
function of those arrays with the framework's own autodiff: ``vjp`` (reverse mode, cotangents
in PyTorch's convention ``X̄ = ∂ℓ/∂Re X + i ∂ℓ/∂Im X``) and ``jvp`` (forward mode).  NumPy and
Dask have no autodiff: the cases use diffqr's explicit rules there (``autodiff = False``).
Capabilities a framework lacks are listed on its adapter and turn into skips with a reason.

Only diffqr's public API is used here, so the suite does not depend on the package internals.
Adding a framework = one subclass here + its name in ``BACKENDS`` (and in ``tests/run_groups.py``).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

Fn = Callable[..., Sequence[Any]]
DTYPES = ("float32", "float64", "complex64", "complex128")


class Backend:
    """NumPy: the reference adapter (no autodiff: the explicit rules are the derivatives)."""

    name = "numpy"
    module = "numpy"  # the framework's import name
    autodiff = False  # False: derivatives through diffqr's explicit rules
    forward_mode = True  # False: no JVP through the framework (MXNet)
    higher_order = True  # derivatives of derivatives through the framework
    dtypes: tuple[str, ...] = DTYPES
    lazy = False  # errors may surface only when results are computed (Dask)
    traces_numpy = False  # its arrays are NumPy arrays (autograd): no second array type
    not_thread_safe: str | None = None  # why concurrent calls are not tested, if they are not
    fuzz_gradient_examples = 150  # Hypothesis examples of the fuzzed derivatives
    # Tests (by function name) diffqr fails on this framework today, with the reason: run as
    # strict xfails, so a fix shows up as a failure asking to remove the entry.
    known_failures: ClassVar[dict[str, str]] = {}

    def write_counters(self, arrays: dict[str, Any]) -> dict[str, int] | None:
        """In-place write counters of the arrays, where the framework keeps them."""
        return None

    def setup(self) -> None:
        """One-time framework configuration (e.g. enabling float64)."""

    def asarray(self, x: np.ndarray) -> Any:
        return np.array(x)

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.asarray(x)

    def call(self, fn: Fn, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """``fn`` on the framework's arrays, outputs back as NumPy."""
        return [self.to_numpy(y) for y in fn(*[self.asarray(x) for x in inputs])]

    def vjp(self, fn: Fn, inputs: Sequence[np.ndarray], cotangents: Sequence[np.ndarray]
            ) -> list[np.ndarray]:
        """Input cotangents for ``ℓ = Σ Re <cotangent, output>`` through the framework."""
        raise NotImplementedError(f"{self.name} has no autodiff")

    def jvp(self, fn: Fn, inputs: Sequence[np.ndarray], tangents: Sequence[np.ndarray]
            ) -> list[np.ndarray]:
        """Output tangents along the input tangents, through the framework's forward mode."""
        raise NotImplementedError(f"{self.name} has no forward mode")

    def supports(self, dtype: str) -> bool:
        return dtype in self.dtypes

    def known_bug(self, pivoting: bool, shape: tuple[int, ...]) -> str | None:
        """Why diffqr fails this call on this framework today (the test is a strict xfail, so
        a fix shows up), or None."""
        return None


class TorchBackend(Backend):
    name = module = "torch"
    autodiff = True
    known_failures: ClassVar[dict[str, str]] = {
        "test_lstsq_ridge_of_other_precision_is_a_type_error":
            "a float64 0-d ridge tensor with float32 A is accepted: torch does not promote "
            "with 0-d tensors, so diffqr's dtype check after `zeros + ridge` never fires",
    }

    def asarray(self, x):
        import torch

        return torch.from_numpy(np.array(x))

    def to_numpy(self, x):
        return x.detach().resolve_conj().numpy()

    def write_counters(self, arrays):
        return {name: x._version for name, x in arrays.items()}  # bumped by in-place writes

    def vjp(self, fn, inputs, cotangents):
        import torch

        xs = [self.asarray(x).requires_grad_() for x in inputs]
        ys = list(fn(*xs))
        grads = torch.autograd.grad(ys, xs, [self.asarray(c) for c in cotangents],
                                    allow_unused=True)
        return [np.zeros_like(x) if g is None else self.to_numpy(g)
                for x, g in zip(inputs, grads, strict=True)]

    def jvp(self, fn, inputs, tangents):
        import torch

        _, out = torch.func.jvp(lambda *xs: tuple(fn(*xs)), tuple(self.asarray(x) for x in inputs),
                                tuple(self.asarray(t) for t in tangents))
        return [self.to_numpy(t) for t in out]


def _conj(x: np.ndarray) -> np.ndarray:
    """JAX's cotangents are the conjugates of PyTorch's (both ways)."""
    return np.conj(x) if np.iscomplexobj(x) else x


class JaxBackend(Backend):
    name = module = "jax"
    autodiff = True
    fuzz_gradient_examples = 30  # every new shape is traced and compiled

    def setup(self):
        import jax

        jax.config.update("jax_enable_x64", True)
        # As in JAX's own tests: fewer XLA passes, faster compiles, same results to rounding.
        jax.config.update("jax_disable_most_optimizations", True)

    def asarray(self, x):
        import jax.numpy as jnp

        return jnp.asarray(np.array(x))

    def vjp(self, fn, inputs, cotangents):
        import jax

        _, pullback = jax.vjp(lambda *xs: tuple(fn(*xs)), *[self.asarray(x) for x in inputs])
        grads = pullback(tuple(self.asarray(_conj(c)) for c in cotangents))
        return [_conj(self.to_numpy(g)) for g in grads]

    def jvp(self, fn, inputs, tangents):
        import jax

        _, out = jax.jvp(lambda *xs: tuple(fn(*xs)), tuple(self.asarray(x) for x in inputs),
                         tuple(self.asarray(t) for t in tangents))
        return [self.to_numpy(t) for t in out]


class TensorFlowBackend(Backend):
    """TensorFlow's complex gradients already follow PyTorch's convention."""

    name = module = "tensorflow"
    autodiff = True
    known_failures: ClassVar[dict[str, str]] = {
        "test_lstsq_ridge_of_other_precision_is_a_type_error":
            "a float64 ridge with float32 A raises TF's InvalidArgumentError from AddV2, not "
            "diffqr's TypeError naming ridge (the dtype is checked after the addition)",
    }

    def setup(self):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import logging

        import tensorflow as tf

        # ForwardAccumulator warns for every complex primal; its complex JVPs are tested here.
        tf.get_logger().setLevel(logging.ERROR)

    def asarray(self, x):
        import tensorflow as tf

        return tf.constant(np.array(x))

    def to_numpy(self, x):
        return x.numpy()

    def vjp(self, fn, inputs, cotangents):
        import tensorflow as tf

        xs = [self.asarray(x) for x in inputs]
        with tf.GradientTape() as tape:
            tape.watch(xs)
            ys = list(fn(*xs))
        grads = tape.gradient(ys, xs, output_gradients=[self.asarray(c) for c in cotangents],
                              unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return [self.to_numpy(tf.convert_to_tensor(g)) for g in grads]

    def jvp(self, fn, inputs, tangents):
        import tensorflow as tf

        xs = [self.asarray(x) for x in inputs]
        with tf.autodiff.ForwardAccumulator(xs, [self.asarray(t) for t in tangents]) as acc:
            ys = list(fn(*xs))
        return [self.to_numpy(acc.jvp(y, unconnected_gradients=tf.UnconnectedGradients.ZERO))
                for y in ys]


class MXNetBackend(Backend):
    """MXNet 1.9 (``mx.np`` arrays): no complex dtypes, no forward mode, no higher order."""

    name = module = "mxnet"
    autodiff = True
    forward_mode = False
    higher_order = False
    dtypes = ("float32", "float64")

    def setup(self):
        import mxnet as mx

        mx.npx.set_np()  # NumPy semantics for mx.np arrays

    def asarray(self, x):
        import mxnet as mx

        x = np.array(x)
        return mx.np.array(x, dtype=x.dtype)

    def to_numpy(self, x):
        import mxnet as mx

        out = x.asnumpy()
        mx.nd.waitall()  # an asynchronous error surfaces in the test that caused it
        return out

    def known_bug(self, pivoting, shape):
        if 0 in shape and pivoting:
            return ("MXNet adapter: a pivoted factorization of a 0-size matrix runs an MXNet "
                    "take/indexing op that fails asynchronously (IndexError at the next wait)")
        if 0 in shape[:-2]:
            return ("MXNet adapter: the explicit JVP rules on an empty batch call an MXNet "
                    "linalg op with batch size 0 (MXNetError: Zero batch size)")
        return None

    def vjp(self, fn, inputs, cotangents):
        import mxnet as mx

        xs = [self.asarray(x) for x in inputs]
        for x in xs:
            x.attach_grad()
        with mx.autograd.record():
            ys = list(fn(*xs))
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                mx.autograd.backward(ys, [self.asarray(c) for c in cotangents])
                mx.nd.waitall()
                return [self.to_numpy(x.grad) for x in xs]
        except mx.base.MXNetError as error:
            # MXNet prints an exception raised in a Function's backward and raises MXNetError
            # when the gradient is read (its engine is asynchronous): recover diffqr's error.
            found = re.findall(r"RankDeficientError: (.*)", printed.getvalue())
            if found:
                import diffqr

                raise diffqr.RankDeficientError(found[-1]) from error
            raise


class DaskBackend(Backend):
    """Dask: chunks of 3 along the matrix axes (tall: TSQR, wide: column chunks), computed on
    the threaded scheduler; no autodiff, so the explicit rules run on dask arrays."""

    name = "dask"
    module = "dask.array"
    lazy = True
    known_failures: ClassVar[dict[str, str]] = {
        "test_lstsq_array_ridge_checked":
            "a negative 0-d dask ridge is not checked (its value is lazy): the computed result "
            "raises RankDeficientError ('A has numerically dependent columns', from the NaN "
            "√λ) instead of 'ridge must be >= 0'",
    }
    chunk = 3

    def setup(self):
        import dask

        dask.config.set(scheduler="threads")

    def asarray(self, x):
        import dask.array as da

        x = np.array(x)
        return da.from_array(x, chunks=tuple(1 if axis < x.ndim - 2 else self.chunk
                                             for axis in range(x.ndim)))

    def to_numpy(self, x):
        return np.asarray(x.compute())



class ArrayApiBackend(Backend):
    """array-api-strict on ``Device("device1")``, which refuses any conversion to NumPy; no
    autodiff, so the explicit rules run in its namespace, on that device."""

    name = "array_api"
    module = "array_api_strict"

    def asarray(self, x):
        import array_api_strict as xp

        x = np.array(x)
        if x.dtype == np.float16:
            import pytest

            pytest.skip("array-api-strict has no float16 (the standard has none)")
        return xp.asarray(x, device=xp.Device("device1"))

    def to_numpy(self, x):
        import array_api_strict as xp

        if isinstance(x, np.ndarray | np.generic | int | float | complex):
            return np.asarray(x)
        assert x.device == xp.Device("device1"), f"a result moved to {x.device}"
        return np.asarray(x.to_device(xp.Device("CPU_DEVICE")))


class AutogradBackend(Backend):
    """HIPS autograd on NumPy arrays: ``make_vjp`` / ``make_jvp`` one input at a time; its
    complex cotangents are the conjugates of PyTorch's (both ways)."""

    name = module = "autograd"
    autodiff = True
    traces_numpy = True

    @staticmethod
    def _of_one(fn, inputs, i):
        from autograd.builtins import tuple as traced_tuple

        return lambda x: traced_tuple(fn(*inputs[:i], x, *inputs[i + 1:]))

    def vjp(self, fn, inputs, cotangents):
        from autograd import make_vjp

        cotangents = tuple(_conj(np.asarray(c)) for c in cotangents)
        grads = []
        for i, x in enumerate(inputs):
            pullback, _ = make_vjp(self._of_one(fn, inputs, i))(np.array(x))
            grads.append(_conj(np.asarray(pullback(cotangents))))
        return grads

    def jvp(self, fn, inputs, tangents):
        from autograd.differential_operators import make_jvp

        total = None
        for i, (x, t) in enumerate(zip(inputs, tangents, strict=True)):
            _, out = make_jvp(self._of_one(fn, inputs, i))(np.array(x))(np.array(t))
            out = [np.asarray(y) for y in out]
            total = out if total is None else [a + b for a, b in zip(total, out, strict=True)]
        return total

class PaddleBackend(Backend):
    """PaddlePaddle (dynamic graph): ``paddle.grad``; its complex cotangents follow PyTorch's
    convention.  No forward mode in paddle's dynamic graph: JVPs by the double-backward trick
    (what ``paddle.incubate.autograd.jvp`` does), through diffqr's second-order backward."""

    name = module = "paddle"
    autodiff = True
    not_thread_safe = ("paddle 3.3's dynamic graph is not thread-safe: 8 threads running "
                       "paddle.linalg.qr and paddle.grad, without diffqr, crash (SIGSEGV)")
    known_failures: ClassVar[dict[str, str]] = {
        "test_lstsq_ridge_of_other_precision_is_a_type_error":
            "a float64 0-d ridge tensor with float32 A is accepted: paddle, like torch, keeps "
            "float32 in `zeros + ridge`, so diffqr's dtype check after the addition never fires",
    }

    def asarray(self, x):
        import paddle

        return paddle.to_tensor(np.array(x))

    def to_numpy(self, x):
        return x.numpy()

    @staticmethod
    def _grad(ys, xs, cotangents, **options):
        """``paddle.grad``, with diffqr's error recovered: paddle re-raises an exception from
        a PyLayer backward as ``OSError`` carrying the original's text."""
        import paddle

        import diffqr

        try:
            return paddle.grad(ys, xs, cotangents, allow_unused=True, **options)
        except OSError as error:
            found = re.findall(r"RankDeficientError: (.*)", str(error))
            if found:
                raise diffqr.RankDeficientError(found[-1]) from error
            raise

    def vjp(self, fn, inputs, cotangents):
        import paddle

        xs = [paddle.to_tensor(np.array(x), stop_gradient=False) for x in inputs]
        ys = list(fn(*xs))
        grads = self._grad(ys, xs, [self.asarray(c) for c in cotangents])
        return [np.zeros_like(x) if g is None else self.to_numpy(g)
                for x, g in zip(inputs, grads, strict=True)]

    def jvp(self, fn, inputs, tangents):
        import paddle

        xs = [paddle.to_tensor(np.array(x), stop_gradient=False) for x in inputs]
        ys = list(fn(*xs))
        # u ↦ Jᴴu is (real-)linear in u; its adjoint along the tangents is J·t.
        us = [paddle.zeros_like(y) for y in ys]
        for u in us:
            u.stop_gradient = False
        gs = self._grad(ys, xs, us, create_graph=True)
        pairs = [(g, self.asarray(t)) for g, t in zip(gs, tangents, strict=True) if g is not None]
        if not pairs:
            return [np.zeros_like(self.to_numpy(y)) for y in ys]
        out = paddle.grad([g for g, _ in pairs], us, [t for _, t in pairs], allow_unused=True)
        return [np.zeros_like(self.to_numpy(y)) if d is None else self.to_numpy(d)
                for y, d in zip(ys, out, strict=True)]


BACKENDS: dict[str, type[Backend]] = {
    "numpy": Backend, "torch": TorchBackend, "jax": JaxBackend,
    "tensorflow": TensorFlowBackend, "mxnet": MXNetBackend, "dask": DaskBackend,
    "array_api": ArrayApiBackend, "autograd": AutogradBackend, "paddle": PaddleBackend,
}
ENV = "DIFFQR_BACKEND"


def make(name: str) -> Backend:
    """The adapter of framework ``name``, set up; the framework must import."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    backend = BACKENDS[name]()
    importlib.import_module(backend.module)
    backend.setup()
    return backend


_current: Backend | None = None


def select(name: str) -> Backend:
    """Make ``name`` this process's backend (called once, by the suite's conftest)."""
    global _current
    _current = make(name)
    return _current


def current() -> Backend:
    """This process's backend (``DIFFQR_BACKEND`` or numpy if the conftest has not chosen)."""
    return _current if _current is not None else select(os.environ.get(ENV, "numpy"))
