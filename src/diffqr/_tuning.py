"""Every tuning constant of diffqr in one table, and the one switch that turns fast paths off.

A *fast path* is an optional route to the same result (to rounding): a batched kernel, an in-place
temporary, a framework's own factorization.  Each one below says what it selects and why the value
is what it is; `python -m diffqr bench` measures them.  Modules read these names at call time
(``_tuning.NAME``), so a test or a benchmark may patch them.

The switch: ``DIFFQR_DISABLE_FAST_PATHS=1`` in the environment (read at every call) or
``with diffqr.fast_paths(False):`` turns every fast path off, leaving the plain vocabulary and
each framework's LAPACK calls: use it to rule the fast paths out when debugging a result.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

# ---------------------------------------------------------------------- the switch
ENVIRONMENT_VARIABLE = "DIFFQR_DISABLE_FAST_PATHS"
_disabled_depth = 0  # > 0 inside `with fast_paths(False)` (process-wide, like the variable)
_enabled_depth = 0  # > 0 inside `with fast_paths(True)`, which overrides the variable


def fast_paths_enabled() -> bool:
    """Whether fast paths may be taken now (the context manager, then the environment)."""
    if _disabled_depth:
        return False
    if _enabled_depth:
        return True
    return os.environ.get(ENVIRONMENT_VARIABLE, "") in ("", "0")


@contextlib.contextmanager
def fast_paths(enabled: bool) -> Iterator[None]:
    """Turn diffqr's fast paths off (``False``) or on (``True``) inside a ``with`` block.

    With fast paths off, every decomposition and derivative takes the generic route: the shared
    rules over the plain array vocabulary and the framework's own QR.  Results agree with the
    fast paths to rounding; use it to rule them out when debugging.  ``DIFFQR_DISABLE_FAST_PATHS=1``
    does the same for a whole process (``fast_paths(True)`` overrides it).

    Parameters
    ----------
    enabled : bool
        ``False`` disables every fast path inside the block, ``True`` enables them.
    """
    global _disabled_depth, _enabled_depth
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled must be True or False; got {enabled!r}")
    saved = _disabled_depth, _enabled_depth
    _disabled_depth, _enabled_depth = (0, _enabled_depth + 1) if enabled else (
        _disabled_depth + 1, 0)
    try:
        yield
    finally:
        _disabled_depth, _enabled_depth = saved


# ---------------------------------------------------------------------- rules (all frameworks)
# QR VJP: below this k the block split of copyltu(M) saves less than its extra operations cost;
# its halves are split again down to blocks of QR_VJP_SPLIT_LEAF (smaller products run slower,
# measured with MKL: 62-wide blocks at 60 % of the speed of 250-wide ones; with TensorFlow's Eigen,
# leaves of 64 made the 500 × 2000 float32 backward 1.27× native instead of 0.91-0.98×).
QR_VJP_SPLIT_MIN_SIZE = 64
QR_VJP_SPLIT_LEAF = 128

# qr(method="auto") takes CholeskyQR for tall-skinny input (m >= AUTO_CHOLESKY_ASPECT · n), and
# only on frameworks where it is the faster forward pass (measured by `python -m diffqr bench`):
# NumPy/OpenBLAS 2.5× faster than geqrf+orgqr on 20000 × 100; TF 2.21 on 2 cores 1.8× on
# 20000 × 100, 1.4× on 8000 × 200, even on 2000 × 500.
AUTO_CHOLESKY_ASPECT = 4
CHOLESKY_QR_IS_FASTER = frozenset({"numpy", "tensorflow"})

# Batched small QR (_rules/small_qr.py: Householder as array operations across the batch), per
# framework: (largest m and n, smallest batch).  Measured by `python -m diffqr bench --only small`
# against each framework's own QR; frameworks not listed keep their QR.
SMALL_QR: dict[str, tuple[int, int]] = {"jax": (8, 16), "numpy": (3, 1000)}

# ---------------------------------------------------------------------- host (NumPy / SciPy)
# Up to this order a batch of triangular systems goes to NumPy's batched solve in one call: the
# per-matrix SciPy calls cost ~10 µs each (10000 × 3 × 3: 20× slower), while the LU of a k × k
# triangle costs 2k³/3 flops more than the solve.
HOST_BATCHED_LU_MAX_SIZE = 16
# ... and up to this order by back substitution, one array operation per row over the batch
# (10000 systems with k right-hand sides: 3-10× faster than the batched LU for k = 2-4, 2-4× for
# k = 6).
HOST_SUBSTITUTION_MAX_SIZE = 6

# ---------------------------------------------------------------------- PyTorch
# Below this size a batched LAPACK triangular solve is dominated by its per-matrix call overhead:
# substitution, vectorized over the batch, is several times faster for 10⁴ systems of size 3.
TORCH_TINY_SIZE = 4
TORCH_MANY_SYSTEMS = 256
# torch.tril/triu of a batch of small matrices cost ~5x a masked select (measured 10⁴ × 3 × 3):
# matrices of at most this many entries, from this many matrices on.
TORCH_MASKED_MAX_ENTRIES = 1024
TORCH_MASKED_MIN_BATCH = 64
# MKL's double-precision trsm runs as fast from the left as from the right, so the left form
# saves the transposing copies (backward of 2000 × 500: 99 → 89 ms); its single-precision left
# trsm is slower than the copies cost (13 → 16-20 ms), and for complex bᴴ the conjugation is
# a copy of its own (backward 269 → 309 ms).
TORCH_LEFT_SOLVE_DTYPES = ("float64",)
# Batch-last QR and products (torch_batch_last.py), measured against torch.linalg.qr and bmm
# (float64, one thread): from a few thousand matrices of size up to 4 the batch-last path is
# faster; with fewer, or larger, matrices (or complex ones: slower elementwise kernels)
# per-operation overhead outweighs the per-matrix calls it saves.
TORCH_BATCH_LAST_MAX_SIZE = 4
TORCH_BATCH_LAST_MIN_BATCH = 2048

# ---------------------------------------------------------------------- MXNet
# From about 128 × 512 entries MXNet's transpose beats NumPy's transposing copy.
MXNET_TRANSPOSE_MIN_SIZE = 1 << 16
# The QR of a deep A takes gelqf only from this size: below it NumPy's QR beats gelqf plus the
# three transposes around it (measured: 64 × 32 host 15% faster, 256 × 128 gelqf as fast or faster).
MXNET_GELQF_TRANSPOSED_MIN_SIZE = 128 * 64

# ---------------------------------------------------------------------- Dask
# Consecutive R blocks merged per QR in the R-only reduction tree.
DASK_TREE_WIDTH = 8

# ---------------------------------------------------------------------- Array API namespaces
# The standard has no triangular solve: diagonal blocks up to this order go to the namespace's
# LU solve (exact back substitution on a triangle: partial pivoting swaps no rows), larger
# triangles split in halves.  The LU's extra 2/3 k³ flops per leaf cost less than the calls a
# deeper recursion makes (array-api-strict, 400 × 400, 8 right-hand sides: 2.5 ms with leaves of
# 128, 9 ms with 64, 21 ms with 32; 1000 × 1000: 18 / 27 / 56 ms).
ARRAY_API_TRIANGULAR_LEAF = 128
