"""Least squares and QR on a row-sharded JAX array, differentiated through jax.grad under jit.

A regression whose design matrix is sharded by rows over 4 devices (here 4 simulated CPU
devices): diffqr.distributed.lstsq solves it with TSQR (only 3 × 3 and 3 × 1 blocks travel) and
jax.grad gives the gradient of the fit's loss with respect to the data, sharded like the data.
Checked against single-device diffqr on the gathered matrix.

    python examples/distributed_jax.py
"""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import diffqr
from diffqr import distributed as dd

jax.config.update("jax_enable_x64", True)
devices = min(4, len(jax.devices()))
mesh = Mesh(np.array(jax.devices()[:devices]), ("rows",))  # automatic axes, every JAX
rows = NamedSharding(mesh, P("rows", None))

rng = np.random.default_rng(0)
m, n = 4000, 3
features = rng.standard_normal((m, n))
targets = features @ np.array([[1.0], [-2.0], [0.5]]) + 0.1 * rng.standard_normal((m, 1))
A, B = jax.device_put(features, rows), jax.device_put(targets, rows)


@jax.jit
def loss_and_grad(a, b):
    def loss(a):  # squared norm of the fitted coefficients' error against the truth
        x = dd.lstsq(a, b, mesh=mesh, axis="rows")
        return jnp.sum((x - jnp.array([[1.0], [-2.0], [0.5]])) ** 2)
    return jax.value_and_grad(loss)(a)


value, grad = loss_and_grad(A, B)
Q, R = dd.qr(A, mesh=mesh, axis="rows")

# the same on one device
truth = jnp.array([[1.0], [-2.0], [0.5]])
value1, grad1 = jax.value_and_grad(
    lambda a: jnp.sum((diffqr.lstsq(a, jnp.asarray(targets)) - truth) ** 2)
)(jnp.asarray(features))
assert abs(value - value1) <= 1e-12 * abs(value1)
assert jnp.max(jnp.abs(grad - grad1)) <= 1e-10 * jnp.max(jnp.abs(grad1))
assert jnp.max(jnp.abs(R - diffqr.qr(jnp.asarray(features)).R)) <= 1e-12 * m
print(f"{devices} devices: loss {float(value):.3e}, gradient sharded as {grad.sharding.spec}, "
      f"equal to single-device diffqr (max |diff| {float(jnp.max(jnp.abs(grad - grad1))):.1e})")
