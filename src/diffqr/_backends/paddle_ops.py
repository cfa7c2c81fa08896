"""PaddlePaddle operations the adapter builds itself, and its autodiff hook ``connect``.

Paddle 3.3 has no double-backward for ``tril``/``triu``, ``linalg.triangular_solve``,
``linalg.solve``, ``real``/``imag`` and ``complex``, no complex ``solve``, ``cholesky`` or
``take_along_axis``: the versions here use only operations that differentiate to any order
(``where``, ``matmul``, ``as_real``/``as_complex``, ...) or are themselves :func:`connect`-ed
functions whose backward calls them again, so ``create_graph=True`` goes to any order.

:func:`connect` ties precomputed outputs to their inputs with one ``PyLayer`` per input that
needs a gradient.  One layer for all inputs fails under ``paddle.grad(ys, [A])`` when another
input also requires a gradient: paddle then demands ``None`` for that input from the backward,
which cannot see which inputs were asked for.  A layer per input is skipped whole instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import paddle
from paddle.autograd import PyLayer

from . import _host

_COMPLEX = (paddle.complex64, paddle.complex128)


def is_complex(a: paddle.Tensor) -> bool:
    return a.dtype in _COMPLEX  # Tensor.is_complex costs ~15 µs a call


def mH(a: paddle.Tensor) -> paddle.Tensor:
    perm = [*range(a.ndim - 2), a.ndim - 1, a.ndim - 2]
    t = paddle.transpose(a, perm)
    return paddle.conj(t) if is_complex(t) else t


def band(a: paddle.Tensor, k: int, *, lower: bool) -> paddle.Tensor:
    """``tril(a, k)`` (``lower``) or ``triu(a, k)`` by a mask: ``where`` has a double backward."""
    m, n = a.shape[-2:]
    below = np.tri(m, n, k if lower else k - 1, dtype=bool)
    return paddle.where(paddle.to_tensor(below if lower else ~below), a, paddle.zeros_like(a))


def real(a: paddle.Tensor) -> paddle.Tensor:
    return paddle.as_real(a)[..., 0] if is_complex(a) else a


def take_columns(a: paddle.Tensor, perm: paddle.Tensor) -> paddle.Tensor:
    """``a[..., :, perm]``; complex through its real view (no complex ``take_along_axis``)."""
    index = paddle.broadcast_to(perm.unsqueeze(-2), a.shape)
    if not is_complex(a):
        return paddle.take_along_axis(a, index, axis=-1)
    pair = paddle.as_real(a)
    index = paddle.broadcast_to(index.unsqueeze(-1), pair.shape)
    return paddle.as_complex(paddle.take_along_axis(pair, index, axis=-2))


def cholesky_on_host(a: paddle.Tensor) -> paddle.Tensor:
    """Upper Cholesky factor (NaN where not positive definite), not differentiated."""
    return paddle.to_tensor(_host.cholesky_upper(a.numpy()))


def unbroadcast(g: paddle.Tensor, shape: list[int]) -> paddle.Tensor:
    """Sum the cotangent ``g`` over the batch axes its array was broadcast along."""
    lead = g.ndim - len(shape)
    axes = [*range(lead), *(lead + i for i, s in enumerate(shape[:-2]) if s == 1
                            and g.shape[lead + i] != 1)]
    return g.sum(axis=axes).reshape(shape) if axes else g


# ---------------------------------------------------------------------- the autodiff hook


class _Link:
    """What a :class:`_Tie` layer needs in its backward: inputs, outputs and the VJP of all
    inputs, computed once per set of cotangents however many layers ask for it."""

    def __init__(self, inputs, outputs, vjp):
        self.inputs, self.outputs, self.vjp = inputs, outputs, vjp
        self._cached: tuple[tuple, tuple] | None = None

    def grads(self, cotangents: tuple) -> tuple:
        if self._cached is None or any(a is not b for a, b in
                                       zip(self._cached[0], cotangents, strict=True)):
            self._cached = (cotangents, tuple(self.vjp(cotangents)))
        return self._cached[1]


class _Tie(PyLayer):
    """The outputs as a function of one input ``x = link.inputs[index]``."""

    @staticmethod
    def forward(ctx, x, link, index):
        ctx.link, ctx.index = link, index
        ctx.set_materialize_grads(False)
        return tuple(y.clone() for y in link.outputs)

    @staticmethod
    def backward(ctx, *cotangents):
        link, index = ctx.link, ctx.index
        x = link.inputs[index]
        # Nothing flows through empty arrays (and paddle's double backward fails on them).
        if all(c is None or c.size == 0 for c in cotangents) or x.size == 0:
            return paddle.zeros_like(x)
        grad = link.grads(cotangents)[index]
        return paddle.zeros_like(x) if grad is None else grad


class _TieZeros(_Tie):
    """Zeros shaped like the outputs, with the gradient of :class:`_Tie`.  A class of its own,
    not an option: ``paddle.jit.to_static`` (SOT) reuses a PyLayer's forward across calls that
    differ only in a Python argument (it returned the values twice)."""

    @staticmethod
    def forward(ctx, x, link, index):
        ctx.link, ctx.index = link, index
        ctx.set_materialize_grads(False)
        return tuple(paddle.zeros_like(y) for y in link.outputs)


def connect(inputs: tuple, outputs: tuple, vjp: Callable[[tuple], tuple]) -> tuple:
    """``outputs`` (computed without gradient) tied to ``inputs`` through ``vjp(cotangents)``,
    which returns one cotangent (or ``None``) per input; ``None`` cotangents are zeros."""
    live = [i for i, x in enumerate(inputs) if not x.stop_gradient]
    if not live or not paddle.is_grad_enabled():
        return outputs
    link = _Link(inputs, outputs, vjp)
    parts = [(_TieZeros if j else _Tie).apply(inputs[i], link, i) for j, i in enumerate(live)]
    parts = [p if isinstance(p, tuple | list) else (p,) for p in parts]
    return tuple(sum(ys[1:], ys[0]) for ys in zip(*parts, strict=True))


# ---------------------------------------------------------------------- solves, to any order


def solve_triangular(r: Any, b: Any, *, upper: bool, adjoint: bool) -> paddle.Tensor:
    """``op(r)⁻¹ b`` (``op`` = identity or ``ᴴ``), differentiable to any order."""
    with paddle.no_grad():
        # Paddle's ``transpose`` is the plain transpose: conjugate for the adjoint.
        system = paddle.conj(r) if adjoint and is_complex(r) else r
        x = paddle.linalg.triangular_solve(system, b, upper=upper, transpose=adjoint)

    def vjp(cotangents):  # b̄ = op(r)⁻ᴴ x̄,  op(r)̄ = −b̄ xᴴ on op(r)'s triangle
        (x_bar,) = cotangents
        tied = connect((r, b), (x,), vjp)[0]
        b_bar = solve_triangular(r, x_bar, upper=upper, adjoint=not adjoint)
        op_bar = -paddle.matmul(b_bar, mH(tied))
        r_bar = band(mH(op_bar) if adjoint else op_bar, 0, lower=not upper)
        return unbroadcast(r_bar, r.shape), unbroadcast(b_bar, b.shape)

    return connect((r, b), (x,), vjp)[0]


def solve(a: Any, b: Any) -> paddle.Tensor:
    """``a⁻¹ b`` for a square ``a``, differentiable to any order (complex too)."""
    with paddle.no_grad():
        if is_complex(a):  # no complex kernel: solve [[Re a, −Im a], [Im a, Re a]]
            ar, ai = paddle.as_real(a)[..., 0], paddle.as_real(a)[..., 1]
            big = paddle.concat([paddle.concat([ar, -ai], -1), paddle.concat([ai, ar], -1)], -2)
            rhs = paddle.concat([paddle.as_real(b)[..., 0], paddle.as_real(b)[..., 1]], -2)
            y = paddle.linalg.solve(big, rhs)
            k = a.shape[-1]
            x = paddle.as_complex(paddle.stack([y[..., :k, :], y[..., k:, :]], axis=-1))
        else:
            x = paddle.linalg.solve(a, b)

    def vjp(cotangents):  # b̄ = a⁻ᴴ x̄,  ā = −b̄ xᴴ
        (x_bar,) = cotangents
        tied = connect((a, b), (x,), vjp)[0]
        b_bar = solve(mH(a), x_bar)
        return unbroadcast(-paddle.matmul(b_bar, mH(tied)), a.shape), unbroadcast(b_bar, b.shape)

    return connect((a, b), (x,), vjp)[0]
