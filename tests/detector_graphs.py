"""A tiny detector assembled from two training runs: the several-sources story of issue 19.

- `classifier`: a resnet-like backbone under `resnet/` (a convolution with its batch norm, then
  a residual unit of two), with a classifier head `resnet/logits` the detector does not use.
- `detector`: the same backbone under `FeatureExtractor/resnet/` (trained in its own run, so
  with other values) and `BoxPredictor/{box,cls}` convolutions; `mask=True` adds the new
  `BoxPredictor/mask`. `train=True` adds a Momentum training step and global_step.

Every variable is made with `get_variable`, batch norms as tf_slim names them. `save_run`
saves one with random values drawn from its own seed, so two runs differ in every tensor:
a restore from the wrong source cannot pass a byte comparison.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from graphdiff.tf_import import tensorflow

tf = tensorflow()
v1 = tf.compat.v1
SIZE, CHANNELS, DEPTH, CLASSES, ANCHORS = 8, 3, 4, 5, 2


def conv_bn(x, depth: int, scope: str, relu: bool = True):
    with v1.variable_scope(scope):
        kernel = v1.get_variable("weights", [3, 3, int(x.shape[-1]), depth])
        x = tf.nn.conv2d(x, kernel, 1, "SAME")
        with v1.variable_scope("BatchNorm"):
            beta = v1.get_variable("beta", [depth], initializer=v1.zeros_initializer())
            gamma = v1.get_variable("gamma", [depth], initializer=v1.ones_initializer())
            mean = v1.get_variable(
                "moving_mean", [depth], initializer=v1.zeros_initializer(), trainable=False
            )
            variance = v1.get_variable(
                "moving_variance", [depth], initializer=v1.ones_initializer(), trainable=False
            )
        x, _, _ = v1.nn.fused_batch_norm(x, gamma, beta, mean, variance, is_training=False)
        return tf.nn.relu(x) if relu else x


def backbone(images):
    with v1.variable_scope("resnet"):
        x = conv_bn(images, DEPTH, "conv1")
        with v1.variable_scope("block1/unit_1"):
            y = conv_bn(x, DEPTH, "conv1")
            y = conv_bn(y, DEPTH, "conv2", relu=False)
        return tf.nn.relu(x + y)


def head(x, outputs: int, scope: str):
    with v1.variable_scope(scope):
        kernel = v1.get_variable("weights", [1, 1, DEPTH, outputs])
        bias = v1.get_variable("biases", [outputs], initializer=v1.zeros_initializer())
        return tf.nn.conv2d(x, kernel, 1, "SAME") + bias


def images():
    return v1.placeholder(tf.float32, [None, SIZE, SIZE, CHANNELS], name="images")


def classifier():
    features = backbone(images())
    pooled = tf.reduce_mean(features, [1, 2])
    with v1.variable_scope("resnet/logits"):
        kernel = v1.get_variable("weights", [DEPTH, CLASSES])
        bias = v1.get_variable("biases", [CLASSES], initializer=v1.zeros_initializer())
        return tf.matmul(pooled, kernel) + bias


def detector(mask: bool = False, train: bool = False):
    with v1.variable_scope("FeatureExtractor"):
        features = backbone(images())
    with v1.variable_scope("BoxPredictor"):
        outputs = [head(features, ANCHORS * 4, "box"), head(features, ANCHORS * CLASSES, "cls")]
        if mask:
            outputs.append(head(features, ANCHORS, "mask"))
    if train:
        loss = tf.add_n([tf.reduce_mean(tf.square(o)) for o in outputs])
        step = v1.train.get_or_create_global_step()
        v1.train.MomentumOptimizer(0.01, 0.9).minimize(loss, global_step=step)
    return outputs


def save_run(directory: Path, build, seed: int) -> str:
    """Build, give every variable random values from `seed`, save `directory/model.ckpt`."""
    graph = tf.Graph()
    rng = np.random.default_rng(seed)
    with graph.as_default():
        build()
        saver = v1.train.Saver()
        with v1.Session() as session:
            for variable in v1.global_variables():
                shape = variable.shape.as_list()
                dtype = variable.dtype.base_dtype.as_numpy_dtype
                value = rng.standard_normal(shape).astype(dtype) if shape else dtype(seed)
                variable.load(value, session)
            directory.mkdir(parents=True, exist_ok=True)
            return saver.save(session, str(directory / "model.ckpt"))


def conv_beside_bn(batch_norm: bool = True):
    """`conv/weights` with its batch norm beside it in `conv_bn/` (not under `conv/`: Keras and
    keras.applications name them so), then a head `head/weights`; `batch_norm=False` leaves the
    batch norm out (a run trained without one)."""
    x = tf.nn.conv2d(images(), v1.get_variable("conv/weights", [3, 3, CHANNELS, DEPTH]), 1, "SAME")
    if batch_norm:
        with v1.variable_scope("conv_bn"):
            beta, gamma = v1.get_variable("beta", [DEPTH]), v1.get_variable("gamma", [DEPTH])
            mean = v1.get_variable("moving_mean", [DEPTH], trainable=False)
            variance = v1.get_variable("moving_variance", [DEPTH], trainable=False)
        x, _, _ = v1.nn.fused_batch_norm(x, gamma, beta, mean, variance, is_training=False)
    x = tf.nn.relu(x)
    return tf.nn.conv2d(x, v1.get_variable("head/weights", [1, 1, DEPTH, 2]), 1, "SAME")


NEW_GRAPH = """
import sys
sys.path.insert(0, {tests!r})
from detector_graphs import *
{call}
"""


def write_new_detector(directory: Path, train: bool = True) -> Path:
    return write_new_graph(directory, f"detector(mask=True, train={train})")


def write_new_graph(directory: Path, call: str, name: str = "new_detector.py") -> Path:
    """`directory/name`: a new graph's `.py` that runs `call` of this module."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(NEW_GRAPH.format(tests=str(Path(__file__).parent), call=call))
    return path
