"""The JAX group: float64 enabled before any array is made (this group runs in its own process)."""

from __future__ import annotations

import jax

jax.config.update("jax_enable_x64", True)
# As in JAX's own test suite: skip most XLA optimization passes, so the many small programs
# compile faster; results are the same to rounding.
jax.config.update("jax_disable_most_optimizations", True)
