"""A TensorFlow model with an exact least-squares layer, trained inside ``tf.function``.

A Keras feature extractor is followed by a layer that fits its linear read-out exactly, by
``diffqr.lstsq`` with a small ridge, to the batch's targets on one half of the batch; the other
half is predicted with those weights, and the loss trains the features through the solve.
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep the example output short

import numpy as np
import tensorflow as tf

import diffqr

tf.random.set_seed(0)
rng = np.random.default_rng(0)
start = time.perf_counter()

features = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(32, activation="tanh"),
                                tf.keras.layers.Dense(12, activation="tanh")])
optimizer = tf.keras.optimizers.Adam(1e-2)


def target(x):
    return tf.sin(2 * x[:, :1]) * tf.cos(x[:, 1:2]) + 0.5 * x[:, 2:3]


@tf.function
def train_step(x):
    support, query = x[:64], x[64:]
    with tf.GradientTape() as tape:
        weights = diffqr.lstsq(features(support), target(support), ridge=1e-3)  # exact read-out
        loss = tf.reduce_mean((features(query) @ weights - target(query)) ** 2)
    grads = tape.gradient(loss, features.trainable_variables)
    optimizer.apply_gradients(zip(grads, features.trainable_variables, strict=True))
    return loss


for step in range(151):
    loss = train_step(tf.constant(rng.standard_normal((128, 3)), tf.float32))
    if step % 50 == 0:
        print(f"step {step:3d}  query MSE {float(loss):.4f}")

assert np.isfinite(float(loss)) and float(loss) < 0.2, float(loss)
print(f"final query MSE {float(loss):.4f} in {time.perf_counter() - start:.1f} s")
