"""The triangular solve of the autograd adapter, an autograd primitive of its own.

Its VJP and JVP call it again, so the QR and least-squares rules, which solve with a triangular
factor, differentiate to any order when autograd traces them.  Cotangents are converted between
autograd's convention (``∂ℓ/∂Re X − i ∂ℓ/∂Im X``) and diffqr's (the conjugate) at its boundary.
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
from autograd.extend import defjvp_argnums, defvjp_argnums, primitive
from autograd.tracer import getval

from . import _host


def conj_cotangent(x):
    """Between autograd's cotangent convention and diffqr's (a no-op for real arrays)."""
    return None if x is None else anp.conj(x) if np.iscomplexobj(getval(x)) else x


def _mH(a):
    return anp.conj(anp.swapaxes(a, -1, -2))


def _shape(a):
    return np.shape(getval(a))


@primitive
def solve_left(r, b, *, upper, adjoint):
    """``op(r)⁻¹ b`` (``op`` = identity or ``ᴴ``), LAPACK on the raw arrays."""
    return _host.solve_triangular(r, b, lower=not upper, trans="C" if adjoint else "N")


def _solve_vjp(argnums, x, inputs, options):
    r, _ = inputs
    upper, adjoint = options["upper"], options["adjoint"]

    def vjp(g):  # diffqr convention: b̄ = op(r)⁻ᴴ x̄,  op(r)̄ = −b̄ xᴴ on op(r)'s triangle
        b_bar = solve_left(r, conj_cotangent(g), upper=upper, adjoint=not adjoint)
        op_bar = -anp.matmul(b_bar, _mH(x))
        r_bar = _mH(op_bar) if adjoint else op_bar
        r_bar = anp.triu(r_bar) if upper else anp.tril(r_bar)
        grads = {0: conj_cotangent(r_bar), 1: conj_cotangent(b_bar)}
        return tuple(_unbroadcast(grads[i], _shape(inputs[i])) for i in argnums)

    return vjp


def _solve_jvp(argnums, tangents_in, x, inputs, options):
    r, _ = inputs
    upper, adjoint = options["upper"], options["adjoint"]
    rhs = 0.0
    for i, t in zip(argnums, tangents_in, strict=True):
        if i == 1:
            rhs = rhs + t
        else:  # d(op(r)) x with d(op(r)) on op(r)'s triangle
            dr = anp.triu(t) if upper else anp.tril(t)
            rhs = rhs - anp.matmul(_mH(dr) if adjoint else dr, x)
    rhs = rhs + np.zeros(_shape(x), dtype=np.result_type(getval(x)))  # the shape of x
    return solve_left(r, rhs, upper=upper, adjoint=adjoint)


def _unbroadcast(x, shape):
    """Sum a cotangent over the batch axes its array was broadcast along."""
    lead = len(_shape(x)) - len(shape)
    if lead:
        x = anp.sum(x, axis=tuple(range(lead)))
    axes = tuple(i for i, s in enumerate(shape[:-2]) if s == 1 and _shape(x)[i] != 1)
    return anp.sum(x, axis=axes, keepdims=True) if axes else x


defvjp_argnums(solve_left, _solve_vjp)
defjvp_argnums(solve_left, _solve_jvp)
