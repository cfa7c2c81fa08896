"""Gradient accuracy of diffqr and torch.linalg.qr against a 60-digit mpmath reference.

For a fixed loss ℓ = Re<C_Q, Q> + Re<C_R, R> (C random, fixed) of matrices with condition number
κ from 1e1 to 1e12, prints the relative error ‖Ā − Ā_exact‖ / ‖Ā_exact‖ of

- diffqr through PyTorch autograd,
- diffqr's explicit NumPy rule (``diffqr.qr_vjp``),
- PyTorch's own ``torch.linalg.qr`` backward (where it has one),

with the exact gradient from :mod:`diffqr._verify_mp` (central differences of a Householder QR in
60 significant digits).  LQ and pivoted QR have no native gradient in PyTorch.

usage: python -m diffqr bench --only accuracy [--output FILE]     (a Markdown table; ~2 minutes)
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

import diffqr
from diffqr._verify import random_matrix
from diffqr._verify_mp import qr_loss_gradient

CONDITIONS = (1e1, 1e2, 1e4, 1e6, 1e8, 1e10, 1e12)
CASES = (  # (name, shape)
    ("QR square", (6, 6)),
    ("QR deep", (8, 5)),
    ("QR wide", (5, 8)),
    ("LQ deep", (8, 5)),
    ("QR pivoted", (8, 5)),
)


def _mh(x: np.ndarray) -> np.ndarray:
    return np.conj(x.T)


def _torch_gradient(fn, a: np.ndarray, cotangents: list[np.ndarray]) -> np.ndarray:
    x = torch.from_numpy(a).requires_grad_()
    torch.autograd.backward(tuple(fn(x)), tuple(torch.from_numpy(c) for c in cotangents))
    return x.grad.numpy()


def errors(name: str, a: np.ndarray, rng: np.random.Generator) -> dict[str, float | None]:
    """Relative gradient errors of each method for one matrix."""
    dtype = a.dtype.name

    def error(grad: np.ndarray) -> float:
        return float(np.linalg.norm(grad - exact) / np.linalg.norm(exact))

    if name.startswith("LQ"):  # LQ(A) is QR(Aᴴ) adjoint:  Ā = (gradient at Aᴴ)ᴴ
        q1, r1 = np.linalg.qr(_mh(a))
        l_factor, q = _mh(r1), _mh(q1)
        c_l, c_q = random_matrix(rng, l_factor.shape, dtype), random_matrix(rng, q.shape, dtype)
        exact = _mh(qr_loss_gradient(_mh(a), _mh(c_q), _mh(c_l)))
        lq = diffqr.lq(a)
        return {
            "torch": error(_torch_gradient(diffqr.lq, a, [c_l, c_q])),
            "numpy": error(diffqr.lq_vjp(a, lq.L, lq.Q, c_l, c_q)),
            "native": None,
        }
    if name.endswith("pivoted"):  # the permutation is held fixed: reference at B = A[:, P]
        q, r, p = diffqr.qr(a, pivoting=True)
        c_q, c_r = random_matrix(rng, q.shape, dtype), random_matrix(rng, r.shape, dtype)
        exact = np.empty_like(a)
        exact[:, p] = qr_loss_gradient(a[:, p], c_q, c_r)
        numpy_grad = np.empty_like(a)
        numpy_grad[:, p] = diffqr.qr_vjp(a[:, p], q, r, c_q, c_r)
        return {
            "torch": error(_torch_gradient(lambda x: diffqr.qr(x, pivoting=True)[:2], a,
                                           [c_q, c_r])),
            "numpy": error(numpy_grad),
            "native": None,
        }
    q, r = np.linalg.qr(a)
    c_q, c_r = random_matrix(rng, q.shape, dtype), random_matrix(rng, r.shape, dtype)
    exact = qr_loss_gradient(a, c_q, c_r)
    return {
        "torch": error(_torch_gradient(diffqr.qr, a, [c_q, c_r])),
        "numpy": error(diffqr.qr_vjp(a, q, r, c_q, c_r)),
        "native": error(_torch_gradient(torch.linalg.qr, a, [c_q, c_r])),
    }


def table() -> str:
    def cell(x: float | None) -> str:
        return "—" if x is None else f"{x:.1e}"

    lines = [
        "| case | dtype | κ(A) | diffqr (torch) | diffqr (NumPy rule) | torch.linalg.qr "
        "| diffqr / native |",
        "|---|---|---|---|---|---|---|",
    ]
    for seed, (name, shape) in enumerate(CASES):
        for dtype in ("float64", "complex128"):
            rng = np.random.default_rng(seed)
            for cond in CONDITIONS:
                a = random_matrix(rng, shape, dtype, cond=cond)
                e = errors(name, a, rng)
                ratio = None if e["native"] is None else e["torch"] / e["native"]
                lines.append(
                    f"| {name} {shape[0]}×{shape[1]} | {dtype} | {cond:.0e} | {cell(e['torch'])}"
                    f" | {cell(e['numpy'])} | {cell(e['native'])} "
                    f"| {'—' if ratio is None else f'{ratio:.2f}'} |"
                )
                print(lines[-1], file=sys.stderr, flush=True)
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="also write the Markdown table to this file")
    args = parser.parse_args()
    text = table()
    print(text)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
