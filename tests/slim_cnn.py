"""A small TF1 CNN with tf_slim's names, and the same network as a Keras 3 functional model.

TF1: `slim.conv2d` without biases, each followed by a batch norm with slim's variables
(`conv1/BatchNorm/{beta,gamma,moving_mean,moving_variance}`, a fused op, moving averages
updated through UPDATE_OPS: slim's own batch_norm needs tf_keras, so its body is written out
here), a mean pool and `slim.fully_connected` logits; trained a few Momentum steps in a
training graph and saved with its `.meta`. Keras: Conv2D(use_bias=False) + BatchNormalization
+ ReLU twice, GlobalAveragePooling2D, Dense, with Keras's automatic names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from graphdiff.tf_import import tensorflow

tf = tensorflow()
v1 = tf.compat.v1
SIZE, CHANNELS, CLASSES = 12, 3, 10

KERAS_CNN = """
def build_model():
    images = keras.Input((12, 12, 3), name="images")
    x = layers.Conv2D(8, 3, padding="same", use_bias=False)(images)
    x = layers.BatchNormalization(epsilon=1e-3)(x)
    x = layers.ReLU()(x)
    x = layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(epsilon=1e-3)(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(images, layers.Dense(10)(x))
"""


def batch_norm(inputs, is_training, scope="BatchNorm", decay=0.9, epsilon=1e-3):
    from tensorflow.python.training import moving_averages

    with v1.variable_scope(scope):
        depth = inputs.shape[-1]
        beta = v1.get_variable("beta", [depth], initializer=v1.zeros_initializer())
        gamma = v1.get_variable("gamma", [depth], initializer=v1.ones_initializer())
        mean = v1.get_variable(
            "moving_mean", [depth], initializer=v1.zeros_initializer(), trainable=False
        )
        variance = v1.get_variable(
            "moving_variance", [depth], initializer=v1.ones_initializer(), trainable=False
        )
        if not is_training:
            out, _, _ = v1.nn.fused_batch_norm(
                inputs, gamma, beta, mean, variance, epsilon=epsilon, is_training=False
            )
            return out
        out, batch_mean, batch_variance = v1.nn.fused_batch_norm(
            inputs, gamma, beta, epsilon=epsilon
        )
        for average, value in ((mean, batch_mean), (variance, batch_variance)):
            update = moving_averages.assign_moving_average(average, value, decay, False)
            v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, update)
        return out


def cnn(images, is_training: bool):
    import tf_slim as slim

    params = {"is_training": is_training}
    with slim.arg_scope([slim.conv2d], normalizer_fn=batch_norm, normalizer_params=params):
        net = slim.conv2d(images, 8, [3, 3], scope="conv1")
        net = slim.conv2d(net, 16, [3, 3], stride=2, scope="conv2")
    net = tf.reduce_mean(net, [1, 2], name="pool")
    return slim.fully_connected(net, CLASSES, activation_fn=None, scope="logits")


def train_checkpoint(directory: Path, steps: int = 20) -> str:
    """Train the TF1 CNN (Momentum, batch norm in training mode); return the prefix."""
    rng = np.random.default_rng(0)
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(0)
        images = v1.placeholder(tf.float32, [None, SIZE, SIZE, CHANNELS], name="images")
        labels = v1.placeholder(tf.int64, [None], name="labels")
        logits = cnn(images, True)
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        )
        with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
            step = v1.train.get_or_create_global_step()
            train = v1.train.MomentumOptimizer(0.1, 0.9).minimize(loss, global_step=step)
        saver = v1.train.Saver()
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            for _ in range(steps):
                feed = {
                    images: rng.normal(size=(8, SIZE, SIZE, CHANNELS)),
                    labels: rng.integers(0, CLASSES, 8),
                }
                session.run(train, feed)
            directory.mkdir(parents=True, exist_ok=True)
            return saver.save(session, str(directory / "model.ckpt"))


def tf1_logits(prefix: str, x: np.ndarray) -> np.ndarray:
    """The TF1 CNN's logits in inference mode, restored from `prefix` by its own Saver."""
    graph = tf.Graph()
    with graph.as_default():
        images = v1.placeholder(tf.float32, [None, SIZE, SIZE, CHANNELS])
        logits = cnn(images, False)
        with v1.Session() as session:
            v1.train.Saver().restore(session, prefix)
            return session.run(logits, {images: x})
