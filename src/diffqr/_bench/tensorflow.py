"""TensorFlow side of the benchmark: ``tf.linalg.qr`` and its gradient against ``diffqr.qr``.

Eager mode, as a user's first call runs; ``python -m diffqr bench --only tensorflow`` also times
both inside ``tf.function``.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

from .runner import Runner


class TensorFlowRunner(Runner):
    name = "tensorflow"
    module = "tensorflow"

    def setup(self, threads):
        tf.config.threading.set_intra_op_parallelism_threads(threads)

    def versions(self):
        return {"tensorflow": tf.__version__,
                "threads": str(tf.config.threading.get_intra_op_parallelism_threads())}

    def asarray(self, x):
        return tf.constant(np.array(x))

    def native_qr(self):
        return lambda a: tuple(tf.linalg.qr(a))

    def forward_backward(self, fn, a, cotangents):
        start = self.clock()
        with tf.GradientTape() as tape:
            tape.watch(a)
            outputs = fn(a)
        middle = self.clock()
        tape.gradient(list(outputs), a, output_gradients=list(cotangents))
        return middle - start, self.clock() - middle

    def matmul(self, x, y):
        tf.linalg.matmul(x, y)


RUNNER = TensorFlowRunner()
