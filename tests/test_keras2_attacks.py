"""tf.keras 2 files that broke graphdiff, as a user migrating real models would meet them.

Every file is written by tf.keras 2 itself (keras2_writer.py, once per session, the models of
keras2_attack_models.py), and its Keras 3 model is the same `build(keras)` source run by Keras
3. Where the architecture is the same, the restored Keras 3 model's output must be tf.keras
2's to 1e-5; where it is not, nothing may be restored into a layer it does not belong to.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import run_in_process
from keras2_attack_models import SOURCES, keras3_body
from keras2_files import Keras2Files
from keras_models import load_into, write_model

from graphdiff.apply.executor import apply_plan
from graphdiff.plan import RESTORE
from graphdiff.planning import make_plan

WRITTEN = tuple(SOURCES)


@pytest.fixture(scope="session")
def attack_files(tmp_path_factory) -> Keras2Files:
    return Keras2Files(tmp_path_factory.mktemp("keras2_attacks"), WRITTEN)


@pytest.fixture(scope="session")
def keras3(tmp_path_factory):
    directory = tmp_path_factory.mktemp("keras2_attacks_keras3")
    return {name: write_model(directory / name, keras3_body(name)) for name in SOURCES}


def _restore(attack_files, old: str, kind: str, new_py, old_model, tmp_path):
    """Plan the tf.keras 2 file of model `old` into `new_py`, apply, run the Keras 3 model:
    (plan, its output, tf.keras 2's output on the same input)."""
    out = tmp_path / "model.weights.h5"
    plan = make_plan(
        attack_files.path(old, kind), new_py, old_model=old_model, output_prefix=str(out)
    )
    apply_plan(plan, verify=True)
    x, y = attack_files.expected(old)
    return plan, load_into(new_py, out)(x, training=False).numpy(), y


@pytest.mark.parametrize("kind", ["weights", "whole"])
def test_automatic_names_made_in_another_order_are_positions_not_identities(
    attack_files, keras3, kind, tmp_path
):
    # The same network, its two hidden layers made in the other order: tf.keras 2's `dense`
    # (relu, first) is Keras 3's `dense_1`. Pairing the .h5 by name put relu's kernel into the
    # tanh layer (exit 0); Keras's own loader, and graphdiff now, pair by the layer order.
    new = keras3["order_b"]
    plan, output, expected = _restore(attack_files, "order_a", kind, new, new, tmp_path)

    assert all(e.action == RESTORE for e in plan.variables)
    np.testing.assert_allclose(output, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", ["weights", "whole"])
def test_named_layers_in_another_order_are_not_the_same_architecture(attack_files, keras3, kind):
    # The file's layers are a (relu), b (tanh); the model's b (tanh), a (relu). Names pair a
    # with a, the order a with b: --same-architecture is not true, and the file is refused.
    old = attack_files.path("named_ab", kind)
    result = run_in_process("plan", old, keras3["named_ba"], "--same-architecture")

    assert result.returncode == 2, result.stderr
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and str(old) in line, line
    assert "'a'" in line and "'b'" in line and "order" in line, line
    assert not result.stdout


@pytest.mark.parametrize("kind", ["whole", "weights", "checkpoint"])
@pytest.mark.parametrize("model", ["text", "transformer", "augmented", "frozen_base"])
def test_models_whose_whole_file_keras_3_could_not_rebuild_restore_from_every_file(
    attack_files, keras3, model, kind, tmp_path
):
    # Their whole .h5 was refused ("Keras 3 cannot rebuild its model_config"): an LSTM's
    # time_major, a GRU inside Bidirectional, MultiHeadAttention's shapes and value=, Attention's
    # score_mode, RandomFlip's rng_type, a built BatchNormalization's axis [3], a nested
    # model's one output. The weights .h5 and the checkpoint are here to show all three agree.
    new = keras3[model]
    old_model = new if kind == "weights" else None
    plan, output, expected = _restore(attack_files, model, kind, new, old_model, tmp_path)

    assert all(e.action == RESTORE for e in plan.variables)
    np.testing.assert_allclose(output, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("old_model", [False, True])
def test_a_checkpoint_whose_layer_list_holds_tensor_operators_restores(
    attack_files, keras3, old_model, tmp_path
):
    # tf.keras 2 lists `x * 0.5` as a layer (TFOpLambda) and counts it in layer-N; Keras 3
    # does not (MobileNetV3, ConvNeXt): 0 of its variables were restored, and with --old-model
    # the checkpoint was refused. The layers with weights pair by their order, and say so.
    new = keras3["tensor_ops"]
    plan, output, expected = _restore(
        attack_files, "tensor_ops", "checkpoint", new, new if old_model else None, tmp_path
    )

    assert all(e.action == RESTORE for e in plan.variables)
    np.testing.assert_allclose(output, expected, atol=1e-5, rtol=0)
    assert all("among the layers with weights" in e.reason for e in plan.variables)


@pytest.mark.parametrize("kind", ["whole", "weights"])
def test_a_nested_model_whose_layer_names_hold_a_slash_restores(
    attack_files, keras3, kind, tmp_path
):
    # A nested DenseNet's weights are `conv1/conv/kernel:0` in its model's group: read as
    # layer `conv1`, weight `conv/kernel`, the nested model's layers did not pair (refused).
    new = keras3["slash_names"]
    old_model = new if kind == "weights" else None
    plan, output, expected = _restore(attack_files, "slash_names", kind, new, old_model, tmp_path)

    assert all(e.action == RESTORE for e in plan.variables)
    np.testing.assert_allclose(output, expected, atol=1e-5, rtol=0)


def test_a_checkpoint_taken_to_be_news_model_says_so_in_every_reason(attack_files, keras3):
    # The checkpoint has no names and no activations; it fits NEW (the same shapes in the same
    # places) though NEW swapped two layers. Restoring by position is all that can be done, and
    # the plan said "same name": a reviewer must see that NEW was taken as its model.
    plan = make_plan(attack_files.path("named_ab", "checkpoint"), keras3["named_ba"])

    for entry in plan.variables:
        assert "names its layers by position only" in entry.reason, entry.reason
        assert "give --old-model if it was not" in entry.reason, entry.reason


@pytest.mark.parametrize("kind", ["weights", "checkpoint"])
def test_a_subclassed_model_restores_into_its_keras_3_twin(attack_files, keras3, kind, tmp_path):
    # Its checkpoint says `hidden/kernel`; Keras 3's Dense keeps its kernel as `_kernel`, so the
    # checkpoint was refused with --same-architecture ("no object ... holds its variables").
    # Its weights .h5 keeps the model's own `scale` in top_level_model_weights: it was refused
    # ("graphdiff pairs layers' weights only").
    new = keras3["subclassed"]
    plan, output, expected = _restore(attack_files, "subclassed", kind, new, new, tmp_path)

    assert all(e.action == RESTORE for e in plan.variables)
    np.testing.assert_allclose(output, expected, atol=1e-5, rtol=0)

    if kind == "weights":
        scale = [e for e in plan.variables if e.name.endswith("scale")]
        assert [e.stored_key for e in scale] == ["top_level_model_weights/scale:0"], scale


def _damaged_copy(prefix, directory, change):
    """The checkpoint at `prefix` written again by TensorFlow's SaveV2 with `change(tensors)`
    applied to its tensors (name -> value): a damaged file, as a bad disk or tool leaves it."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(prefix))
    tensors = {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()}
    change(tensors)
    names = sorted(tensors)
    out = directory / "ckpt"
    tf.raw_ops.SaveV2(
        prefix=str(out),
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tf.constant(tensors[n]) for n in names],
    )
    return out


def _graph_changed(edit):
    def change(tensors):
        from tensorflow.core.protobuf import trackable_object_graph_pb2

        graph = trackable_object_graph_pb2.TrackableObjectGraph()
        graph.ParseFromString(tensors["_CHECKPOINTABLE_OBJECT_GRAPH"])
        edit(graph)
        tensors["_CHECKPOINTABLE_OBJECT_GRAPH"] = graph.SerializeToString()

    return change


def _point_outside(graph):
    graph.nodes[0].children[0].node_id = len(graph.nodes) + 10


def _model_inside_itself(graph):
    layer = next(c.node_id for c in graph.nodes[0].children if c.local_name == "layer-1")
    graph.nodes[layer].children.add(node_id=0, local_name="layer-0")


def _drop_a_weight(tensors):
    del tensors["layer_with_weights-1/kernel/.ATTRIBUTES/VARIABLE_VALUE"]


@pytest.mark.parametrize(
    "change, fault",
    [
        (_graph_changed(_point_outside), "points to object"),  # was exit 1: IndexError
        (_graph_changed(_model_inside_itself), "holds a model inside itself"),  # RecursionError
        # was exit 0: the layer lost its kernel, and was left out or paired by its bias alone
        (_drop_a_weight, "layer_with_weights-1/kernel/.ATTRIBUTES/VARIABLE_VALUE"),
    ],
    ids=["node_out_of_range", "cycle", "missing_tensor"],
)
@pytest.mark.parametrize("with_old_model", [False, True])
def test_a_damaged_checkpoint_is_bad_input(
    attack_files, keras3, change, fault, with_old_model, tmp_path
):
    damaged = _damaged_copy(attack_files.path("named_ab", "checkpoint"), tmp_path, change)
    new = keras3["named_ab"]
    extra = ["--old-model", new] if with_old_model else []
    result = run_in_process("plan", damaged, new, *extra)

    assert result.returncode == 2, result.stderr
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and str(damaged) in line, line
    assert fault in line and "damaged checkpoint" in line, line


def test_same_architecture_with_a_new_that_is_no_python_file_names_it(attack_files, tmp_path):
    # NEW stands for OLD's model too: a NEW that is not a .py was blamed on --old-model.
    other = tmp_path / "model.h5"
    other.write_text("not a model\n")
    result = run_in_process(
        "plan", attack_files.path("named_ab", "weights"), other, "--same-architecture"
    )

    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        f"graphdiff: {other}: --same-architecture takes NEW as OLD's model: it must be a .py "
        "that builds it"
    )


def test_keras_3s_own_legacy_h5_reads_as_the_layout_it_is(keras3, tmp_path):
    # Keras 3 still writes the legacy layout (`model.save("x.h5")`): the same groups, its own
    # config. It is read as a tf.keras 2 .h5 is, and restores exactly.
    from keras_models import build

    new = keras3["named_ab"]
    model = build(new, seed=3)
    with warnings.catch_warnings():  # Keras's advice to use .keras instead: this is the point
        warnings.simplefilter("ignore")
        model.save(tmp_path / "keras3.h5")
    out = tmp_path / "model.weights.h5"
    plan = make_plan(tmp_path / "keras3.h5", new, output_prefix=str(out))
    apply_plan(plan, verify=True)

    assert all(e.action == RESTORE for e in plan.variables)
    x = np.random.default_rng(0).random((2, 16), dtype=np.float32)
    np.testing.assert_array_equal(load_into(new, out)(x).numpy(), model(x).numpy())
