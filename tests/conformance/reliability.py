"""Reliability cases written once for every framework: bad input, fuzzing, hygiene, threads.

The classes run in ``test_reliability.py`` on the backend this pytest process was started for
(see ``conftest.py``); a framework is driven through its adapter in ``backends.py``
(``asarray``, ``to_numpy``, ``vjp``, ``jvp``; frameworks without autodiff use the explicit rules).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import diffqr
from diffqr._backends.numpy import BACKEND as NUMPY
from diffqr._dispatch import backend_for
from diffqr._rules.gram import lifted_pivots

from .backends import Backend, current
from .oracles import central_difference, inner

DTYPES = ("float32", "float64", "complex64", "complex128")
FRAMEWORKS = ("torch", "jax", "tensorflow", "mxnet", "dask")

# Residuals of a Householder QR are O(max(m, n) · eps · ‖A‖) (Higham, Thm 19.4); the constant
# leaves room for the blocked LAPACK kernels.  Never raised to make a case pass.
RESIDUAL_CONSTANT = 10.0


class FrameworkTests:
    """Base of the shared test classes: ``self.fw`` is this process's backend adapter."""

    fw: Backend

    @pytest.fixture(autouse=True)
    def _bind(self, backend: Backend) -> None:
        # Autouse (so Hypothesis accepts it) and through ``backend``, so ids name the framework.
        self.fw = backend

    @property
    def framework(self) -> str:
        return self.fw.name


# ---------------------------------------------------------------------- calls and their checks


@dataclass(frozen=True)
class Call:
    """One call of ``diffqr.qr`` or ``diffqr.lq`` with its options."""

    op: str = "qr"
    mode: str = "reduced"
    pivoting: bool = False
    rank: Any = None
    check_finite: bool = True

    def run(self, x: Any) -> Any:
        return getattr(diffqr, self.op)(
            x, mode=self.mode, pivoting=self.pivoting, rank=self.rank,
            check_finite=self.check_finite,
        )

    def outputs(self, x: Any) -> tuple[list[Any], Any]:
        """``(differentiable outputs, permutation or None)``."""
        out = self.run(x)
        if self.mode == "r":
            return ([out[0]], out[1]) if self.pivoting else ([out], None)
        return list(out[:2]), (out[2] if self.pivoting else None)

    def differentiable(self, x: Any) -> list[Any]:
        return self.outputs(x)[0]

    def factors(self, x: Any) -> tuple[Any, Any, Any]:
        """Both factors even for ``mode="r"``, and the permutation."""
        full = replace(self, mode="reduced") if self.mode == "r" else self
        out = full.run(x)
        return out[0], out[1], (out[2] if self.pivoting else None)


def permute(a: np.ndarray, perm: np.ndarray | None, op: str) -> np.ndarray:
    """``A[..., :, P]`` (QR, columns) or ``A[..., P, :]`` (LQ, rows)."""
    if perm is None:
        return a
    index = perm[..., None, :] if op == "qr" else perm[..., :, None]
    return np.take_along_axis(a, index, -1 if op == "qr" else -2)


def unpermute(b: np.ndarray, perm: np.ndarray | None, op: str) -> np.ndarray:
    """The inverse of :func:`permute` (scatter back)."""
    if perm is None:
        return b
    out = np.empty_like(b)
    index = perm[..., None, :] if op == "qr" else perm[..., :, None]
    np.put_along_axis(out, index, b, -1 if op == "qr" else -2)
    return out


def mh(x: np.ndarray) -> np.ndarray:
    return np.conj(np.swapaxes(x, -1, -2))


def wide_dtype(dtype: str) -> str:
    return "complex128" if dtype.startswith("complex") else "float64"


def frobenius(x: np.ndarray) -> np.ndarray:
    """Frobenius norm of each matrix of a batch."""
    return np.sqrt(np.sum(np.abs(x) ** 2, axis=(-2, -1)))


def check_factorization(call: Call, a: np.ndarray, out: list[np.ndarray],
                        perm: np.ndarray | None) -> None:
    """``out`` is a valid (pivoted, truncated) QR or LQ of ``a`` to dtype-scaled tolerances."""
    m, n = a.shape[-2:]
    batch = a.shape[:-2]
    assert all(x.dtype == a.dtype for x in out)
    if perm is not None:
        size = m if call.op == "lq" else n
        assert perm.dtype == np.int64 and perm.shape == (*batch, size)
        assert (np.sort(perm, axis=-1) == np.arange(size)).all()
    tol = RESIDUAL_CONSTANT * max(m, n, 1) * float(np.finfo(a.dtype).eps)
    b = permute(a.astype(wide_dtype(str(a.dtype))), perm, call.op)
    wide = [x.astype(b.dtype) for x in out]
    # LQ of B is the QR of Bᴴ: check everything in QR form.
    if call.op == "lq":
        b, wide = mh(b), [mh(x) for x in reversed(wide)]
        m, n = n, m
    norm = frobenius(b)
    k = m if call.mode == "complete" else (call.rank or min(m, n))
    r = wide[-1]
    assert r.shape == (*batch, k, n)
    assert not np.tril(r, -1).any(), "the triangular factor has entries below its diagonal"
    if perm is not None:
        d = np.abs(np.diagonal(r, axis1=-2, axis2=-1))
        assert (d[..., 1:] <= d[..., :-1] + tol * norm[..., None]).all()
    q = wide[0]
    assert q.shape == (*batch, m, k)
    assert (frobenius(mh(q) @ q - np.eye(k)) <= tol * max(k, 1) ** 0.5).all()
    if k < min(m, n):  # truncated: leading columns exact, R = Qᴴ B
        assert (frobenius(q @ r[..., :, :k] - b[..., :, :k]) <= tol * norm).all()
        assert (frobenius(mh(q) @ b - r) <= tol * norm).all()
    else:
        assert (frobenius(q @ r - b) <= tol * norm).all()


def qr_form(call: Call, out: list[Any]) -> tuple[Any, Any]:
    """``(Q, R)`` of the outputs, LQ's as the QR of ``Aᴴ`` (``Q`` is None for ``mode="r"``)."""
    if call.op == "lq":
        return mh(out[1]), mh(out[0])
    return (None, out[0]) if call.mode == "r" else (out[0], out[1])


def conditioning(call: Call, out: list[np.ndarray]) -> tuple[float, float, float]:
    """``(σ_min, κ)`` of the triangular block the derivative rules divide by (``R1``, or ``L1ᴴ``
    for LQ), and the condition number of ``Q[:n, :n] − I`` that a complete deep QR (wide LQ)
    also solves with (else 1).  Empty factors give ones.
    """
    q, r = qr_form(call, out)
    n = r.shape[-1]
    k = min(r.shape[-2], n)
    if r.size == 0 or k == 0:
        return 1.0, 1.0, 1.0
    r1 = r[..., :k, :k].astype(wide_dtype(str(r.dtype)))
    if call.op == "qr" and call.mode == "r":  # R alone solves with its lifted pivots
        r1 = lifted_pivots(NUMPY, r1, max(r.shape[-2:]))
    singular = np.linalg.svd(r1, compute_uv=False)
    kappa = float(np.max(singular[..., 0] / singular[..., -1]))
    completion = 1.0
    if call.mode == "complete" and q.shape[-1] > n:
        completion = float(np.max(np.linalg.cond((q[..., :n, :n] - np.eye(n)).astype(complex))))
    return float(singular[..., -1].min()), kappa, completion


def rounding_scale(call: Call, out: list[np.ndarray], cotangents: list[np.ndarray],
                   da: np.ndarray) -> float:
    """What rounding errors in ``<Ā, dA>`` and ``Σ <C, dY>`` are proportional to (times eps):
    ``‖dA‖ (‖Q̄‖ / σ_min + ‖R̄‖ κ) · κ_completion`` (see :func:`conditioning`)."""
    q_bar, r_bar = qr_form(call, cotangents)
    smin, kappa, completion = conditioning(call, out)
    scale = float(np.linalg.norm(r_bar)) * kappa
    if q_bar is not None:
        scale += float(np.linalg.norm(q_bar)) / smin
    return scale * completion * float(np.linalg.norm(da))


def random_like(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    out = rng.standard_normal(x.shape)
    if np.iscomplexobj(x):
        out = out + 1j * rng.standard_normal(x.shape)
    return out.astype(x.dtype)


def vjp(fw: Backend, call: Call, a: np.ndarray, cotangents: list[np.ndarray]) -> np.ndarray:
    """``Ā`` (PyTorch's convention) through the framework's autodiff, else the explicit rules."""
    if fw.autodiff:
        return fw.vjp(call.differentiable, [a], cotangents)[0]
    first, second, perm = call.factors(fw.asarray(a))
    perm = None if perm is None else fw.to_numpy(perm)
    cots = [None, *cotangents] if call.mode == "r" else list(cotangents)
    rule = diffqr.qr_vjp if call.op == "qr" else diffqr.lq_vjp
    b_bar = rule(fw.asarray(permute(a, perm, call.op)), first, second,
                 *[None if c is None else fw.asarray(c) for c in cots], **_gram(call, a))
    return unpermute(fw.to_numpy(b_bar), perm, call.op)


def jvp(fw: Backend, call: Call, a: np.ndarray, da: np.ndarray) -> list[np.ndarray]:
    """Tangents of the differentiable outputs through the framework's forward mode, else the
    explicit rules (which also run on MXNet arrays, MXNet having no forward mode)."""
    if fw.autodiff and fw.forward_mode:
        return fw.jvp(call.differentiable, [a], [da])
    first, second, perm = call.factors(fw.asarray(a))
    perm = None if perm is None else fw.to_numpy(perm)
    rule = diffqr.qr_jvp if call.op == "qr" else diffqr.lq_jvp
    tangents = rule(fw.asarray(permute(a, perm, call.op)), first, second,
                    fw.asarray(permute(da, perm, call.op)), **_gram(call, a))
    return [fw.to_numpy(t) for t in (tangents[1:] if call.mode == "r" else tangents)]


def _gram(call: Call, a: np.ndarray) -> dict:
    """``gram=True`` for the rule of R alone (``mode="r"``, untruncated), as ``diffqr.qr`` uses."""
    untruncated = call.rank is None or call.rank == min(a.shape[-2:])
    return {"gram": True} if call.op == "qr" and call.mode == "r" and untruncated else {}


# ---------------------------------------------------------------------- fuzzing

STRUCTURES = ("gaussian", "low_rank", "zero_row_and_column", "repeated_row_and_column")
QR_MODES = ("reduced", "complete", "r")
LQ_MODES = ("reduced", "complete")


@dataclass(frozen=True)
class Case:
    """A fuzzed input: the matrix recipe and the call."""

    call: Call
    shape: tuple[int, ...]
    dtype: str
    structure: str = "gaussian"
    true_rank: int = 0  # of a "low_rank" matrix
    scale: float = 1.0
    seed: int = 0
    bad_entry: complex | None = None  # a NaN/Inf written into the matrix

    def matrix(self) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        complex_ = self.dtype.startswith("complex")

        def gaussian(shape):
            x = rng.standard_normal(shape)
            return x + 1j * rng.standard_normal(shape) if complex_ else x

        *batch, m, n = self.shape
        a = gaussian(self.shape)
        if self.structure == "low_rank":
            a = gaussian((*batch, m, self.true_rank)) @ gaussian((*batch, self.true_rank, n))
        elif self.structure == "zero_row_and_column" and a.size:
            a[..., self.seed % m, :] = 0
            a[..., :, self.seed % n] = 0
        elif self.structure == "repeated_row_and_column":
            if m > 1:
                a[..., 1, :] = a[..., 0, :]
            if n > 1:
                a[..., :, 1] = 2 * a[..., :, 0]
        a = (a * self.scale).astype(self.dtype)
        if self.bad_entry is not None and a.size:
            a.reshape(-1)[self.seed % a.size] = (
                self.bad_entry if complex_ else self.bad_entry.real
            )
        return a

    def expected_errors(self) -> list[str]:
        """Messages (regexes) of the errors this call may raise; empty when it is valid."""
        call, (m, n) = self.call, self.shape[-2:]
        errors = []
        if call.mode not in (QR_MODES if call.op == "qr" else LQ_MODES):
            errors.append("mode must be one of")
        if call.rank is not None:
            if isinstance(call.rank, bool) or not isinstance(call.rank, int):
                errors.append("rank must be an int")
            elif not 1 <= call.rank <= min(m, n):
                errors.append("rank must satisfy")
            if call.mode == "complete":
                errors.append("mode='complete' has no truncated form")
        if self.bad_entry is not None and call.check_finite and 0 not in self.shape:
            errors.append("A contains NaN or Inf")
        return errors

    def must_have_finite_gradient(self) -> bool:
        """Full rank where the rule divides: generic matrices, or pivoting with rank ≤ true rank."""
        if self.structure == "gaussian":
            return True
        return (self.structure == "low_rank" and self.call.pivoting
                and self.call.rank is not None and self.call.rank <= self.true_rank)


@st.composite
def cases(draw: Any, valid: bool) -> Case:
    """Shapes with 0-size dimensions and batches, the four dtypes, modes, pivoting, rank.

    With ``valid=False`` also unknown modes, bad ranks and NaN/Inf entries.
    """
    op = draw(st.sampled_from(["qr", "lq"]))
    dtype = draw(st.sampled_from(DTYPES))
    batch = tuple(draw(st.lists(st.integers(0, 3), max_size=2)))
    m, n = draw(st.integers(0, 6)), draw(st.integers(0, 6))
    k = min(m, n)
    modes = QR_MODES if op == "qr" else LQ_MODES
    mode = draw(st.sampled_from(modes))
    rank_choices = [st.none(), st.none()] + ([st.integers(1, k)] if k else [])
    if not valid:
        mode = draw(st.sampled_from([mode] * 8 + ["economic", "r", None]))
        rank_choices += [st.integers(-1, k + 1), st.sampled_from([2.0, True])]
    rank = None if valid and mode == "complete" else draw(st.one_of(rank_choices))
    structure = draw(st.sampled_from(STRUCTURES))
    exponent = 12 if dtype in ("float32", "complex64") else 100
    bad_entry, check_finite = None, True
    if not valid:
        bad_entry = draw(st.sampled_from([None] * 6 + [np.nan, np.inf, -np.inf, 1 + 1j * np.nan]))
        check_finite = draw(st.booleans())
    return Case(
        call=Call(op, mode, draw(st.booleans()), rank, check_finite),
        shape=(*batch, m, n),
        dtype=dtype,
        structure=structure,
        true_rank=draw(st.integers(0, max(k - 1, 0))),
        scale=10.0 ** draw(st.integers(-exponent, exponent)),
        seed=draw(st.integers(0, 2**32 - 1)),
        bad_entry=bad_entry,
    )


def fuzz_settings(examples: int, slow: bool = False):
    # Derandomized in the default suite (reproducible CI); the long run explores afresh.
    return settings(max_examples=examples, deadline=None, derandomize=not slow, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


# Rounding in the rules stays within this multiple of max(m, n) · eps · rounding_scale.
ROUNDING_CONSTANT = 10.0

DEFAULT_EXAMPLES = 150
LONG_EXAMPLES = 10_000


class Fuzz(FrameworkTests):
    """Every call returns a valid factorization or a typed error; gradients finite at full rank."""

    def check_call(self, case: Case) -> None:
        fw, call = self.fw, case.call
        a = case.matrix()
        errors = case.expected_errors()
        if errors:  # raised by the call, or for lazy arrays (Dask) when computed
            with pytest.raises((ValueError, TypeError), match="|".join(errors)):
                out, perm = call.outputs(fw.asarray(a))
                for y in [*out, *([] if perm is None else [perm])]:
                    fw.to_numpy(y)
            return
        out, perm = call.outputs(fw.asarray(a))
        out = [fw.to_numpy(x) for x in out]
        perm = None if perm is None else fw.to_numpy(perm)
        if not np.isfinite(a).all():  # check_finite=False: NaN/Inf in, non-finite out
            # Somewhere, not always in R: MKL gives a finite R = ‖a‖ for the column [NaN, 1]ᵀ
            # and a NaN Q.  A truncated factorization may drop the rows the NaN reached.
            assert call.rank is not None or not all(np.isfinite(x).all() for x in out)
            return
        if call.mode == "r":  # R alone: that of the reduced factorization
            reduced = replace(call, mode="reduced")
            full, perm_full = reduced.outputs(fw.asarray(a))
            full = [fw.to_numpy(x) for x in full]
            check_factorization(reduced, a, full, perm)
            np.testing.assert_array_equal(out[0], full[1])
            if perm is not None:
                np.testing.assert_array_equal(perm, fw.to_numpy(perm_full))
            return
        check_factorization(call, a, out, perm)

    def check_gradient(self, case: Case) -> None:
        fw, call = self.fw, case.call
        a = case.matrix()
        rng = np.random.default_rng(case.seed + 1)
        out, perm = call.outputs(fw.asarray(a))
        out = [fw.to_numpy(x) for x in out]
        perm = None if perm is None else fw.to_numpy(perm)
        cots = [random_like(rng, y) for y in out]
        da = random_like(rng, a) * np.asarray(case.scale, a.dtype)
        try:
            a_bar = vjp(fw, call, a, cots)
            dy = jvp(fw, call, a, da)
        except diffqr.RankDeficientError:
            assert not case.must_have_finite_gradient(), "RankDeficientError at full rank"
            return
        assert a_bar.shape == a.shape and a_bar.dtype == a.dtype
        assert np.isfinite(a_bar).all() and all(np.isfinite(t).all() for t in dy)
        # VJP and JVP agree to rounding amplified by the conditioning (the adjoint identity).
        left = inner(a_bar, da)
        rounding = ROUNDING_CONSTANT * max(a.shape[-2:]) * float(np.finfo(a.dtype).eps) * (
            rounding_scale(call, out, cots, da))
        assert abs(left - sum(inner(c, t) for c, t in zip(cots, dy, strict=True))) <= rounding
        if case.structure == "gaussian" and a.dtype in (np.float64, np.complex128):
            fixed = replace(call, pivoting=False, check_finite=True)

            def f(x):  # the permutation held fixed, as in the derivative
                return fw.call(fixed.differentiable, [permute(x, perm, call.op)])

            # Central differences (h = 1e-6) are good to ~1e-8 κ² of the directional derivative.
            fd = central_difference(f, [a], [da])
            _, kappa, completion = conditioning(call, out)
            right = sum(inner(c, t) for c, t in zip(cots, fd, strict=True))
            magnitude = sum(float(np.linalg.norm(c) * np.linalg.norm(t))
                            for c, t in zip(cots, fd, strict=True))
            assert abs(left - right) <= rounding + 1e-8 * (kappa * completion) ** 2 * magnitude

    @pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0, 0), (0, 4, 3), (2, 0, 3), (2, 3, 0)])
    @pytest.mark.parametrize("call", [Call("qr"), Call("qr", "complete"), Call("qr", "r"),
                                      Call("qr", pivoting=True), Call("lq"),
                                      Call("lq", "complete"), Call("lq", pivoting=True)], ids=str)
    def test_empty(self, request, shape, call):
        """0-size matrices and empty batches: forward and both derivatives."""
        case = Case(call, shape, "complex128" if self.fw.supports("complex128") else "float64")
        bug = self.fw.known_bug(call.pivoting, shape)
        if bug:  # strict: a fix turns this into a failure that asks to drop the entry
            request.applymarker(pytest.mark.xfail(strict=True, reason=bug))
        self.check_call(case)
        self.check_gradient(case)

    @given(case=cases(valid=False))
    @fuzz_settings(DEFAULT_EXAMPLES)
    def test_factorization(self, case):
        assume(self.fw.supports(case.dtype))
        assume(not self.fw.known_bug(case.call.pivoting, case.shape))
        self.check_call(case)

    @given(case=cases(valid=True))
    @fuzz_settings(current().fuzz_gradient_examples)
    def test_gradient(self, case):
        assume(self.fw.supports(case.dtype))
        assume(not self.fw.known_bug(case.call.pivoting, case.shape))
        self.check_gradient(case)

    @pytest.mark.slow
    @given(case=cases(valid=False))
    @fuzz_settings(LONG_EXAMPLES, slow=True)
    def test_factorization_long(self, case):
        assume(self.fw.supports(case.dtype))
        assume(not self.fw.known_bug(case.call.pivoting, case.shape))
        self.check_call(case)

    @pytest.mark.slow
    @given(case=cases(valid=True))
    @fuzz_settings(LONG_EXAMPLES, slow=True)
    def test_gradient_long(self, case):
        assume(self.fw.supports(case.dtype))
        assume(not self.fw.known_bug(case.call.pivoting, case.shape))
        self.check_gradient(case)


# ---------------------------------------------------------------------- bad input


def _matrix(shape: tuple[int, ...] = (4, 3), dtype: str = "float64", seed: int = 0) -> np.ndarray:
    return Case(Call(), shape, dtype, seed=seed).matrix()


class BadInput(FrameworkTests):
    """Clear ValueError/TypeError naming the argument (and RankDeficientError from derivatives)."""

    @pytest.mark.parametrize(("op", "mode"), [("qr", "economic"), ("qr", None), ("qr", "R"),
                                              ("lq", "r"), ("lq", "full")])
    def test_unknown_mode(self, op, mode):
        with pytest.raises(ValueError, match="mode must be one of 'reduced', 'complete'"):
            getattr(diffqr, op)(self.fw.asarray(_matrix()), mode=mode)

    @pytest.mark.parametrize("op", ["qr", "lq"])
    @pytest.mark.parametrize("shape", [(), (3,)])
    def test_fewer_than_two_dimensions(self, op, shape):
        with pytest.raises(ValueError, match=r"A must have at least 2 dimensions .* got shape"):
            getattr(diffqr, op)(self.fw.asarray(np.ones(shape)))

    @pytest.mark.parametrize("op", ["qr", "lq"])
    @pytest.mark.parametrize("dtype", ["int32", "int64", "bool", "float16"])
    def test_unsupported_dtype(self, op, dtype):
        with pytest.raises(TypeError, match=f"A has dtype {dtype}; diffqr supports .* Cast it"):
            getattr(diffqr, op)(self.fw.asarray(np.ones((3, 3), dtype=dtype)))

    def test_none(self):
        for fn in (diffqr.qr, diffqr.lq):
            with pytest.raises(TypeError, match="A must be an array"):
                fn(None)

    @pytest.mark.parametrize("op", ["qr", "lq"])
    @pytest.mark.parametrize(("shape", "rank"), [((4, 3), 0), ((4, 3), -1), ((4, 3), 4),
                                                 ((3, 4), 4), ((0, 3), 1)])
    def test_rank_out_of_range(self, op, shape, rank):
        with pytest.raises(ValueError, match=r"rank must satisfy 1 <= rank <= min\(m, n\)"):
            getattr(diffqr, op)(self.fw.asarray(_matrix(shape)), pivoting=True, rank=rank)

    @pytest.mark.parametrize("rank", [2.0, True, "2"])
    def test_rank_type(self, rank):
        with pytest.raises(TypeError, match="rank must be an int or None"):
            diffqr.lq(self.fw.asarray(_matrix()), rank=rank)

    def test_numpy_integer_rank_is_accepted(self):
        q, r = diffqr.qr(self.fw.asarray(_matrix((5, 4))), rank=np.int64(2))
        assert tuple(q.shape) == (5, 2) and tuple(r.shape) == (2, 4)

    @pytest.mark.parametrize("op", ["qr", "lq"])
    def test_rank_with_complete_mode(self, op):
        with pytest.raises(ValueError, match="mode='complete' has no truncated form"):
            getattr(diffqr, op)(self.fw.asarray(_matrix()), mode="complete", rank=2)

    @pytest.mark.parametrize("name", ["pivoting", "check_finite"])
    @pytest.mark.parametrize("value", ["yes", 1, None])
    def test_flags_must_be_bool(self, name, value):
        with pytest.raises(TypeError, match=f"{name} must be True or False"):
            diffqr.qr(self.fw.asarray(_matrix()), **{name: value})

    @pytest.mark.parametrize("op", ["qr", "lq"])
    def test_options_are_keyword_only(self, op):
        with pytest.raises(TypeError, match="positional argument"):
            getattr(diffqr, op)(self.fw.asarray(_matrix()), "complete")

    @pytest.mark.parametrize("op", ["qr", "lq"])
    @pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, complex(1, np.nan)])
    def test_non_finite(self, op, value):
        """Checked in eager mode; check_finite=False lets NaN through to non-finite factors."""
        dtype = "complex128" if isinstance(value, complex) else "float64"
        if not self.fw.supports(dtype):
            pytest.skip(f"{self.framework} has no {dtype}")
        a = _matrix((2, 4, 3), dtype)
        a[1, 3, 2] = value  # in the last batch element only
        fn = getattr(diffqr, op)

        def values(out):  # lazy arrays (Dask) raise when computed
            return [self.fw.to_numpy(y) for y in out]

        with pytest.raises(ValueError, match=r"A contains NaN or Inf entries.*check_finite=False"):
            values(fn(self.fw.asarray(a)))
        with pytest.raises(ValueError, match="NaN or Inf"):
            values(fn(self.fw.asarray(a), pivoting=True))
        out = fn(self.fw.asarray(a), check_finite=False)
        triangular = self.fw.to_numpy(out[1] if op == "qr" else out[0])
        assert np.isfinite(triangular[0]).all() and not np.isfinite(triangular[1]).all()

    def test_mixed_array_types(self):
        if self.framework == "numpy" or self.fw.traces_numpy:
            pytest.skip("needs a second array type")
        a = _matrix((5, 3))
        q, r = np.linalg.qr(a)
        x = self.fw.asarray
        if backend_for(A=x(a)).accepts_numpy_in(["Q", "dA"]):
            # JAX, TensorFlow: NumPy converted as the framework's own operations convert it.
            for mixed, same in [
                (diffqr.qr_vjp(x(a), q, x(r), None, x(r)),
                 diffqr.qr_vjp(x(a), x(q), x(r), None, x(r))),
                (diffqr.lq_jvp(x(a.T), x(r.T), x(q.T), a.T)[0],
                 diffqr.lq_jvp(x(a.T), x(r.T), x(q.T), x(a.T))[0]),
            ]:
                np.testing.assert_allclose(self.fw.to_numpy(mixed), self.fw.to_numpy(same),
                                           atol=1e-12)
            return
        with pytest.raises(TypeError, match=r"one framework, but .*Q is a numpy array"):
            diffqr.qr_vjp(x(a), q, x(r), None, x(r))
        with pytest.raises(TypeError, match="dA is a numpy array"):
            diffqr.lq_jvp(x(a.T), x(r.T), x(q.T), a.T)

    def _rule_cases(self):
        """(call, message) pairs of mis-shaped arguments of the explicit rules."""
        x = self.fw.asarray
        a = _matrix((5, 3))
        q, r = np.linalg.qr(a)
        b = a.T  # LQ of b: L = rᵀ, Q = qᵀ
        l_, ql = r.T, q.T
        ones = np.ones
        return [
            (lambda: diffqr.qr_vjp(x(a), x(q), x(r), x(ones((2, 5, 3))), None),
             r"Q_bar must have the shape of Q, \(5, 3\); got \(2, 5, 3\)"),
            (lambda: diffqr.qr_vjp(x(a), x(q), x(r), None, x(ones((1, 3)))),
             "R_bar must have the shape of R"),
            (lambda: diffqr.qr_vjp(x(a), x(r), x(q), None, None), "Q and R must be factors of A"),
            (lambda: diffqr.qr_vjp(x(a[:4]), x(q), x(r), None, None),
             "Q and R must be factors of A"),
            (lambda: diffqr.qr_jvp(x(a), x(q), x(r), x(ones((3, 5)))),
             "dA must have the shape of A"),
            (lambda: diffqr.lq_vjp(x(b), x(l_), x(ql), x(ones((3, 5))), None),
             "L_bar must have the shape of L"),
            (lambda: diffqr.lq_jvp(x(b), x(ql), x(l_), x(b)), "L and Q must be factors of A"),
            (lambda: diffqr.qr_vjp(x(a), x(q), x(r), x(ones((5, 3), dtype="int64")), None),
             "Q_bar has dtype int64"),
        ]

    def test_explicit_rules_check_shapes(self):
        for call, message in self._rule_cases():
            with pytest.raises((ValueError, TypeError), match=message):
                call()

    def _gradient(self, call: Call, a: np.ndarray) -> np.ndarray:
        out = [self.fw.to_numpy(y) for y in call.differentiable(self.fw.asarray(a))]
        return vjp(self.fw, call, a, [np.ones_like(y) for y in out])

    @pytest.mark.parametrize("mode", ["reduced", "complete"])
    def test_rank_deficient_deep_lq(self, mode):
        """Deep LQ divides by its leading rows: dependent rows raise, pivoting rescues."""
        a = _matrix((6, 4))
        a[2] = a[0] - a[1]
        with pytest.raises(diffqr.RankDeficientError,
                           match=r"\[2\].*rows, for LQ.*pivoting=True, with rank=k"):
            self._gradient(Call("lq", mode), a)
        assert np.isfinite(self._gradient(Call("lq", pivoting=True, rank=3), a)).all()

    def test_rank_deficient_batch_element_is_named(self):
        a = _matrix((3, 5, 4))
        a[1, :, 3] = 0
        with pytest.raises(diffqr.RankDeficientError, match=r"\[3\] of batch element \(1,\)"):
            self._gradient(Call("qr"), a)
        # R alone has a derivative everywhere (Gram-consistent at rank deficiency): no error
        assert all(np.isfinite(t).all() for t in jvp(self.fw, Call("qr", "r"), a, a))

    def test_zero_matrix(self):
        a = np.zeros((4, 3))
        with pytest.raises(diffqr.RankDeficientError, match=r"\[0, 1, 2\]"):
            self._gradient(Call("qr", pivoting=True), a)
        with pytest.raises(diffqr.RankDeficientError):
            self._gradient(Call("lq", pivoting=True, rank=1), a)

    def test_complete_mode_with_trivial_first_reflector(self):
        """A first column along e1 makes LAPACK skip a reflector: Q[:n, :n] − I is singular."""
        a = np.array([[2.0, 1.0], [0.0, 3.0], [0.0, 4.0]])
        with pytest.raises(diffqr.RankDeficientError, match=r"Q\[:n, :n\] − I.*mode='reduced'"):
            self._gradient(Call("qr", "complete"), a)
        assert np.isfinite(self._gradient(Call("qr"), a)).all()


# ---------------------------------------------------------------------- hygiene

HYGIENE_INPUTS = (((6, 4), "complex128"), ((4, 6), "float64"), ((2, 5, 3), "float32"))
HYGIENE_CALLS = (Call("qr"), Call("qr", "complete"), Call("qr", "r"), Call("qr", pivoting=True),
                 Call("qr", pivoting=True, rank=2), Call("lq"), Call("lq", "complete"),
                 Call("lq", pivoting=True))


class Hygiene(FrameworkTests):
    """Inputs never mutated, bitwise-deterministic results, thread safety, lazy imports."""

    def freeze(self, x: Any) -> Any:
        """Make ``x`` fail loudly on an in-place write where the framework allows it."""
        return x

    def write_counters(self, arrays: dict[str, Any]) -> dict[str, int] | None:
        """In-place write counters of the arrays, where the framework keeps them."""
        return self.fw.write_counters(arrays)

    def workload(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Framework arrays passed to diffqr, and every public function called on them.

        Each operation returns NumPy arrays: forward calls, the explicit rules, and gradients
        through the framework's autodiff (or the explicit rules).
        """
        fw, rng = self.fw, np.random.default_rng(1)
        arrays: dict[str, Any] = {}
        ops: dict[str, Any] = {}

        def numpy_list(ys):
            return [fw.to_numpy(y) for y in ys]

        for shape, dtype in HYGIENE_INPUTS:
            if not fw.supports(dtype):
                continue
            key = f"{shape} {dtype}"
            a = _matrix(shape, dtype, seed=len(arrays))
            x = self.freeze(fw.asarray(a))
            q, r = (self.freeze(y) for y in diffqr.qr(x))
            l_, ql = (self.freeze(y) for y in diffqr.lq(x))
            cots = {name: self.freeze(fw.asarray(random_like(rng, fw.to_numpy(y))))
                    for name, y in (("q", q), ("r", r), ("l", l_), ("ql", ql), ("a", x))}
            arrays.update({f"{key} {name}": y for name, y in
                           {"A": x, "Q": q, "R": r, "L": l_, "QL": ql, **cots}.items()})
            for call in HYGIENE_CALLS:
                ops[f"{key} {call}"] = lambda c=call, x=x: (
                    numpy_list(c.outputs(x)[0] + [p for p in [c.outputs(x)[1]] if p is not None]))
                out = numpy_list(call.differentiable(x))
                grads = [random_like(rng, y) for y in out]
                ops[f"{key} gradient {call}"] = lambda c=call, a=a, g=grads: [vjp(fw, c, a, g)]
            ops[f"{key} qr_vjp"] = lambda x=x, q=q, r=r, c=cots: numpy_list(
                [diffqr.qr_vjp(x, q, r, c["q"], c["r"])])
            ops[f"{key} qr_jvp"] = lambda x=x, q=q, r=r, c=cots: numpy_list(
                diffqr.qr_jvp(x, q, r, c["a"]))
            ops[f"{key} lq_vjp"] = lambda x=x, l_=l_, q=ql, c=cots: numpy_list(
                [diffqr.lq_vjp(x, l_, q, c["l"], c["ql"])])
            ops[f"{key} lq_jvp"] = lambda x=x, l_=l_, q=ql, c=cots: numpy_list(
                diffqr.lq_jvp(x, l_, q, c["a"]))
        return arrays, ops

    def test_inputs_never_mutated(self):
        arrays, ops = self.workload()
        before = {name: self.fw.to_numpy(y).copy() for name, y in arrays.items()}
        counters = self.write_counters(arrays)
        for op in ops.values():
            op()
        for name, y in arrays.items():
            np.testing.assert_array_equal(self.fw.to_numpy(y), before[name], err_msg=name)
        assert self.write_counters(arrays) == counters

    def test_deterministic(self):
        _, ops = self.workload()
        for name, op in ops.items():
            first, second = op(), op()
            assert [y.tobytes() for y in first] == [y.tobytes() for y in second], name

    def test_threads_match_serial(self):
        """8 threads running every operation at once give the serial results, bit for bit."""
        if self.fw.not_thread_safe:
            pytest.skip(self.fw.not_thread_safe)
        _, ops = self.workload()
        serial = {name: [y.tobytes() for y in op()] for name, op in ops.items()}
        names = list(ops)
        start = threading.Barrier(8)

        def worker(i):
            start.wait()
            order = names[i:] + names[:i]  # different operations overlap in every thread
            return {name: [y.tobytes() for y in ops[name]()] for name in order}

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(worker, range(8)))
        for result in results:
            assert result == serial

    def test_import_loads_no_other_framework(self):
        """``import diffqr`` loads no framework; using one loads neither other frameworks (beyond
        what that framework imports itself) nor other adapters."""
        adapters = [f"diffqr._backends.{name}" for name in FRAMEWORKS]
        own = self.fw.module
        tests = str(Path(__file__).resolve().parents[1])
        harness_import = (f"sys.path.insert(0, {tests!r}); from conformance.backends import make; "
                          f"h = make({self.framework!r})")
        code = f"""
import sys
import numpy as np
import diffqr
from diffqr._dispatch import backend_for
assert not [m for m in {FRAMEWORKS!r} if m in sys.modules], "import diffqr loaded a framework"
{harness_import}
a = np.random.default_rng(0).standard_normal((5, 3))
x = h.asarray(a)
framework_loads = set(sys.modules)  # TensorFlow itself imports JAX where it is installed
q, r = diffqr.qr(x)
diffqr.qr(x, pivoting=True); diffqr.lq(x, mode="complete"); diffqr.qr_vjp(x, q, r, q, r)
if h.autodiff:
    h.vjp(lambda y: list(diffqr.qr(y)), [a], [h.to_numpy(q), h.to_numpy(r)])
loaded = [m for m in {[*FRAMEWORKS, *adapters]!r} if m in sys.modules]
bad = [m for m in loaded if m not in framework_loads
       and m not in ({own!r}, "diffqr._backends." + {self.framework!r})]
print(bad)
sys.exit(1 if bad else 0)
"""
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
