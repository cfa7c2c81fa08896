"""PyTorch adapter: each primitive becomes an ``autograd.Function`` running the shared rules.

The rules run on torch tensors through the vocabulary below, so autograd records them too (double
backward, forward-over-reverse), and ``torch.func`` and ``torch.compile`` trace them.
``generate_vmap_rule`` lets ``torch.func.vmap`` batch the functions.
"""

from __future__ import annotations

import numpy as np
import torch

from .._primitives import PRIMITIVES
from . import torch_small
from .base import Backend
from .numpy import householder_pivots


def _on_host(a: torch.Tensor, prepare=lambda t: t) -> np.ndarray | None:
    """``prepare(a)`` as a NumPy array, or None where ``a``'s values are unknown.

    Inside torch.func.grad/jvp the values are known: unwrap them.  Under torch.compile tracing
    and inside vmap (a batch of values in one wrapper) they are not.
    """
    if torch.compiler.is_compiling():
        return None
    functorch = torch._C._functorch
    while functorch.is_functorch_wrapped_tensor(a):
        if functorch.is_batchedtensor(a):
            return None
        a = functorch.get_unwrapped(a)
    with torch._C._DisableFuncTorch():
        return prepare(a.detach()).cpu().resolve_conj().numpy()


class TorchBackend(Backend):
    name = "torch"

    def matmul(self, a, b):
        if torch_small.takes(a, b):
            return torch_small.matmul(a, b)
        return torch.matmul(a, b)

    def addmm(self, c, a, b, *, alpha=1.0):
        if torch_small.takes(a, b):
            return torch.add(c, torch_small.matmul(a, b), alpha=alpha)
        if c.ndim == a.ndim == b.ndim == 2:
            return torch.addmm(c, a, b, alpha=alpha)
        if c.ndim == a.ndim == b.ndim == 3 and c.shape[0] == a.shape[0] == b.shape[0]:
            return torch.baddbmm(c, a, b, alpha=alpha)
        return torch.add(c, torch.matmul(a, b), alpha=alpha)

    def mH(self, a):
        return a.mH

    def tril(self, a, k=0):
        if _many_small_matrices(a):
            return _masked(a, torch.ones(a.shape[-2:], dtype=torch.bool, device=a.device).tril(k))
        return torch.tril(a, k)

    def triu(self, a, k=0):
        if _many_small_matrices(a):
            return _masked(a, torch.ones(a.shape[-2:], dtype=torch.bool, device=a.device).triu(k))
        return torch.triu(a, k)

    def triangles(self, lower, upper):
        below = torch.ones(lower.shape[-2:], dtype=torch.bool, device=lower.device).tril()
        return torch.where(below, lower, upper)

    def solve_triangular(self, r, b, *, upper, left=True, adjoint=False):
        if adjoint:
            r, upper = r.mH, not upper
        if _many_tiny_systems(r, b):
            if left:
                return _substitute(r, b, upper=upper)
            # x r = b  <=>  rᵀ xᵀ = bᵀ  (plain transposes: no conjugation involved)
            return _substitute(r.mT, b.mT, upper=not upper).mT
        if not left and b.dtype in _LEFT_SOLVE_DTYPES and b.is_contiguous():
            # x r = b  <=>  rᴴ xᴴ = bᴴ: bᴴ is column-major, as LAPACK wants it, so neither b nor
            # x is transposed in memory (a row-major x is also what autograd accumulates).
            return torch.linalg.solve_triangular(r.mH, b.mH, upper=not upper).mH
        return torch.linalg.solve_triangular(r, b, upper=upper, left=left)

    def block_2x2(self, a11, a12, a21, a22):
        blocks = (a11, a12, a21, a22)
        if len({x.dtype for x in blocks}) > 1 or not _graph_free(*blocks):
            return super().block_2x2(a11, a12, a21, a22)
        batch = torch.broadcast_shapes(*(x.shape[:-2] for x in blocks))
        rows, columns = a11.shape[-2], a11.shape[-1]
        out = a11.new_empty((*batch, rows + a21.shape[-2], columns + a12.shape[-1]))
        out[..., :rows, :columns] = a11
        out[..., :rows, columns:] = a12
        out[..., rows:, :columns] = a21
        out[..., rows:, columns:] = a22
        return out

    def concat_product(self, left, a, b):
        if left.dtype != a.dtype or a.dtype != b.dtype or not _graph_free(left, a, b):
            return super().concat_product(left, a, b)
        batch = torch.broadcast_shapes(left.shape[:-2], a.shape[:-2], b.shape[:-2])
        width = left.shape[-1]
        out = left.new_empty((*batch, left.shape[-2], width + b.shape[-1]))
        out[..., :width] = left
        torch.matmul(a, b, out=out[..., width:])
        return out

    def cholesky(self, a):
        r, info = torch.linalg.cholesky_ex(a, upper=True)
        return torch.where((info == 0)[..., None, None], r, torch.nan)

    def solve(self, a, b):
        return torch.linalg.solve(a, b)

    def concat(self, arrays, axis):
        return torch.cat(arrays, dim=axis)

    def zeros_like(self, a):
        return torch.zeros_like(a)

    def eye_like(self, a, n):
        return torch.eye(n, dtype=a.dtype, device=a.device)

    def real(self, a):
        return a.real

    def to_host(self, a):
        return _on_host(a)

    def abs_diagonal_on_host(self, a):
        return _on_host(a, lambda t: torch.diagonal(t, dim1=-2, dim2=-1).abs())

    def dtype_name(self, a):
        return str(a.dtype).removeprefix("torch.")

    def householder_qr(self, a, *, complete):
        if torch_small.applies(a) and _plain(a):
            return torch_small.householder_qr(a.detach(), complete=complete)
        return torch.linalg.qr(a, mode="complete" if complete else "reduced")

    def qr_r(self, a):
        return torch.linalg.qr(a, mode="r")[1]

    def column_pivots(self, a, rank):
        return _column_pivots(a.detach(), rank)

    def take_columns(self, a, perm):
        return torch.take_along_dim(a, perm[..., None, :], dim=-1)

    def apply(self, primitive, inputs, options):
        # Dynamo cannot trace a Function with a custom jvp, so compiled code gets the variant
        # without forward mode (reverse mode, the common case, compiles without graph breaks).
        compiling = torch.compiler.is_compiling()
        if compiling and not (torch.is_grad_enabled() and any(x.requires_grad for x in inputs)):
            # Nothing to differentiate, and dynamo would call forward with a ctx argument.
            return primitive.forward(self, *inputs, **options)
        function = _FUNCTIONS[primitive.name][not compiling]
        return function.apply(*inputs, *(options[name] for name in primitive.option_names))


BACKEND = TorchBackend()

# Below this size a batched LAPACK triangular solve is dominated by its per-matrix call overhead:
# substitution, vectorized over the batch, is several times faster for 10⁴ systems of size 3.
_TINY_SIZE = 4
_MANY_SYSTEMS = 256
# MKL's double-precision trsm runs as fast from the left as from the right, so the left form
# saves the transposing copies (backward of 2000 × 500: 99 → 89 ms); its single-precision left
# trsm is slower than the copies cost (13 → 16-20 ms), and for complex bᴴ the conjugation is
# a copy of its own (backward 269 → 309 ms).
_LEFT_SOLVE_DTYPES = (torch.float64,)


def _plain(*tensors: torch.Tensor) -> bool:
    """Eager tensors with values: not traced by torch.compile, not wrapped by torch.func (or the
    legacy vmap of gradcheck's batched gradients)."""
    if torch.compiler.is_compiling():
        return False
    functorch = torch._C._functorch
    return not any(functorch.is_functorch_wrapped_tensor(t) or functorch.is_legacy_batchedtensor(t)
                   for t in tensors)


def _graph_free(*tensors: torch.Tensor) -> bool:
    """True when no autodiff records operations on ``tensors`` (eager, e.g. a first-order
    backward), so results may be written into temporaries instead of fresh tensors."""
    return _plain(*tensors) and not (
        torch.is_grad_enabled() and any(t.requires_grad for t in tensors))


def _many_small_matrices(a: torch.Tensor) -> bool:
    # torch.tril/triu of a batch of small matrices cost ~5x a masked select (measured 10⁴ × 3 × 3).
    return a.ndim > 2 and a.shape[-1] * a.shape[-2] <= 1024 and a.shape[:-2].numel() >= 64


def _masked(a: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``a`` where ``keep``, exact zeros elsewhere (also where ``a`` is NaN or infinite)."""
    return torch.where(keep, a, torch.zeros((), dtype=a.dtype, device=a.device))


def _many_tiny_systems(r: torch.Tensor, b: torch.Tensor) -> bool:
    batch = b.shape[:-2]
    return r.shape[-1] <= _TINY_SIZE and len(batch) > 0 and batch.numel() >= _MANY_SYSTEMS


def _substitute(t: torch.Tensor, b: torch.Tensor, *, upper: bool) -> torch.Tensor:
    """Solve ``t x = b`` for a tiny triangular ``t`` by forward/back substitution, row by row
    (in place into a new tensor of ``b``'s layout when autodiff does not record it)."""
    k = t.shape[-1]
    order = range(k - 1, -1, -1) if upper else range(k)
    if _graph_free(t, b) and t.shape[:-2] == b.shape[:-2]:
        out = torch.empty_like(b)  # b's layout (e.g. batch-last) kept
        for i in order:
            row = out[..., i, :]
            row.copy_(b[..., i, :])
            for j in range(i + 1, k) if upper else range(i):
                row.addcmul_(t[..., i, j, None], out[..., j, :], value=-1)
            row.div_(t[..., i, i, None])
        return out
    rows: list[torch.Tensor] = [b[..., 0, :]] * k
    for i in order:
        acc = b[..., i, :]
        for j in range(i + 1, k) if upper else range(i):
            acc = acc - t[..., i, j, None] * rows[j]
        rows[i] = acc / t[..., i, i, None]
    return torch.stack(rows, dim=-2)


# The pivot choice is a custom operator: opaque to torch.compile (no graph break), batched by
# its own vmap rule, and fed detached input so autograd and torch.func never differentiate it.
@torch.library.custom_op("diffqr::column_pivots", mutates_args=())
def _column_pivots(a: torch.Tensor, rank: int | None) -> torch.Tensor:
    host = a.cpu().resolve_conj().numpy()
    return torch.from_numpy(np.ascontiguousarray(householder_pivots(host, rank))).to(a.device)


@_column_pivots.register_fake
def _(a: torch.Tensor, rank: int | None) -> torch.Tensor:
    return a.new_empty((*a.shape[:-2], a.shape[-1]), dtype=torch.int64)


def _column_pivots_vmap(info, in_dims, a, rank):
    return _column_pivots(a.movedim(in_dims[0], 0), rank), 0


torch.library.register_vmap(_column_pivots, _column_pivots_vmap)


def _autograd_functions(primitive) -> tuple[type[torch.autograd.Function], ...]:
    """The primitive as ``autograd.Function``: without and with forward mode.

    Options (strings, ints) are trailing non-tensor arguments, so vmap and compile see them as
    constants.
    """
    # Plain functions and tuples in the closures: dynamo cannot wrap the Primitive dataclass.
    n, names = primitive.num_inputs, primitive.option_names
    forward_rule, vjp_rule, jvp_rule = primitive.forward, primitive.vjp, primitive.jvp
    no_options = (None,) * len(names)
    auxiliary = primitive.auxiliary  # trailing outputs the rules use but never differentiate

    def split(saved):
        return saved[:n], saved[n:]

    class Function(torch.autograd.Function):
        generate_vmap_rule = True

        @staticmethod
        def forward(*args):
            options = dict(zip(names, args[n:], strict=True))
            outputs = forward_rule(BACKEND, *args[:n], **options)
            # Outputs of a Function must not be views of each other or of inputs (forward AD).
            return tuple(x.clone() if x._base is not None else x for x in outputs)

        @staticmethod
        def setup_context(ctx, inputs, outputs):
            ctx.options = dict(zip(names, inputs[n:], strict=True))
            ctx.set_materialize_grads(False)
            if auxiliary:
                ctx.mark_non_differentiable(*outputs[len(outputs) - auxiliary :])
            ctx.save_for_backward(*inputs[:n], *outputs)
            ctx.save_for_forward(*inputs[:n], *outputs)

        @staticmethod
        def backward(ctx, *cotangents):
            inputs, outputs = split(ctx.saved_tensors)
            cotangents = cotangents[: len(cotangents) - auxiliary]
            return *vjp_rule(BACKEND, inputs, outputs, cotangents, **ctx.options), *no_options

    class FunctionWithJvp(Function):
        @staticmethod
        def jvp(ctx, *tangents):
            inputs, outputs = split(ctx.saved_tensors)
            tangents = jvp_rule(BACKEND, inputs, outputs, tangents[:n], **ctx.options)
            return *tangents, *(None,) * auxiliary

    Function.__name__ = Function.__qualname__ = f"diffqr_{primitive.name}"
    FunctionWithJvp.__name__ = FunctionWithJvp.__qualname__ = f"diffqr_{primitive.name}_jvp"
    return Function, FunctionWithJvp


# Built at import, outside any torch.compile tracing (dynamo cannot trace class creation).
_FUNCTIONS = {primitive.name: _autograd_functions(primitive) for primitive in PRIMITIVES}
