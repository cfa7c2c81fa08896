"""Complex torch results are resolved tensors, as torch.linalg's are: no lazy conjugate bit, so
``.detach().numpy()`` works on every output of every function and rule."""

from __future__ import annotations

import pytest
import torch

import diffqr
from diffqr._verify import random_matrix

SHAPES = [(4, 6), (6, 4), (2, 3, 5, 4)]  # wide, deep, batched


def _tensor(rng, shape, dtype):
    return torch.from_numpy(random_matrix(rng, shape, dtype))


def _assert_resolved(outputs):
    for y in outputs:
        if y is None or not torch.is_complex(y):
            continue
        assert not y.is_conj(), "a lazy conjugate view reached the user"
        y.detach().numpy()  # raises for a conjugate view


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
@pytest.mark.parametrize("options", [{}, {"mode": "complete"}, {"pivoting": True},
                                     {"rank": 2}, {"pivoting": True, "rank": 2}])
def test_lq_outputs_are_resolved(rng, shape, dtype, options):
    # (Gradients are torch's business: its autograd hands back conjugate views for mH itself.)
    a = _tensor(rng, shape, dtype).requires_grad_()
    outputs = diffqr.lq(a, **options)
    _assert_resolved(outputs)
    l_factor, q = outputs[:2]
    reconstructed = l_factor @ q
    expected = a if len(outputs) == 2 else torch.take_along_dim(a, outputs[2][..., :, None], -2)
    if not options.get("rank"):
        torch.testing.assert_close(reconstructed, expected)


@pytest.mark.parametrize("shape", SHAPES)
def test_explicit_rules_return_resolved_tensors(rng, shape):
    dtype = "complex128"
    a = _tensor(rng, shape, dtype)
    b = _tensor(rng, (*shape[:-1], 2), dtype)
    l_factor, q = diffqr.lq(a)
    q_qr, r = diffqr.qr(a)
    x = diffqr.lstsq(a, b)
    _assert_resolved([l_factor, q, q_qr, r, x])
    _assert_resolved([diffqr.lq_vjp(a, l_factor, q, _tensor(rng, l_factor.shape, dtype),
                                    _tensor(rng, q.shape, dtype))])
    _assert_resolved(diffqr.lq_jvp(a, l_factor, q, _tensor(rng, shape, dtype)))
    _assert_resolved([diffqr.qr_vjp(a, q_qr, r, _tensor(rng, q_qr.shape, dtype), None)])
    _assert_resolved(diffqr.qr_jvp(a, q_qr, r, _tensor(rng, shape, dtype)))
    _assert_resolved(diffqr.lstsq_vjp(a, b, x, _tensor(rng, x.shape, dtype)))
    _assert_resolved([diffqr.lstsq_jvp(a, b, x, _tensor(rng, shape, dtype), None)])


def test_real_outputs_are_not_copied(rng):
    """On real tensors the LQ factors are the transposed views themselves (no extra copy)."""
    a = _tensor(rng, (4, 6), "float64")
    l_factor, q = diffqr.lq(a)
    assert l_factor._base is not None or q._base is not None
