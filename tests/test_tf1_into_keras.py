"""A TF1 checkpoint (tf_slim names) into the equivalent Keras 3 model (Keras names).

The two graphs share no op beyond the convolutions and the matmul: slim's batch norm is one
fused op in a training graph, Keras's six arithmetic ops traced for inference. The plan must
pair every variable anyway (the layer walk, match/layers.py), and the Keras model loaded with
the written weights must compute what the TF1 network computes.
"""

from __future__ import annotations

import numpy as np
import pytest
from keras_models import load_into, write_model
from slim_cnn import CHANNELS, KERAS_CNN, SIZE, tf1_logits, train_checkpoint

from graphdiff.apply.executor import apply_plan
from graphdiff.planning import make_plan

EXPECTED = {
    "conv2d/kernel": "conv1/weights",
    "batch_normalization/gamma": "conv1/BatchNorm/gamma",
    "batch_normalization/beta": "conv1/BatchNorm/beta",
    "batch_normalization/moving_mean": "conv1/BatchNorm/moving_mean",
    "batch_normalization/moving_variance": "conv1/BatchNorm/moving_variance",
    "conv2d_1/kernel": "conv2/weights",
    "batch_normalization_1/gamma": "conv2/BatchNorm/gamma",
    "batch_normalization_1/beta": "conv2/BatchNorm/beta",
    "batch_normalization_1/moving_mean": "conv2/BatchNorm/moving_mean",
    "batch_normalization_1/moving_variance": "conv2/BatchNorm/moving_variance",
    "dense/kernel": "logits/weights",
    "dense/bias": "logits/biases",
}


@pytest.fixture(scope="module")
def slim_checkpoint(tmp_path_factory) -> str:
    return train_checkpoint(tmp_path_factory.mktemp("slim") / "old")


def test_slim_cnn_restores_into_keras_and_computes_the_same(slim_checkpoint, tmp_path):
    new_py = write_model(tmp_path, KERAS_CNN)
    out = tmp_path / "out" / "model.weights.h5"
    plan = make_plan(f"{slim_checkpoint}.meta", new_py, output_prefix=str(out))

    assert {e.name: e.source for e in plan.variables} == EXPECTED
    unused = {u.key for u in plan.unused} - {"global_step"}
    assert all(k.endswith("/Momentum") for k in unused)
    apply_plan(plan, verify=True)

    x = np.random.default_rng(5).normal(size=(4, SIZE, SIZE, CHANNELS)).astype("float32")
    keras_logits = load_into(new_py, out)(x, training=False).numpy()
    difference = np.abs(keras_logits - tf1_logits(slim_checkpoint, x)).max()
    assert difference < 1e-5, difference
