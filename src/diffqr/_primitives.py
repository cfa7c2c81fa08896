"""Differentiable primitives: a native forward plus the shared VJP and JVP rules.

Each framework adapter turns a :class:`Primitive` into a function of its own autodiff system with
one generic hook (``Backend.apply``): a ``torch.autograd.Function``, a ``jax.custom_jvp``, a
``tf.custom_gradient``, an MXNet custom function.  Adding a primitive here adds it to every
framework at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._backends.base import Backend, register_primitives
from ._rules import gram as gram_rules
from ._rules import lstsq as lstsq_rules
from ._rules import qr as qr_rules
from ._rules.cholesky_qr import cholesky_qr
from ._rules.small_qr import small_qr

Array = Any
Arrays = tuple[Array, ...]


@dataclass(frozen=True, eq=False)
class Primitive:
    """A function of arrays with its derivative rules.

    ``forward(xp, *inputs, **options) -> outputs`` uses native, non-differentiated kernels.
    ``vjp(xp, inputs, outputs, cotangents, **options) -> one cotangent per input`` and
    ``jvp(xp, inputs, outputs, tangents, **options) -> one tangent per output`` are written over the
    vocabulary; ``None`` stands for a zero cotangent/tangent on the way in.

    The last ``auxiliary`` outputs are helpers for the rules (a triangular factor), not
    differentiable: ``vjp`` gets cotangents and ``jvp`` returns tangents for the other outputs
    only.  A rule that needs the derivative of a helper calls another primitive instead.
    """

    name: str
    forward: Callable[..., Arrays]
    vjp: Callable[..., Arrays]
    jvp: Callable[..., Arrays]
    num_inputs: int
    option_names: tuple[str, ...]
    auxiliary: int = 0


def _qr_forward(xp: Backend, a: Array, *, mode: str, rank: int, method: str) -> Arrays:
    if method != "householder":  # "cholesky" or "auto" (the API checked the shape and options)
        factors = cholesky_qr(xp, a)
        if factors is not None:
            return factors
        if method == "cholesky":
            raise ValueError(
                "method='cholesky' cannot factor A: it is numerically rank deficient (condition "
                "number near 1/eps), or its values are not known here (jit/graph tracing). "
                "Use method='householder' (or 'auto', which falls back to it)."
            )
    if xp.small_batch(a):
        q, r = xp.fused(small_qr, a, complete=mode == "complete")
    else:
        q, r = xp.householder_qr(a, complete=mode == "complete")
    if rank < min(xp.shape(a)[-2:]):
        q, r = q[..., :, :rank], r[..., :rank, :]
    return q, r


def _qr_vjp(xp: Backend, inputs: Arrays, outputs: Arrays, cotangents: Arrays, **_: Any) -> Arrays:
    return (qr_rules.qr_vjp(xp, inputs[0], *outputs, *cotangents),)


def _qr_jvp(xp: Backend, inputs: Arrays, outputs: Arrays, tangents: Arrays, **_: Any) -> Arrays:
    if tangents[0] is None:
        return tuple(xp.zeros_like(x) for x in outputs)
    return qr_rules.qr_jvp(xp, inputs[0], *outputs, tangents[0])


QR = Primitive("qr", _qr_forward, _qr_vjp, _qr_jvp, num_inputs=1,
               option_names=("mode", "rank", "method"))


# QR_GRAM: the factors for R alone, outputs (R, Q).  Their derivative is defined everywhere: exact
# at full rank, Gram-consistent (dRᴴ R + Rᴴ dR = dAᴴ A + Aᴴ dA) at rank deficiency
# (diffqr._rules.gram).  Q is an output with a finite tangent, not an auxiliary one, so that
# differentiating the rule again (which uses Q) is exact at full rank.  The forward is QR's.
def _qr_gram_forward(xp: Backend, a: Array, *, method: str) -> Arrays:
    k = min(xp.shape(a)[-2:])
    q, r = xp.forward(QR, (a,), {"mode": "reduced", "rank": k, "method": method})
    return r, q


def _qr_gram_vjp(xp: Backend, inputs: Arrays, outputs: Arrays, cotangents: Arrays, **_: Any
                 ) -> Arrays:
    (r, q), (r_bar, q_bar) = outputs, cotangents
    if r_bar is None and q_bar is None:
        return (None,)
    return (gram_rules.gram_vjp(xp, inputs[0], q, r, q_bar, r_bar),)


def _qr_gram_jvp(xp: Backend, inputs: Arrays, outputs: Arrays, tangents: Arrays, **_: Any
                 ) -> Arrays:
    if tangents[0] is None:
        return tuple(xp.zeros_like(y) for y in outputs)
    dq, dr = gram_rules.gram_jvp(xp, inputs[0], outputs[1], outputs[0], tangents[0])
    return dr, dq


QR_GRAM = Primitive("qr_gram", _qr_gram_forward, _qr_gram_vjp, _qr_gram_jvp, num_inputs=1,
                    option_names=("method",))


# ---------------------------------------------------------------------- least squares
# LSTSQ[ridge]: inputs (A, λ, B) with a ridge, else (A, B); λ is (..., 1, 1).  The option
# ``dual`` selects X = Aᴴ (A Aᴴ + λ I)⁻¹ B (wide A) instead of (Aᴴ A + λ I)⁻¹ Aᴴ B.  The auxiliary
# output R is the triangular factor of the Gram matrix, handed to GRAM_SOLVE as a helper input.
# GRAM_SOLVE[ridge]: inputs (M, λ, V, R) or (M, V, R), output Z = (Mᴴ M + λ I)⁻¹ V with Rᴴ R that
# Gram matrix; R gets no derivative, the rules differentiate the Gram matrix itself.


def _split_ridge(inputs: Arrays, ridge: bool) -> tuple[Array, Array | None, Array]:
    return (inputs[0], inputs[1], inputs[2]) if ridge else (inputs[0], None, inputs[1])


def _join_ridge(a: Array, lam: Array | None, b: Array) -> Arrays:
    return (a, b) if lam is None else (a, lam, b)


def gram_solver(xp: Backend, r: Array) -> lstsq_rules.Solve:
    """``solve(M, λ, V) = (Mᴴ M + λ I)⁻¹ V``, a differentiable primitive; ``Rᴴ R`` is the Gram
    matrix."""

    def solve(m: Array, lam: Array | None, v: Array) -> Array:
        return xp.apply(GRAM_SOLVE[lam is not None], (*_join_ridge(m, lam, v), r), {})[0]

    return solve


def _lstsq_primitive(ridge: bool) -> Primitive:
    def forward(xp: Backend, *inputs: Array, dual: bool) -> Arrays:
        return lstsq_rules.solve_forward(xp, *_split_ridge(inputs, ridge), dual=dual)

    def vjp(xp: Backend, inputs: Arrays, outputs: Arrays, cotangents: Arrays, *, dual: bool
            ) -> Arrays:
        a, lam, b = _split_ridge(inputs, ridge)
        (x, r), (x_bar,) = outputs, cotangents
        if x_bar is None:
            return (None,) * len(inputs)
        a_bar, lam_bar, b_bar = lstsq_rules.lstsq_vjp(xp, gram_solver(xp, r), a, lam, b, x,
                                                      x_bar, dual=dual)
        return (a_bar, lam_bar, b_bar) if ridge else (a_bar, b_bar)

    def jvp(xp: Backend, inputs: Arrays, outputs: Arrays, tangents: Arrays, *, dual: bool
            ) -> Arrays:
        a, lam, b = _split_ridge(inputs, ridge)
        da, dlam, db = _split_ridge(tangents, ridge)
        x, r = outputs
        return (lstsq_rules.lstsq_jvp(xp, gram_solver(xp, r), a, lam, b, x, da, dlam, db,
                                      dual=dual),)

    return Primitive("lstsq_ridge" if ridge else "lstsq", forward, vjp, jvp,
                     num_inputs=3 if ridge else 2, option_names=("dual",), auxiliary=1)


def _gram_solve_primitive(ridge: bool) -> Primitive:
    def forward(xp: Backend, *inputs: Array) -> Arrays:
        return (lstsq_rules.gram_solve_forward(xp, inputs[-1], inputs[-2]),)

    def vjp(xp: Backend, inputs: Arrays, outputs: Arrays, cotangents: Arrays) -> Arrays:
        m, lam, _ = _split_ridge(inputs[:-1], ridge)
        (z_bar,) = cotangents
        if z_bar is None:
            return (None,) * len(inputs)
        m_bar, lam_bar, v_bar = lstsq_rules.gram_solve_vjp(xp, gram_solver(xp, inputs[-1]), m,
                                                           lam, outputs[0], z_bar)
        return (m_bar, lam_bar, v_bar, None) if ridge else (m_bar, v_bar, None)

    def jvp(xp: Backend, inputs: Arrays, outputs: Arrays, tangents: Arrays) -> Arrays:
        m, lam, _ = _split_ridge(inputs[:-1], ridge)
        dm, dlam, dv = _split_ridge(tangents[:-1], ridge)
        return (lstsq_rules.gram_solve_jvp(xp, gram_solver(xp, inputs[-1]), m, lam, outputs[0],
                                           dm, dlam, dv),)

    return Primitive("gram_solve_ridge" if ridge else "gram_solve", forward, vjp, jvp,
                     num_inputs=4 if ridge else 3, option_names=())


LSTSQ = {ridge: _lstsq_primitive(ridge) for ridge in (False, True)}
GRAM_SOLVE = {ridge: _gram_solve_primitive(ridge) for ridge in (False, True)}

# Every primitive, so adapters can build their hooks up front (outside any tracing).
PRIMITIVES = (QR, QR_GRAM, *LSTSQ.values(), *GRAM_SOLVE.values())
register_primitives(*PRIMITIVES)
