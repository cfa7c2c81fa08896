"""TensorFlow test group: quiet TF's C++ and Python logs before it is imported."""

from __future__ import annotations

import logging
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

# ForwardAccumulator warns for every complex primal; its complex JVPs are tested and right.
tf.get_logger().setLevel(logging.ERROR)
