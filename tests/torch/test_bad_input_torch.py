"""Bad input only torch has: its own dtypes and traced values (the shared cases are in
tests/conformance/test_reliability.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import diffqr


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.complex32, torch.uint8, torch.bool])
def test_torch_only_dtypes(dtype):
    name = str(dtype).removeprefix("torch.")
    with pytest.raises(TypeError, match=f"A has dtype {name}"):
        diffqr.qr(torch.ones(3, 3, dtype=dtype))


def _tensor(shape, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape))


def test_non_finite_values_known_inside_grad_and_jvp():
    a = _tensor((4, 3))
    a[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or Inf"):
        torch.func.grad(lambda x: diffqr.qr(x).R.sum())(a)
    with pytest.raises(ValueError, match="NaN or Inf"):
        torch.func.jvp(lambda x: diffqr.lq(x).L, (a,), (a,))


def test_traced_values_are_not_checked():
    """Under vmap and torch.compile the values are unknown: NaN in, non-finite out, no error."""
    a = _tensor((2, 4, 3))
    a[1, 0, 0] = float("nan")
    r = torch.func.vmap(lambda x: diffqr.qr(x, pivoting=True).R)(a)
    assert torch.isfinite(r[0]).all() and not torch.isfinite(r[1]).all()
    compiled = torch.compile(lambda x: diffqr.lq(x).L, fullgraph=True)
    assert not torch.isfinite(compiled(a[1])).all()


def test_rank_deficiency_under_vmap_and_compile_is_non_finite():
    """The RankDeficientError check needs values: traced, an exactly singular R gives Inf/NaN."""
    a = _tensor((2, 5, 3))
    a[1, :, 1] = 0

    def loss(x):
        return diffqr.qr(x).Q.sum()

    grads = torch.func.vmap(torch.func.grad(loss))(a)
    assert torch.isfinite(grads[0]).all() and not torch.isfinite(grads[1]).all()
    x = a[1].clone().requires_grad_()
    torch.compile(loss, fullgraph=True)(x).backward()
    assert not torch.isfinite(x.grad).all()
    with pytest.raises(diffqr.RankDeficientError):  # eager: the same input raises
        torch.func.grad(loss)(a[1])
