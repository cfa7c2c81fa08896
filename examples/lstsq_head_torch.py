"""A least-squares head inside a small PyTorch model, with a learned ridge.

The network maps inputs to features; the head is not a trained linear layer but the exact ridge
solution X = argmin ‖F X − Y‖² + λ‖X‖² on a support batch, computed by ``diffqr.lstsq``.  The
loss on a separate query batch is backpropagated through the solve into the feature network *and*
into λ (log-parametrised to stay positive) — a differentiable closed-form head.
"""

import time

import torch

import diffqr

torch.manual_seed(0)
torch.set_num_threads(1)  # tiny matrices: threads only add overhead
start = time.perf_counter()


def target(x):
    return torch.sin(3 * x[:, :1]) + x[:, 1:2] * x[:, :1]


features = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.Tanh(), torch.nn.Linear(32, 16),
                               torch.nn.Tanh())
log_ridge = torch.nn.Parameter(torch.tensor(0.0))
optimizer = torch.optim.Adam([*features.parameters(), log_ridge], lr=2e-2)

for step in range(151):
    support, query = torch.randn(64, 2), torch.randn(64, 2)
    weights = diffqr.lstsq(features(support), target(support), ridge=log_ridge.exp())  # (16, 1)
    loss = torch.mean((features(query) @ weights - target(query)) ** 2)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 50 == 0:
        print(f"step {step:3d}  query MSE {loss.item():.4f}  ridge {log_ridge.exp().item():.3g}")

assert torch.isfinite(loss) and loss.item() < 0.1, loss
print(f"final query MSE {loss.item():.4f} in {time.perf_counter() - start:.1f} s")
