"""tf.keras 2 files into Keras 3 models, with no name table.

The files are written by tf.keras 2 itself (`tf_keras`, in a subprocess, once per session:
keras2_writer.py): a whole-model `.h5`, a weights `.h5` and a TF-format checkpoint of each
model. Each is planned into the same architecture written with Keras 3 (keras2_files.py),
applied, loaded with `model.load_weights` as a user would, and run: the Keras 3 model's output
must be tf.keras 2's to 1e-5.
"""

from __future__ import annotations

import numpy as np
import pytest
from keras2_files import KERAS3, Keras2Files
from keras_models import load_into, write_model

from graphdiff.apply.executor import apply_plan
from graphdiff.plan import RESTORE
from graphdiff.planning import make_plan


@pytest.fixture(scope="session")
def keras2_files(tmp_path_factory) -> Keras2Files:
    return Keras2Files(tmp_path_factory.mktemp("keras2"))


@pytest.fixture(scope="session")
def keras3_models(tmp_path_factory):
    directory = tmp_path_factory.mktemp("keras3")
    return {name: write_model(directory / name, body) for name, body in KERAS3.items()}


def _old_model_for(kind: str, new_py):
    """A weights-only .h5 has no architecture: NEW is it (--same-architecture)."""
    return new_py if kind == "weights" else None


def _restore_and_run(keras2_files, keras3_models, model: str, kind: str, tmp_path):
    new_py = keras3_models[model]
    out = tmp_path / "model.weights.h5"
    plan = make_plan(
        keras2_files.path(model, kind),
        new_py,
        old_model=_old_model_for(kind, new_py),
        output_prefix=str(out),
    )
    apply_plan(plan, verify=True)
    x, y = keras2_files.expected(model)
    return plan, load_into(new_py, out)(x, training=False).numpy(), y


@pytest.mark.parametrize("kind", ["whole", "weights", "checkpoint"])
@pytest.mark.parametrize("model", ["cnn", "sequential", "nested"])
def test_a_tf_keras_2_file_restores_into_the_same_keras_3_architecture(
    keras2_files, keras3_models, model, kind, tmp_path
):
    plan, output, expected = _restore_and_run(keras2_files, keras3_models, model, kind, tmp_path)

    assert all(e.action == RESTORE for e in plan.variables), [
        (e.name, e.reason) for e in plan.variables if e.action != RESTORE
    ]
    np.testing.assert_allclose(output, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", ["whole", "checkpoint"])
def test_keras_applications_mobilenet_restores_and_says_what_keras_3_renamed(
    keras2_files, keras3_models, kind, tmp_path
):
    plan, output, expected = _restore_and_run(
        keras2_files, keras3_models, "mobilenet", kind, tmp_path
    )

    assert all(e.action == RESTORE for e in plan.variables)
    np.testing.assert_allclose(output, expected, atol=1e-5, rtol=0)
    depthwise = [e for e in plan.variables if e.name == "conv_dw_1/kernel"][0]
    assert "tf.keras 2 named it 'depthwise_kernel', Keras 3 'kernel'" in depthwise.reason


def test_the_plan_says_where_tf_keras_2_kept_each_weight(keras2_files, keras3_models):
    new_py = keras3_models["cnn"]
    whole = make_plan(keras2_files.path("cnn", "whole"), new_py)
    checkpoint = make_plan(keras2_files.path("cnn", "checkpoint"), new_py)

    assert whole.provenance.old_kind == "keras2_h5"
    assert checkpoint.provenance.old_kind == "keras2_checkpoint"
    stored = {e.name: e.stored_as for e in whole.variables}
    assert stored["batch_normalization/moving_variance"] == (
        "model_weights/batch_normalization/batch_normalization/moving_variance:0"
    )
    stored = {e.name: e.stored_as for e in checkpoint.variables}
    assert stored["batch_normalization/moving_variance"] == (
        "layer_with_weights-1/moving_variance/.ATTRIBUTES/VARIABLE_VALUE"
    )
    # The checkpoint fit NEW layer for layer: NEW is recorded as the old model.
    assert checkpoint.provenance.old_model.path == str(new_py)
