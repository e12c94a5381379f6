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
from conftest import run_in_process
from keras2_files import CNN_CHANGED, KERAS3, Keras2Files
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


@pytest.mark.parametrize("kind", ["whole", "weights", "checkpoint"])
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


CHANGED_EXPECTED = {  # new variable's layer -> the old layer it must come from (None: new)
    "conv2d": "conv2d",
    "batch_normalization": "batch_normalization",
    "inserted": None,
    "conv2d_1": "conv2d_1",
    "batch_normalization_1": "batch_normalization_1",
    "new_head": None,
}


@pytest.mark.parametrize(
    "kind, with_old_model",
    [("whole", False), ("weights", True), ("checkpoint", True), ("checkpoint", False)],
)
def test_into_a_changed_model_no_variable_is_restored_from_another_layer(
    keras2_files, keras3_models, kind, with_old_model, tmp_path
):
    # A checkpoint alone (no --old-model) has no names and no graph: its layers pair with the
    # changed model's by their order and weight shapes, which leave no doubt here.
    changed = write_model(tmp_path / "changed", CNN_CHANGED)
    old_model = keras3_models["cnn"] if with_old_model else None  # the architecture in Keras 3
    out = tmp_path / "model.weights.h5"
    plan = make_plan(
        keras2_files.path("cnn", kind), changed, old_model=old_model, output_prefix=str(out)
    )
    apply_plan(plan, verify=True)

    for entry in plan.variables:
        layer, weight = entry.name.split("/")
        expected = CHANGED_EXPECTED[layer]
        assert entry.source == (None if expected is None else f"{expected}/{weight}"), entry
    reference = load_into(
        keras3_models["cnn"], _restored_same(keras2_files, keras3_models, tmp_path)
    )
    loaded = load_into(changed, out)
    for layer in ("conv2d", "batch_normalization", "conv2d_1", "batch_normalization_1"):
        for value, old in zip(
            loaded.get_layer(layer).weights, reference.get_layer(layer).weights, strict=True
        ):
            assert np.array_equal(value.numpy(), old.numpy()), (layer, value.path)


def _restored_same(keras2_files, keras3_models, tmp_path):
    """The CNN's weights restored into its own architecture (whole .h5): the reference."""
    out = tmp_path / "same" / "model.weights.h5"
    plan = make_plan(
        keras2_files.path("cnn", "whole"), keras3_models["cnn"], output_prefix=str(out)
    )
    apply_plan(plan)
    return out


def test_a_checkpoint_alone_into_a_changed_model_says_how_each_layer_was_paired(
    keras2_files, tmp_path
):
    changed = write_model(tmp_path / "changed", CNN_CHANGED)
    plan = make_plan(keras2_files.path("cnn", "checkpoint"), changed)

    reasons = {e.name: e.reason for e in plan.variables}
    assert "its layer-4 was paired with NEW's 'conv2d_1'" in reasons["conv2d_1/kernel"]
    assert "give --old-model if the order is not the old model's" in reasons["conv2d_1/kernel"]
    for name in ("inserted/kernel", "new_head/bias"):
        assert "its layers do not fit NEW's one for one" in reasons[name], reasons[name]
        assert "9 layers in the file, 10 in the model" in reasons[name], reasons[name]
    head = {u.key: u.reason for u in plan.unused}["layer-8/kernel"]
    assert "no layer of NEW with weights of the shapes of its layer-8" in head, head
    assert plan.provenance.old_model is None  # NEW stood in for its graph; it is not its model


# The Sequential with a Dense of the same shape inserted before the tanh one: the stored
# layer-2 (8 x 8) could be either by order and shapes; the layers around it cannot.
SEQUENTIAL_INSERTED = """
    def build_model():
        return keras.Sequential(
            [
                keras.Input((6,)),
                layers.Dense(8, activation="relu"),
                layers.Dense(8, name="x"),
                layers.Dropout(0.5),
                layers.Dense(8, activation="tanh", name="y"),
                layers.Dense(3, name="head"),
            ]
        )
    """


def test_a_checkpoint_alone_leaves_a_layer_that_order_and_shapes_do_not_decide(
    keras2_files, tmp_path
):
    changed = write_model(tmp_path / "changed", SEQUENTIAL_INSERTED)
    plan = make_plan(keras2_files.path("sequential", "checkpoint"), changed)

    sources = {e.name: e.stored_as for e in plan.variables}
    assert sources == {
        "sequential/dense/kernel": "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE",
        "sequential/dense/bias": "layer_with_weights-0/bias/.ATTRIBUTES/VARIABLE_VALUE",
        "sequential/x/kernel": None,
        "sequential/x/bias": None,
        "sequential/y/kernel": None,
        "sequential/y/bias": None,
        "sequential/head/kernel": "layer_with_weights-2/kernel/.ATTRIBUTES/VARIABLE_VALUE",
        "sequential/head/bias": "layer_with_weights-2/bias/.ATTRIBUTES/VARIABLE_VALUE",
    }
    left = {u.key: u.reason for u in plan.unused}["layer-2/kernel"]
    assert "its layer-2 could be NEW's 'x' or 'y' by order and shapes" in left, left


# The nested model with a layer inserted before the nested ones and a head of 3 outputs: its
# `pre` and `inserted` are both 6 x 6, so the stored `pre` could be either.
NESTED_CHANGED = """
    def build_model():
        body = keras.Sequential(
            [layers.Dense(4, activation="relu"), layers.BatchNormalization()], name="body"
        )
        head_in = keras.Input((4,))
        head = keras.Model(head_in, layers.Dense(3, use_bias=False)(head_in), name="head")
        inputs = keras.Input((6,))
        x = layers.Dense(6, name="pre")(inputs)
        x = layers.Dense(6, name="inserted")(x)
        return keras.Model(inputs, head(body(x)))
    """


VALUE = ".ATTRIBUTES/VARIABLE_VALUE"


def test_a_checkpoint_alone_pairs_layers_inside_nested_models(keras2_files, tmp_path):
    changed = write_model(tmp_path / "changed", NESTED_CHANGED)
    plan = make_plan(keras2_files.path("nested", "checkpoint"), changed)

    restored = {e.name: e.stored_key for e in plan.variables if e.action == RESTORE}
    assert restored == {
        f"body/{name}": f"layer_with_weights-1/layer_with_weights-{layer}/{weight}/{VALUE}"
        for name, layer, weight in [
            ("dense/kernel", 0, "kernel"),
            ("dense/bias", 0, "bias"),
            ("batch_normalization/gamma", 1, "gamma"),
            ("batch_normalization/beta", 1, "beta"),
            ("batch_normalization/moving_mean", 1, "moving_mean"),
            ("batch_normalization/moving_variance", 1, "moving_variance"),
        ]
    }
    unused = {u.key: u.reason for u in plan.unused}
    assert "could be NEW's 'pre' or 'inserted'" in unused["layer-1/kernel"]
    assert "layer-3/layer-1 is in its place" in unused["layer-3/layer_with_weights-0/kernel"]


# Another model than the Sequential whose checkpoint is given: a CNN that only happens to end
# in a Dense(8 -> 3) as the Sequential does.
UNRELATED = """
    def build_model():
        inputs = keras.Input((8, 8, 3))
        x = layers.Conv2D(8, 3)(inputs)
        x = layers.BatchNormalization()(x)
        x = layers.Conv2D(8, 3)(x)
        x = layers.BatchNormalization()(x)
        x = layers.GlobalAveragePooling2D()(x)
        return keras.Model(inputs, layers.Dense(3)(x))
    """


def test_a_checkpoint_alone_into_another_model_restores_no_chance_alike_layer(
    keras2_files, tmp_path
):
    # Order and shapes line up its head with the CNN's, and only that: 1 of its 3 layers. It
    # was restored (every best alignment agreed); a checkpoint so unlike NEW is not a version
    # of it, and nothing is restored.
    other = write_model(tmp_path / "other", UNRELATED)
    plan = make_plan(keras2_files.path("sequential", "checkpoint"), other)

    assert not plan.restored
    head = {u.key: u.reason for u in plan.unused}["layer-3/kernel"]
    assert "order and shapes line up 1 of its 3 layers with weights with NEW's 5" in head, head
    assert "not taken to be a version of NEW's model" in head, head
    assert "nothing is restored" in plan.variables[0].reason, plan.variables[0].reason


def _one_line_exit_2(result, *fragments):
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("graphdiff: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert not result.stdout


def test_a_truncated_h5_is_bad_input(keras2_files, keras3_models, tmp_path):
    whole = keras2_files.path("cnn", "whole").read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(whole[: len(whole) // 2])

    _one_line_exit_2(run_in_process("plan", cut, keras3_models["cnn"]), str(cut))


def test_an_h5_that_is_neither_keras_3_nor_tf_keras_2_is_bad_input(keras3_models, tmp_path):
    import h5py

    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as file:
        file["measurements"] = np.arange(6.0)

    result = run_in_process("plan", other, keras3_models["cnn"])
    _one_line_exit_2(result, str(other), "neither Keras 3 weights", "nor a tf.keras 2 .h5")


def test_a_model_config_keras_3_cannot_rebuild_asks_for_old_model(
    keras2_files, keras3_models, tmp_path
):
    import json
    import shutil

    import h5py

    custom = tmp_path / "custom.h5"
    shutil.copy(keras2_files.path("cnn", "whole"), custom)
    with h5py.File(custom, "r+") as file:  # a custom layer class, as a user's own layer is
        config = json.loads(file.attrs["model_config"])
        config["config"]["layers"][3]["class_name"] = "MyBlock"
        file.attrs["model_config"] = json.dumps(config)

    result = run_in_process("plan", custom, keras3_models["cnn"])
    _one_line_exit_2(result, str(custom), "Keras 3 cannot rebuild its model_config", "MyBlock")
    assert "--old-model OLD.py" in result.stderr
    # The way out it names works: the architecture written in Keras 3.
    plan = make_plan(custom, keras3_models["cnn"], old_model=keras3_models["cnn"])
    assert all(e.action == RESTORE for e in plan.variables)


def test_a_weights_h5_alone_asks_for_its_architecture(keras2_files, keras3_models):
    result = run_in_process("plan", keras2_files.path("cnn", "weights"), keras3_models["cnn"])
    _one_line_exit_2(result, "holds no model", "--old-model OLD.py", "--same-architecture")


@pytest.mark.parametrize("kind", ["weights", "checkpoint"])
def test_a_file_saved_from_another_architecture_is_refused_naming_the_layer(
    keras2_files, keras3_models, kind
):
    old = keras2_files.path("sequential", kind)
    result = run_in_process("plan", old, keras3_models["cnn"], "--old-model", keras3_models["cnn"])
    _one_line_exit_2(result, str(old), "was not saved from the model")


def test_same_architecture_and_old_model_together_is_a_usage_error(keras2_files, keras3_models):
    new = keras3_models["cnn"]
    old = keras2_files.path("cnn", "weights")
    result = run_in_process("plan", old, new, "--same-architecture", "--old-model", new)
    _one_line_exit_2(result, "--same-architecture", "give one")


def test_same_architecture_on_the_command_line(keras2_files, keras3_models, tmp_path):
    out = tmp_path / "plan.json"
    old = keras2_files.path("nested", "weights")
    result = run_in_process("plan", old, keras3_models["nested"], "--same-architecture", "-o", out)

    assert result.returncode == 0, result.stderr
    assert "9 of 9 variables restored" in result.stderr


def test_a_tf_train_checkpoint_of_a_tf_keras_2_model_restores_its_optimizer_apart(
    keras2_files, keras3_models, tmp_path
):
    plan, output, expected = _restore_and_run(
        keras2_files, keras3_models, "cnn", "train_checkpoint", tmp_path
    )

    assert all(e.action == RESTORE for e in plan.variables)
    np.testing.assert_allclose(output, expected, atol=1e-5, rtol=0)
    # The compiled model's own optimizer (model/optimizer/...) is optimizer state, not a layer.
    own = [u for u in plan.unused if u.key.startswith("model/optimizer/")]
    assert own and all(u.reason.startswith("optimizer:") for u in own), own
