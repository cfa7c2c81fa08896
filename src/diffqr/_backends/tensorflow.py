"""TensorFlow adapter: each primitive becomes one recorded op (:mod:`.tensorflow_tape`),
differentiated by the shared rules.

The op is recorded the way ``tf.custom_gradient`` records its functions, with the primitive's JVP
as the forward-mode rule as well: ``GradientTape`` and ``tf.gradients`` use the VJP,
``tf.autodiff.ForwardAccumulator`` the JVP.  The rules run on TF tensors through the vocabulary
below, so enclosing tapes and accumulators record them too (second order, forward-over-reverse).
Everything works eagerly and inside ``tf.function``; the eager-only rank checks are skipped in
graphs, where tensors have no values.  The pivot choice is a host callback (``tf.numpy_function``),
so pivoting is unavailable under ``jit_compile=True``; the rest compiles with XLA.
"""

from __future__ import annotations

import tensorflow as tf
from tensorflow.python.eager.record import stop_recording

from ._host import householder_pivots
from .base import ANY_ARGUMENT, RIDGE_ARGUMENTS, Backend, operand_names
from .tensorflow_tape import connect


def _values_known(a) -> bool:
    """True when ``a`` holds concrete values (eager execution, not a graph/symbolic tensor)."""
    return tf.executing_eagerly() and hasattr(a, "numpy")


class TensorFlowBackend(Backend):
    name = "tensorflow"
    numpy_operands = ANY_ARGUMENT  # as tf.linalg.lstsq: NumPy in either position

    def promote_numpy_operands(self, arrays, numpy_names):
        # Converted to the dtype of the TensorFlow operand (the real one for the ridge).
        dtype = next(arrays[k].dtype for k in operand_names(arrays) if k not in numpy_names)
        for k in numpy_names:  # TF would drop the imaginary part with a warning: refuse
            if arrays[k].dtype.kind == "c" and not dtype.is_complex:
                raise TypeError(f"{k} is complex NumPy beside real {dtype.name} tensors; "
                                "convert it to a complex tensor (or pass its real part)")
        return {k: tf.convert_to_tensor(v, dtype=dtype.real_dtype if k in RIDGE_ARGUMENTS
                                        else dtype) if k in numpy_names else v
                for k, v in arrays.items()}

    def matmul(self, a, b):
        return tf.linalg.matmul(a, b)

    def real_times(self, s, a):
        return tf.cast(s, a.dtype) * a

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

    def cholesky(self, a):
        # For a matrix that is not positive definite TF's kernel leaves NaN in the factor and
        # junk in the triangle it does not write: keep the upper triangle of the transpose only.
        return tf.linalg.band_part(tf.linalg.adjoint(tf.linalg.cholesky(a)), 0, -1)

    def solve(self, a, b):
        return tf.linalg.solve(a, b)

    def concat(self, arrays, axis):
        return tf.concat(arrays, axis=axis)

    def sum(self, a, axis):
        return tf.reduce_sum(a, axis=axis)

    def zeros_like(self, a):
        return tf.zeros_like(a)

    def eye_like(self, a, n):
        return tf.eye(n, dtype=a.dtype)

    def real(self, a):
        return tf.math.real(a)

    def where(self, condition, a, b):
        return tf.where(condition, a, b)

    def shape(self, a):
        shape = tuple(a.shape)
        if len(shape) >= 2 and None in shape[-2:]:
            raise ValueError(
                f"diffqr needs the matrix dimensions (m, n) statically; got shape {a.shape}. "
                "Give tf.function an input_signature with concrete m and n (batch axes may stay "
                "None)."
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

    def column_pivots(self, a, rank):
        a = tf.stop_gradient(tf.convert_to_tensor(a))
        # A host callback keeps the pivot choice (LAPACK geqp3) usable inside tf.function.
        perm = tf.numpy_function(lambda host: householder_pivots(host, rank), [a], tf.int64,
                                 stateful=False)
        perm.set_shape(a.shape[:-2] + a.shape[-1:])
        return perm

    def take_columns(self, a, perm):
        a = tf.convert_to_tensor(a)
        if a.shape.num_elements() == 0:  # gather's gradient fails there (UnsortedSegmentSum)
            return a
        return tf.gather(a, perm, axis=-1, batch_dims=len(a.shape) - 2)

    def apply(self, primitive, inputs, options):
        inputs = tuple(tf.convert_to_tensor(x) for x in inputs)  # reads variables on the tape
        with stop_recording():
            outputs = self.forward(primitive, inputs, options)
        return connect(primitive, self, inputs, tuple(outputs), options)


BACKEND = TensorFlowBackend()
