"""What every framework adapter provides: a small array vocabulary and the native hooks.

The rules in :mod:`diffqr._rules` are written once against the vocabulary below (``xp.matmul``,
``xp.mH``, ``xp.tril``, ...), plus slicing and ``+ - *`` on the arrays themselves.  An adapter
implements the vocabulary with its framework's own differentiable operations, so a rule evaluated on
that framework's arrays is itself differentiable (double backward, forward-over-reverse, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import _tuning

Array = Any

SUPPORTED_DTYPES = ("float32", "float64", "complex64", "complex128")
# ``Backend.numpy_operands`` value: NumPy may stand in any argument position.
ANY_ARGUMENT = "any"
# The ridge and its tangent are real scalars: they never set the dtype of a promotion.
RIDGE_ARGUMENTS = frozenset({"ridge", "d_ridge"})


def operand_names(arrays: dict[str, Any]) -> list[str]:
    """The arguments of ``arrays`` that take part in dtype promotion (the matrices, not ``λ``)."""
    return [k for k, v in arrays.items() if v is not None and k not in RIDGE_ARGUMENTS]


class Backend:
    """Base class of the framework adapters.

    Subclasses implement the vocabulary used by the rules and the native hooks used by the public
    functions.  Each adapter module is imported only once the user hands diffqr one of its arrays.
    """

    name: str = "?"
    # NumPy arrays (and lists) passed beside this framework's arrays: the argument names where
    # the framework's own operations accept them (ANY_ARGUMENT: everywhere; empty: a TypeError),
    # converted by :meth:`promote_numpy_operands`.
    numpy_operands: frozenset[str] | str = frozenset()

    @property
    def accepts_numpy_operands(self) -> bool:
        return bool(self.numpy_operands)

    def accepts_numpy_in(self, names: list[str]) -> bool:
        """True if NumPy may stand in every one of the arguments ``names``."""
        return self.numpy_operands == ANY_ARGUMENT or set(names) <= set(self.numpy_operands)

    def promote_numpy_operands(self, arrays: dict[str, Array], numpy_names: list[str]
                               ) -> dict[str, Array]:
        """``arrays`` with the NumPy ones (``numpy_names``) converted, and dtypes promoted, as
        the framework's own operations do; differentiation flows through the framework's
        arguments.  The default keeps NumPy arrays as they are (autograd's constants)."""
        return arrays

    # ------------------------------------------------------------------ vocabulary for the rules
    def matmul(self, a: Array, b: Array) -> Array:
        return a @ b

    def addmm(self, c: Array, a: Array, b: Array, *, alpha: float = 1.0) -> Array:
        """``c + alpha · (a @ b)``, one fused product where the framework has one (GEMM β = 1)."""
        product = self.matmul(a, b)
        return c + product if alpha == 1.0 else c + alpha * product

    def real_times(self, s: Array, a: Array) -> Array:
        """``s · a`` for a real ``s`` and a possibly complex ``a`` (TensorFlow does not promote)."""
        return s * a

    def mH(self, a: Array) -> Array:
        """Conjugate transpose of the last two axes."""
        raise NotImplementedError

    def mH_resolved(self, a: Array) -> Array:
        """:meth:`mH` for a result handed to the user: materialized where the framework's
        conjugate transpose is a lazy view the user's own ops would not return (torch's
        conjugate bit); the same as :meth:`mH` elsewhere."""
        return self.mH(a)

    def tril(self, a: Array, k: int = 0) -> Array:
        raise NotImplementedError

    def triu(self, a: Array, k: int = 0) -> Array:
        raise NotImplementedError

    def triangles(self, lower: Array, upper: Array) -> Array:
        """The lower triangle (with the diagonal) of ``lower`` and the strictly upper one of
        ``upper``, as one matrix."""
        return self.tril(lower) + self.triu(upper, 1)

    def solve_triangular(
        self, r: Array, b: Array, *, upper: bool, left: bool = True, adjoint: bool = False
    ) -> Array:
        """Solve ``op(r) x = b`` (``left``) or ``x op(r) = b``, ``op`` = identity or ``ᴴ``."""
        raise NotImplementedError

    def block_2x2(self, a11: Array, a12: Array, a21: Array, a22: Array) -> Array:
        """The block matrix ``[[a11, a12], [a21, a22]]``; adapters may fill one result in place
        of concatenating twice."""
        return self.concat([self.concat([a11, a12], axis=-1), self.concat([a21, a22], axis=-1)],
                           axis=-2)

    def concat_product(self, left: Array, a: Array, b: Array) -> Array:
        """``[left | a @ b]`` along the last axis; adapters may write the product straight into
        the result instead of copying it there."""
        return self.concat([left, self.matmul(a, b)], axis=-1)

    def right_solve_consuming(self, r: Array, g: Array) -> Array:
        """``g r⁻ᴴ`` for an upper triangular ``r``, where ``g`` is a fresh temporary of the rule
        that it no longer needs: adapters may overwrite it with the result (one ``m × k`` result
        fewer to allocate and fill)."""
        return self.solve_triangular(r, g, upper=True, left=False, adjoint=True)

    def cholesky(self, a: Array) -> Array:
        """Upper-triangular ``r`` with ``rᴴ r = a`` (Hermitian positive definite ``a``); NaN
        entries where ``a`` is not numerically positive definite.  Not differentiated."""
        raise NotImplementedError

    def solve(self, a: Array, b: Array) -> Array:
        """Solve the general square system ``a x = b``."""
        raise NotImplementedError

    def concat(self, arrays: list[Array], axis: int) -> Array:
        raise NotImplementedError

    def sum(self, a: Array, axis: tuple[int, ...]) -> Array:
        """Sum over the given (non-empty) axes, dropping them."""
        return a.sum(axis=axis)

    def zeros_like(self, a: Array) -> Array:
        return a * 0

    def eye_like(self, a: Array, n: int) -> Array:
        """The ``n × n`` identity with ``a``'s dtype (broadcasts against batches)."""
        raise NotImplementedError

    def real(self, a: Array) -> Array:
        raise NotImplementedError

    def sqrt(self, a: Array) -> Array:
        return a**0.5

    def where(self, condition: Array, a: Array, b: Array) -> Array:
        """``a`` where ``condition`` holds, else ``b`` (broadcasting), elementwise: a decision on
        values that is the same eagerly and under jit/vmap/graphs."""
        raise NotImplementedError

    def max_abs(self, a: Array) -> Array:
        """The largest ``|a_ij|`` of each matrix, as a ``(…, 1, 1)`` array (NaN if any is NaN)."""
        raise NotImplementedError

    def fused(self, function: Any, *args: Array, **options: Any) -> Any:
        """``function(self, *args, **options)`` for rules made of many small operations across a
        batch: JAX compiles it as one ``jit`` (keyed by ``function`` and the static ``options``),
        NumPy hands it the arrays stored batch-last."""
        return function(self, *args, **options)

    def small_batch(self, a: Array) -> bool:
        """Whether :func:`diffqr._rules.small_qr.small_qr` replaces the framework's QR for ``a``:
        a real batch of small matrices within this framework's limits in
        ``_tuning.SMALL_QR`` (fast paths on)."""
        limits = _tuning.SMALL_QR.get(self.name)
        if limits is None or not _tuning.fast_paths_enabled():
            return False
        shape = self.shape(a)
        if len(shape) < 3:
            return False
        max_size, min_batch = limits
        return (0 < min(shape[-2:]) and max(shape[-2:]) <= max_size
                and int(np.prod(shape[:-2])) >= min_batch
                and self.dtype_name(a) in ("float32", "float64"))

    def unless_flagged(self, flagged: Array, outputs: tuple[Array, ...],
                       fallback: Any) -> tuple[Array, ...]:
        """``outputs``, or ``fallback()`` if any entry of the boolean ``flagged`` is set (also
        when its values are unknown here).  JAX decides inside the computation (``lax.cond``)."""
        host = self.to_host(flagged)
        return fallback() if host is None or host.any() else outputs

    def shape(self, a: Array) -> tuple[int, ...]:
        return tuple(a.shape)

    # ------------------------------------------------------------------ host-side inspection
    def to_host(self, a: Array) -> np.ndarray | None:
        """``a`` as a NumPy array, or ``None`` when its values are not known (traced/compiled)."""
        raise NotImplementedError

    def abs_diagonal_on_host(self, a: Array) -> np.ndarray | None:
        """``|diag a|`` as a NumPy array ``(..., k)``, or ``None`` when ``a`` is traced."""
        host = self.to_host(a)
        return None if host is None else np.abs(np.diagonal(host, axis1=-2, axis2=-1))

    def check_diagonal(self, a: Array, check: Callable[..., None]) -> Array:
        """``a``, checked by ``check(|diag a|)`` (NumPy, ``(..., k)``; it raises or returns).

        At once where the values are known.  Lazy arrays (Dask) return ``a`` with the check
        attached, run on each block when it is computed as ``check(|diag block|,
        batch_offset=...)``, the block's first batch index; use the returned array.  Traced
        values (jit, graphs, vmap) stay unchecked, as documented.
        """
        diag = self.abs_diagonal_on_host(a)
        if diag is not None:
            check(diag)
        return a

    def singular_values_on_host(self, a: Array) -> np.ndarray | None:
        """The singular values of a small ``a`` (..., k, k) as NumPy, or ``None`` when ``a`` is
        traced; adapters whose arrays stay on a device compute them there."""
        host = self.to_host(a)
        if host is None or host.size == 0:
            return None
        return np.linalg.svd(host, compute_uv=False)

    def deferred_finite_check(self, a: Array, message: str) -> Array:
        """``a``, checked for NaN/Inf when its values become known, raising ``ValueError(message)``.

        For lazy arrays (Dask), whose values :meth:`to_host` cannot give; traced values (jit,
        graphs, vmap) stay unchecked, as documented.
        """
        return a

    def dtype_name(self, a: Array) -> str:
        raise NotImplementedError

    # ------------------------------------------------------------------ native hooks
    def householder_qr(self, a: Array, *, complete: bool) -> tuple[Array, Array]:
        """The framework's own (LAPACK-gauge) QR, not differentiated."""
        raise NotImplementedError

    def qr_r(self, a: Array) -> Array:
        """``R`` (..., k, n) of the reduced QR, not differentiated; adapters skip forming ``Q``.

        Least squares factors ``[A | B]``: the top-right block of its ``R`` is ``Qᴴ B``.
        """
        return self.householder_qr(a, complete=False)[1]

    def column_pivots(self, a: Array, rank: int | None) -> Array:
        """Column-pivoting permutation ``(..., n)`` (int64), held constant under differentiation.

        With a truncation ``rank``, the pivots after the first ``rank`` come sorted
        (see :func:`diffqr._backends._host.householder_pivots`).
        """
        raise NotImplementedError

    def take_columns(self, a: Array, perm: Array) -> Array:
        """``a[..., :, perm]`` with a batch of permutations, differentiable in ``a``."""
        raise NotImplementedError

    def native_forward(self, primitive: Any, inputs: tuple[Array, ...], options: dict[str, Any]
                       ) -> tuple[Array, ...] | None:
        """A framework's own kernel for ``primitive``'s forward pass, or ``None`` (the default)
        where it has none for these inputs and options.  Overridden by fast-path modules
        (``_backends/<framework>_*.py``), which recognize a primitive by ``primitive.name``."""
        return None

    def forward(self, primitive: Any, inputs: tuple[Array, ...], options: dict[str, Any]
                ) -> tuple[Array, ...]:
        """``primitive``'s forward pass (not differentiated): :meth:`native_forward` where it
        applies and fast paths are on (:func:`diffqr.fast_paths`), else the primitive's own."""
        if _tuning.fast_paths_enabled():
            outputs = self.native_forward(primitive, inputs, options)
            if outputs is not None:
                return outputs
        return primitive.forward(self, *inputs, **options)

    def apply(self, primitive: Any, inputs: tuple[Array, ...], options: dict[str, Any]) -> Any:
        """Evaluate a :class:`diffqr._primitives.Primitive`, hooked into the framework's autodiff.

        ``options`` are static (strings, ints, bools): they select the variant, never
        differentiated.  The last ``primitive.auxiliary`` outputs are not differentiable: mark
        them so, drop their cotangents before calling ``primitive.vjp``, and give them zero
        (or ``None``) tangents after ``primitive.jvp``.  Rules may call ``apply`` again (nested
        primitives), so higher derivatives go through the same hook.
        """
        raise NotImplementedError

    def apply_adjoint(self, primitive: Any, inputs: tuple[Array, ...], options: dict[str, Any]
                      ) -> Any:
        """:meth:`apply` to the conjugate transposes of ``inputs``, returning the conjugate
        transposes of its outputs: LQ is the adjoint of QR.  Adapters whose transposes are copies
        (MXNet) override it to factor ``A`` directly."""
        outputs = self.apply(primitive, tuple(self.mH(x) for x in inputs), options)
        return tuple(self.mH_resolved(y) for y in outputs)


# The differentiable primitives (diffqr._primitives registers them at import).  Adapters that
# build their autodiff hooks up front (outside any tracing) read them here, so an adapter never
# imports the layer above it.
PRIMITIVES: list[Any] = []


def register_primitives(*primitives: Any) -> None:
    """Add primitives to :data:`PRIMITIVES` (called once by ``diffqr._primitives``)."""
    PRIMITIVES.extend(p for p in primitives if p not in PRIMITIVES)
