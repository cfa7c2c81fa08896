"""The square-root Kalman filter of ``sqrt_kalman_filter.py`` in PyTorch, with zero process noise.

Every matrix the filter triangularizes is rank deficient (no process noise, a partly known
initial state); the log-likelihood gradient through ``diffqr.tria`` still equals the
covariance-form filter's, where ``torch.linalg.qr``'s is NaN (its ``mode="r"`` has none at all).

usage: python examples/sqrt_kalman_filter_torch.py
"""

from __future__ import annotations

import math

import torch

import diffqr

torch.set_default_dtype(torch.float64)
DX, DY, STEPS = 3, 2, 25
H = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def model(params):
    theta, q, r = params
    f = torch.tensor([[1.0, 0.1, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.9]]) + theta * torch.tensor(
        [[0.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    return f, q * torch.eye(DX), r * torch.eye(DY)


def sqrt_filter(params, ys, m, lf, tria):
    f, sq, sr = model(params)
    ll = 0.0
    for y in ys:
        m, lf = f @ m, tria(torch.cat([f @ lf, sq], dim=1))
        lower = tria(torch.cat([torch.cat([H @ lf, sr], 1),
                                torch.cat([lf, torch.zeros(DX, DY)], 1)], 0))
        ly, g, lf = lower[:DY, :DY], lower[DY:, :DY], lower[DY:, DY:]
        z = torch.linalg.solve_triangular(ly, (y - H @ m)[:, None], upper=False)[:, 0]
        ll = ll - 0.5 * z @ z - torch.log(torch.diagonal(ly).abs()).sum() - DY / 2 * math.log(
            2 * math.pi)
        m = m + g @ z
    return ll


def covariance_filter(params, ys, m, lf):
    f, sq, sr = model(params)
    p, ll = lf @ lf.T, 0.0
    for y in ys:
        m, p = f @ m, f @ p @ f.T + sq @ sq.T
        s = H @ p @ H.T + sr @ sr.T
        k = torch.linalg.solve(s, H @ p).T
        e = y - H @ m
        ll = ll - 0.5 * e @ torch.linalg.solve(s, e) - 0.5 * torch.logdet(s) - DY / 2 * math.log(
            2 * math.pi)
        m, p = m + k @ e, p - k @ s @ k.T
    return ll


def gradient(loss, *args):
    params = torch.tensor([0.3, 0.0, 0.5], requires_grad=True)  # q = 0: no process noise
    value = loss(params, *args)
    value.backward()
    return value.detach(), params.grad


def main() -> None:
    ys = torch.randn(STEPS, DY, generator=torch.Generator().manual_seed(0))
    m0, l0 = torch.zeros(DX), torch.diag(torch.tensor([1.0, 0.0, 0.5]))
    value, grad = gradient(sqrt_filter, ys, m0, l0, lambda a: diffqr.tria(a, check_finite=False))
    want_value, want = gradient(covariance_filter, ys, m0, l0)
    native = gradient(sqrt_filter, ys, m0, l0, lambda a: torch.linalg.qr(a.T)[1].T)[1]
    print(f"log-likelihood {value.item():.6f} (covariance form {want_value.item():.6f})")
    print(f"d/d(θ, q, r) via diffqr.tria       {grad.tolist()}")
    print(f"covariance-form filter (reference) {want.tolist()}")
    print(f"via torch.linalg.qr's derivative   {native.tolist()}")
    assert torch.allclose(value, want_value, rtol=1e-10)
    assert torch.allclose(grad, want, rtol=1e-8, atol=1e-10)


if __name__ == "__main__":
    main()
