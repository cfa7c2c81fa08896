"""Focused benchmarks behind ``python -m diffqr bench --only NAME [options]``, one module each,
run in a fresh process (``python -m diffqr._bench.studies.NAME``) so that thread settings apply
before the frameworks load:

- ``pivoted``: pivoted against unpivoted QR, the pivot choice against the factorization;
- ``lstsq``: ``diffqr.lstsq`` against ``torch.linalg.lstsq`` (forward + backward);
- ``jax``: VJP time against ``jnp.linalg.qr`` under ``jax.jit``;
- ``tensorflow``: VJP time against ``tf.linalg.qr``'s gradient, eager and in ``tf.function``;
- ``mxnet``: LQ against ``mx.nd.linalg.gelqf`` (in the MXNet environment);
- ``dask``: out-of-core TSQR + VJP on a LocalCluster against NumPy;
- ``accuracy``: gradient accuracy against a 60-digit mpmath reference;
- ``families``: the Array API path (array-api-strict) and HIPS autograd against NumPy/LAPACK;
- ``distributed``: ``diffqr.distributed`` on 1–4 JAX devices and 1–4 torch ranks;
- ``small``: batches of small matrices (batched Householder) against each framework's QR;
- ``cholesky``: CholeskyQR on PyTorch CPU tensors against LAPACK, with its kernels;
- ``tria``: ``diffqr.tria`` against a pseudoinverse-based custom JVP (square-root filters);
- ``paddle``: QR against ``paddle.linalg.qr`` (forward + backward), lstsq against paddle's.
- ``vjp``: PyTorch's QR backward on large matrices against diffqr's, per kernel.
"""

STUDIES = ("pivoted", "lstsq", "jax", "tensorflow", "mxnet", "dask", "accuracy", "families",
           "distributed", "small", "cholesky", "tria", "paddle", "vjp")
