"""The capability cases of the conformance suite and the checks they share.

A case is a call of the public API on one fixed well-conditioned input; ``add_tests`` turns each
case into test functions whose names say the capability, e.g.
``test_qr_deep_complete_vjp_matches_fd[torch-float64]``.  The oracles: NumPy/SciPy (LAPACK) for
values, reconstruction and orthogonality, central finite differences (float64, complex128) for
the VJP and the JVP, and the adjoint identity between VJP and JVP (every dtype).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pytest
import scipy.linalg

from .backends import DTYPES, Backend
from .oracles import central_difference, inner, random_matrix
from .reliability import (
    ROUNDING_CONSTANT,
    Call,
    check_factorization,
    conditioning,
    jvp,
    mh,
    permute,
    random_like,
    rounding_scale,
    vjp,
)

FD_DTYPES = ("float64", "complex128")
COND = 10.0  # κ(A) of every case's matrix
# Central differences (h = 1e-6) of the factors are good to ~1e-10 κ² relative (truncation h²
# and rounding eps/h, with the factors' second derivatives ~κ²); the constant leaves room for
# the completion of a complete QR (its own κ enters squared too).
FD_CONSTANT = 1e-8
# Forward values of two LAPACK-gauge factorizations differ by rounding amplified by κ.
VALUE_CONSTANT = 10.0


def needs(backend: Backend, dtype: str) -> None:
    if not backend.supports(dtype):
        pytest.skip(f"{backend.name} has no {dtype}")


def eps(dtype: str) -> float:
    return float(np.finfo(np.dtype(dtype)).eps)


def seed_of(name: str) -> int:
    return sum(ord(c) * 31**i for i, c in enumerate(name)) % 2**32


# ---------------------------------------------------------------------- QR and LQ


@dataclass(frozen=True)
class Factorization:
    """``diffqr.qr``/``diffqr.lq`` with options on an ``shape`` matrix of condition ``COND``."""

    name: str
    shape: tuple[int, ...]
    call: Call

    @property
    def op(self) -> str:
        return self.call.op

    def matrix(self, dtype: str) -> np.ndarray:
        return random_matrix(np.random.default_rng(seed_of(self.name)), self.shape, dtype,
                             cond=COND)

    def run(self, backend: Backend, a: np.ndarray) -> tuple[list[np.ndarray], Any]:
        out, perm = self.call.outputs(backend.asarray(a))
        return ([backend.to_numpy(y) for y in out],
                None if perm is None else backend.to_numpy(perm))

    def reference(self, a: np.ndarray, perm: np.ndarray | None = None
                  ) -> tuple[list[np.ndarray], np.ndarray | None]:
        """LAPACK's factors (NumPy, SciPy for pivoting), batch by batch.

        Truncated at rank k only the first k pivots are defined (the order of the others is
        the implementation's): ``R = Qᴴ A[..., :, P]`` then uses the given ``perm``.
        """
        call = self.call
        b = mh(a) if self.op == "lq" else a
        batch = b.shape[:-2]
        flat = b.reshape(-1, *b.shape[-2:])
        outs, perms = [], []
        for x in flat:
            if call.pivoting:
                q, r, p = scipy.linalg.qr(x, mode="economic", pivoting=True)
                perms.append(p.astype(np.int64))
            else:
                q, r = np.linalg.qr(x, mode="complete" if call.mode == "complete" else "reduced")
            k = call.rank or q.shape[-1]
            outs.append((q[:, :k], r[:k]))
        q = np.stack([o[0] for o in outs]).reshape(*batch, *outs[0][0].shape)
        r = np.stack([o[1] for o in outs]).reshape(*batch, *outs[0][1].shape)
        lapack_perm = np.stack(perms).reshape(*batch, -1) if call.pivoting else None
        if call.pivoting and call.rank is not None and perm is not None:
            r = mh(q) @ permute(b, perm, "qr")
        if self.op == "lq":
            return [mh(r), mh(q)], lapack_perm
        return ([r] if call.mode == "r" else [q, r]), lapack_perm

    def fixed(self, backend: Backend, perm: np.ndarray | None) -> Callable:
        """The differentiable outputs as a function of A with the permutation held fixed."""
        call = replace(self.call, pivoting=False)
        return lambda x: backend.call(call.differentiable, [permute(x, perm, self.op)])


def check_values(case: Factorization, backend: Backend, dtype: str) -> None:
    a = case.matrix(dtype)
    out, perm = case.run(backend, a)
    expected, expected_perm = case.reference(a, perm)
    if perm is not None:
        k = case.call.rank or perm.shape[-1]
        np.testing.assert_array_equal(perm[..., :k], expected_perm[..., :k])
    tol = VALUE_CONSTANT * max(a.shape[-2:]) * eps(dtype) * COND
    for y, ref in zip(out, expected, strict=True):
        assert y.dtype == ref.dtype and y.shape == ref.shape
        assert np.linalg.norm(y - ref) <= tol * max(np.linalg.norm(ref), 1.0)


def check_valid(case: Factorization, backend: Backend, dtype: str) -> None:
    a = case.matrix(dtype)
    call = replace(case.call, mode="reduced") if case.call.mode == "r" else case.call
    out, perm = Factorization(case.name, case.shape, call).run(backend, a)
    check_factorization(call, a, out, perm)


@dataclass
class Derivatives:
    """VJP, JVP and central differences of one case along random directions."""

    a: np.ndarray
    da: np.ndarray
    out: list[np.ndarray]
    cots: list[np.ndarray]
    a_bar: np.ndarray
    dy: list[np.ndarray]
    fd: list[np.ndarray] = field(default_factory=list)


@functools.cache
def cached_derivatives(case: Factorization, backend: Backend, dtype: str) -> Derivatives:
    """The VJP/JVP/FD checks of one case share one evaluation (each compiles anew in JAX)."""
    return derivatives(case, backend, dtype, fd=True, cache=False)


def derivatives(case: Factorization, backend: Backend, dtype: str, fd: bool,
                a: np.ndarray | None = None, cache: bool = True) -> Derivatives:
    """At ``case.matrix(dtype)`` (or ``a``), along directions drawn from the case's seed."""
    if a is None and cache and dtype in FD_DTYPES:
        return cached_derivatives(case, backend, dtype)
    a = case.matrix(dtype) if a is None else a
    rng = np.random.default_rng(seed_of(case.name) + 1)
    out, perm = case.run(backend, a)
    cots = [random_like(rng, y).astype(y.dtype) for y in out]
    da = random_like(rng, a)
    d = Derivatives(a, da, out, cots, vjp(backend, case.call, a, cots),
                    jvp(backend, case.call, a, da))
    assert d.a_bar.shape == a.shape and d.a_bar.dtype == a.dtype
    assert [t.shape for t in d.dy] == [y.shape for y in out]
    if fd:
        d.fd = central_difference(case.fixed(backend, perm), [a], [da])
    return d


def fd_bound(case: Factorization, d: Derivatives) -> float:
    _, kappa, completion = conditioning(case.call, d.out)
    return FD_CONSTANT * (kappa * completion) ** 2


def check_vjp_fd(case: Factorization, backend: Backend, dtype: str) -> None:
    d = derivatives(case, backend, dtype, fd=True)
    left = inner(d.a_bar, d.da)
    right = sum(inner(c, t) for c, t in zip(d.cots, d.fd, strict=True))
    magnitude = sum(np.linalg.norm(c) * np.linalg.norm(t)
                    for c, t in zip(d.cots, d.fd, strict=True))
    assert abs(left - right) <= fd_bound(case, d) * magnitude


def check_jvp_fd(case: Factorization, backend: Backend, dtype: str) -> None:
    d = derivatives(case, backend, dtype, fd=True)
    for t, f in zip(d.dy, d.fd, strict=True):
        assert np.linalg.norm(t - f) <= fd_bound(case, d) * max(np.linalg.norm(f), 1.0)


def check_adjoint(case: Factorization, backend: Backend, dtype: str) -> None:
    d = derivatives(case, backend, dtype, fd=False)
    left = inner(d.a_bar, d.da)
    right = sum(inner(c, t) for c, t in zip(d.cots, d.dy, strict=True))
    rounding = ROUNDING_CONSTANT * max(d.a.shape[-2:]) * eps(dtype) * rounding_scale(
        case.call, d.out, d.cots, d.da)
    assert abs(left - right) <= rounding


def check_batch(case: Factorization, backend: Backend, dtype: str) -> None:
    """A batch gives each member's own factors and gradient (to rounding)."""
    d = derivatives(case, backend, dtype, fd=False)
    flat = d.a.reshape(-1, *d.a.shape[-2:])
    batch = d.a.shape[:-2]
    tol = VALUE_CONSTANT * max(d.a.shape[-2:]) * eps(dtype) * COND
    for i, x in enumerate(flat):
        index = np.unravel_index(i, batch)
        out, _ = case.run(backend, x)
        for y, whole in zip(out, d.out, strict=True):
            assert np.linalg.norm(y - whole[index]) <= tol * np.linalg.norm(y)
        grad = vjp(backend, case.call, x, [c[index] for c in d.cots])
        # The gradient divides by R: its rounding grows by κ once more.
        assert np.linalg.norm(grad - d.a_bar[index]) <= tol * COND * np.linalg.norm(grad)


def check_single_precision(case: Factorization, backend: Backend, dtype: str) -> None:
    """float32/complex64 factors and VJP equal the double-precision ones of the same matrix to
    single-precision rounding amplified by the conditioning."""
    low = derivatives(case, backend, dtype, fd=False)
    high_dtype = {"float32": "float64", "complex64": "complex128"}[dtype]
    high = derivatives(case, backend, high_dtype, fd=False, a=low.a.astype(high_dtype))
    _, kappa, completion = conditioning(case.call, high.out)
    tol = VALUE_CONSTANT * max(low.a.shape[-2:]) * eps(dtype) * kappa * completion
    for y, ref in zip(low.out, high.out, strict=True):
        assert np.linalg.norm(y - ref) <= tol * np.linalg.norm(ref)
    # The rules divide by R once more: κ enters again.
    assert np.linalg.norm(low.a_bar - high.a_bar) <= tol * kappa * np.linalg.norm(high.a_bar)


CHECKS = {
    "values_match_lapack": (check_values, DTYPES),
    "is_orthonormal_and_reconstructs": (check_valid, DTYPES),
    "vjp_matches_fd": (check_vjp_fd, FD_DTYPES),
    "jvp_matches_fd": (check_jvp_fd, FD_DTYPES),
    "adjoint_identity": (check_adjoint, DTYPES),
    "batch_equals_loop": (check_batch, ("float64", "complex64")),
    "single_precision_matches_double": (check_single_precision, ("float32", "complex64")),
}


def _make_test(check: Callable, case: Any, dtypes: tuple[str, ...]) -> Callable:
    @pytest.mark.parametrize("dtype", dtypes)
    def test(backend: Backend, dtype: str) -> None:
        needs(backend, dtype)
        check(case, backend, dtype)

    return test


def add_tests(namespace: dict[str, Any], cases: list[Any], checks: dict[str, tuple]) -> None:
    """``test_<case>_<check>`` for every case and check, into a test module's namespace."""
    for case in cases:
        for check_name, (check, dtypes) in checks.items():
            if check_name == "batch_equals_loop" and len(case.shape) == 2:
                continue
            test = _make_test(check, case, dtypes)
            test.__name__ = f"test_{case.name}_{check_name}"
            test.__doc__ = f"{case.name.replace('_', ' ')}: {check_name.replace('_', ' ')}"
            namespace[test.__name__] = test
