"""TensorFlow adapter: each primitive becomes a ``tf.custom_gradient`` running the shared rules.

The rules run on TF tensors through the vocabulary below, so an enclosing ``GradientTape`` records
them too (second order through nested tapes); ``tf.autodiff.ForwardAccumulator`` obtains the JVP
by transposing that backward function, as it does for every op without a forward rule.
Everything works eagerly and inside ``tf.function``; the eager-only rank checks are skipped in
graphs, where tensors have no values.
"""

from __future__ import annotations

import tensorflow as tf

from .base import Backend
from .numpy import householder_pivots


def _values_known(a) -> bool:
    """True when ``a`` holds concrete values (eager execution, not a graph/symbolic tensor)."""
    return tf.executing_eagerly() and hasattr(a, "numpy")


class TensorFlowBackend(Backend):
    name = "tensorflow"

    def matmul(self, a, b):
        return tf.linalg.matmul(a, b)

    def mH(self, a):
        return tf.linalg.adjoint(a)

    def tril(self, a, k=0):
        # band_part keeps a band around the diagonal; strictly-lower parts are a − (the rest).
        if k >= 0:
            return tf.linalg.band_part(a, -1, k)
        return a - tf.linalg.band_part(a, -k - 1, -1)

    def triu(self, a, k=0):
        if k <= 0:
            return tf.linalg.band_part(a, -k, -1)
        return a - tf.linalg.band_part(a, -1, k - 1)

    def solve_triangular(self, r, b, *, upper, left=True, adjoint=False):
        if left:
            return tf.linalg.triangular_solve(r, b, lower=not upper, adjoint=adjoint)
        # x op(r) = b  <=>  op(r)ᴴ xᴴ = bᴴ
        return tf.linalg.adjoint(
            tf.linalg.triangular_solve(r, tf.linalg.adjoint(b), lower=not upper,
                                       adjoint=not adjoint)
        )

    def solve(self, a, b):
        return tf.linalg.solve(a, b)

    def concat(self, arrays, axis):
        return tf.concat(arrays, axis=axis)

    def zeros_like(self, a):
        return tf.zeros_like(a)

    def eye_like(self, a, n):
        return tf.eye(n, dtype=a.dtype)

    def real(self, a):
        return tf.math.real(a)

    def shape(self, a):
        shape = tuple(a.shape)
        if len(shape) >= 2 and None in shape[-2:]:
            raise ValueError(
                f"diffqr needs the matrix dimensions (m, n) statically; got shape {a.shape}. "
                "Give tf.function an input_signature with concrete m and n (batch axes may be None)."
            )
        return shape

    def to_host(self, a):
        return a.numpy() if _values_known(a) else None

    def abs_diagonal_on_host(self, a):
        if not _values_known(a):
            return None
        return tf.abs(tf.linalg.diag_part(a)).numpy()

    def dtype_name(self, a):
        return a.dtype.name

    def householder_qr(self, a, *, complete):
        return tf.linalg.qr(a, full_matrices=complete)

    def column_pivots(self, a):
        a = tf.stop_gradient(tf.convert_to_tensor(a))
        # A host callback keeps the pivot choice (LAPACK geqp3) usable inside tf.function.
        perm = tf.numpy_function(householder_pivots, [a], tf.int64, stateful=False)
        perm.set_shape(a.shape[:-2] + a.shape[-1:])
        return perm

    def take_columns(self, a, perm):
        a = tf.convert_to_tensor(a)
        return tf.gather(a, perm, axis=-1, batch_dims=len(a.shape) - 2)

    def apply(self, primitive, inputs, options):
        inputs = tuple(tf.convert_to_tensor(x) for x in inputs)
        outputs = primitive.forward(self, *(tf.stop_gradient(x) for x in inputs), **options)
        return _connect(primitive, inputs, tuple(outputs), options)


BACKEND = TensorFlowBackend()


def _connect(primitive, inputs: tuple, outputs: tuple, options: dict) -> tuple:
    """``outputs`` (already computed) tied to ``inputs`` by the primitive's VJP rule.

    The backward function uses the outputs through a fresh ``_connect``: an enclosing tape then
    differentiates the rule through the primitive's own derivative again (second and higher
    order), without recomputing the decomposition.
    """

    def op(*xs):
        def backward(*cotangents):
            ys = _connect(primitive, xs, outputs, options)
            return primitive.vjp(BACKEND, xs, ys, cotangents, **options)

        return outputs, backward

    op.__name__ = f"diffqr_{primitive.name}"  # the op's name on the tape
    return tf.custom_gradient(op)(*inputs)
