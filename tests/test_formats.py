"""The other sources and targets: tf.Module both ways, SavedModels (TF1 and TF2), a checkpoint
without its graph, `.keras` archives; each planned and applied for real."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import REPO
from graphs import dense, inputs, save_checkpoint, v1
from keras_models import build, layer_values, load_into, save_weights, trained, write_model

from graphdiff.apply.executor import apply_plan
from graphdiff.formats.base import NO_GRAPH
from graphdiff.plan import INITIALIZE, RESTORE
from graphdiff.planning import make_plan
from graphdiff.tf_import import tensorflow

tf = tensorflow()

MLP = """
def build_model():
    inputs = keras.Input((8,), name="features")
    h = layers.Dense(16, activation="relu")(inputs)
    h = layers.Dense(16, activation="relu")(h)
    return keras.Model(inputs, layers.Dense(3)(h))
"""

MLP_DEEPER = """
def build_model():
    inputs = keras.Input((8,), name="features")
    h = layers.Dense(16, activation="relu")(inputs)
    h = layers.Dense(16, activation="relu")(h)
    h = layers.Dense(16, activation="relu")(h)
    return keras.Model(inputs, layers.Dense(3)(h))
"""

MODULE = """
class Net(tf.Module):
    def __init__(self, heads):
        self.w = tf.Variable(tf.random.normal((8, 4)), name="w")
        self.heads = [tf.Variable(tf.random.normal((4, 2)), name="head") for _ in range(heads)]

    @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32, name="x")])
    def __call__(self, x):
        hidden = tf.nn.relu(x @ self.w)
        return [hidden @ head for head in self.heads]


def build_model():
    return Net(heads={heads})
"""


def test_tf_module_checkpoint_into_a_tf_module(tmp_path):
    old_py = write_model(tmp_path / "old", MODULE.replace("{heads}", "1"))
    new_py = write_model(tmp_path / "new", MODULE.replace("{heads}", "2"))
    old_module = build(old_py)
    tf.train.Checkpoint(model=old_module).write(str(tmp_path / "old" / "ckpt"))
    out = tmp_path / "out" / "ckpt"
    plan = make_plan(tmp_path / "old" / "ckpt", new_py, old_model=old_py, output_prefix=str(out))

    assert plan.provenance.new_graph_kind == "module"
    assert plan.entry("model/w").source == "model/w"
    assert plan.entry("model/heads/0").action == RESTORE
    assert plan.entry("model/heads/1").action == INITIALIZE
    apply_plan(plan, verify=True)
    fresh = build(new_py, seed=9)
    tf.train.Checkpoint(model=fresh).read(str(out)).assert_existing_objects_matched()
    assert np.array_equal(fresh.w.numpy(), old_module.w.numpy())
    assert np.array_equal(fresh.heads[0].numpy(), old_module.heads[0].numpy())


def test_object_based_checkpoint_without_its_model_matches_by_names_and_says_so(tmp_path):
    old_py = write_model(tmp_path / "old", MODULE.replace("{heads}", "1"))
    new_py = write_model(tmp_path / "new", MODULE.replace("{heads}", "2"))
    tf.train.Checkpoint(model=build(old_py)).write(str(tmp_path / "old" / "ckpt"))
    plan = make_plan(tmp_path / "old" / "ckpt", new_py)

    assert plan.provenance.old_kind == "tf2_checkpoint"
    assert plan.entry("model/w").action == RESTORE
    assert NO_GRAPH in plan.entry("model/heads/1").reason
    assert "--old-model" in plan.entry("model/heads/1").reason


def test_name_based_checkpoint_without_its_meta_plans_by_names(tmp_path):
    ckpt = save_checkpoint(tmp_path / "old", lambda: dense(dense(inputs(4), 8, "A"), 3, "B"))
    (tmp_path / "old" / "model.ckpt.meta").unlink()
    graph = tmp_path / "new_graph.py"
    graph.write_text(
        f"import sys\nsys.path.insert(0, {str(REPO / 'tests')!r})\n"
        "from graphs import dense, inputs\ndense(dense(inputs(4), 8, 'A'), 3, 'C')\n"
    )
    plan = make_plan(ckpt, graph, output_prefix=str(tmp_path / "new" / "model.ckpt"))
    assert plan.provenance.old_kind == "tf1_checkpoint"
    assert plan.provenance.old_meta is None
    assert plan.entry("A/w").action == RESTORE
    assert NO_GRAPH in plan.entry("C/w").reason
    apply_plan(plan, verify=True)


WIDE = """
def build_model():
    inputs = keras.Input((8,), name="features")
    h = layers.Dense(32, activation="relu")(inputs)
    h = layers.Dense(16, activation="relu")(h)
    return keras.Model(inputs, layers.Dense(3)(h))
"""

WIDE_INSERTED = """
def build_model():
    inputs = keras.Input((8,), name="features")
    h = layers.Dense(32, activation="relu")(inputs)
    h = layers.Dense(32, activation="relu")(h)
    h = layers.Dense(16, activation="relu")(h)
    return keras.Model(inputs, layers.Dense(3)(h))
"""


def test_tf2_saved_model_of_a_keras_model(tmp_path):
    old_py = write_model(tmp_path / "old", WIDE)
    new_py = write_model(tmp_path / "new", WIDE_INSERTED)
    model, _ = trained(old_py)
    model.export(str(tmp_path / "saved"), verbose=False)
    old_values = layer_values(model)
    out = tmp_path / "out.weights.h5"
    plan = make_plan(tmp_path / "saved", new_py, output_prefix=str(out))

    assert plan.provenance.old_kind == "saved_model"
    assert plan.provenance.old_meta.path.endswith("saved_model.pb")
    assert plan.entry("dense_2/kernel").source == "dense_1/kernel"  # by structure
    assert plan.entry("dense_3/kernel").source == "dense_2/kernel"
    assert plan.entry("dense_1/kernel").action == INITIALIZE
    assert not plan.unused
    apply_plan(plan, verify=True)
    restored = layer_values(load_into(new_py, out))
    assert np.array_equal(restored["dense_3"][0], old_values["dense_2"][0])
    assert np.array_equal(restored["dense_2"][1], old_values["dense_1"][1])


def test_tf1_saved_model(tmp_path):
    graph = tf.Graph()
    with graph.as_default(), v1.Session() as session:
        x = inputs(4)
        dense(dense(x, 8, "A"), 3, "B")
        session.run(v1.global_variables_initializer())
        builder = v1.saved_model.Builder(str(tmp_path / "saved"))
        builder.add_meta_graph_and_variables(session, ["serve"])
        builder.save()
        values = {v.op.name: session.run(v) for v in v1.global_variables()}
    new = tmp_path / "new_graph.py"
    new.write_text(
        f"import sys\nsys.path.insert(0, {str(REPO / 'tests')!r})\n"
        "from graphs import dense, inputs\nx = inputs(4)\ndense(dense(x, 8, 'A'), 3, 'B')\n"
        "dense(x, 2, 'C')\n"
    )
    out = tmp_path / "new" / "model.ckpt"
    plan = make_plan(tmp_path / "saved", new, output_prefix=str(out))
    assert {e.name for e in plan.restored} == {"A/w", "A/b", "B/w", "B/b"}
    apply_plan(plan, verify=True)
    assert np.array_equal(tf.train.load_checkpoint(str(out)).get_tensor("B/w"), values["B/w"])


def test_keras_archive_needs_no_old_model(tmp_path):
    old_py = write_model(tmp_path / "old", MLP)
    new_py = write_model(tmp_path / "new", MLP_DEEPER)
    model, _ = trained(old_py)
    model.save(str(tmp_path / "old.keras"))
    plan = make_plan(tmp_path / "old.keras", new_py)
    assert plan.provenance.old_kind == "keras_archive"
    assert plan.entry("dense_3/kernel").stored_as == "layers/dense_2/vars/0"
    assert any(u.key.startswith("optimizer/") for u in plan.unused)  # compiled: its state


@pytest.mark.parametrize("kind", ["weights_h5", "keras"])
def test_keras_weights_into_a_tf1_graph(kind, tmp_path):
    old_py = write_model(tmp_path / "old", MLP)
    if kind == "keras":
        model, _ = trained(old_py)
        model.save(str(tmp_path / "old.keras"))
        old, values = tmp_path / "old.keras", layer_values(model)
    else:
        old, values = tmp_path / "old.weights.h5", save_weights(old_py, tmp_path / "old.weights.h5")
    new = tmp_path / "new_graph.py"
    new.write_text(
        f"import sys\nsys.path.insert(0, {str(REPO / 'tests')!r})\n"
        "from graphs import dense, inputs\n"
        "dense(dense(dense(inputs(8), 16, 'l1'), 16, 'l2'), 3, 'head')\n"
    )
    out = tmp_path / "new" / "model.ckpt"
    plan = make_plan(old, new, old_model=old_py, output_prefix=str(out))
    assert plan.entry("l1/w").source == "dense/kernel"
    assert plan.entry("head/w").source == "dense_2/kernel"
    apply_plan(plan, verify=True)
    reader = tf.train.load_checkpoint(str(out))
    assert np.array_equal(reader.get_tensor("l2/w"), values["dense_1"][0])


def test_a_plan_from_an_object_based_checkpoint_without_its_model_says_to_give_it(tmp_path):
    """0 of N restored with not a word of --old-model was the newcomer's lot."""
    from graphdiff.view.summary import format_summary

    old_py = write_model(tmp_path / "old", MODULE.replace("{heads}", "1"))
    renamed = MODULE.replace("{heads}", "2").replace("self.w ", "self.weights_in ")
    new_py = write_model(tmp_path / "new", renamed.replace("self.w)", "self.weights_in)"))
    tf.train.Checkpoint(model=build(old_py)).write(str(tmp_path / "old" / "ckpt"))
    summary = format_summary(make_plan(tmp_path / "old" / "ckpt", new_py)).splitlines()
    hint = [line for line in summary if "--old-model" in line]
    assert hint == [
        "  no computation graph on the old side (an object-based checkpoint): matched by names "
        "and --map only; give the .py that builds its model with --old-model for the structure"
    ]


def test_a_checkpoint_given_beside_its_meta_points_to_the_meta(tmp_path):
    from graphdiff.view.summary import format_summary

    ckpt = save_checkpoint(tmp_path / "old", lambda: dense(dense(inputs(4), 8, "A"), 3, "B"))
    graph = tmp_path / "new_graph.py"
    graph.write_text(
        f"import sys\nsys.path.insert(0, {str(REPO / 'tests')!r})\n"
        "from graphs import dense, inputs\ndense(dense(inputs(4), 8, 'enc'), 3, 'B')\n"
    )
    for given in (ckpt, ckpt + ".index"):
        plan = make_plan(given, graph, output_prefix=str(tmp_path / "new" / "model.ckpt"))
        assert plan.entry("enc/w").action == INITIALIZE
        assert f"plan from {ckpt}.meta, beside it" in plan.entry("enc/w").reason
        summary = format_summary(plan)
        assert summary.splitlines()[1] == (
            "  no computation graph on the old side (the checkpoint was given, not its graph): "
            f"matched by names and --map only; plan from {ckpt}.meta, beside it, to match by "
            "structure"
        )


def test_a_picture_without_edges_for_a_traced_model_says_why_in_one_line(tmp_path):
    """A tf.Module computing in one scope: its ops cannot be given to its variables' scopes, so
    no edges; the picture says so instead of drawing a graph without data flow in silence."""
    from graphdiff.view.render import render_plan

    old_py = write_model(tmp_path / "old", MODULE.replace("{heads}", "1"))
    new_py = write_model(tmp_path / "new", MODULE.replace("{heads}", "2"))
    tf.train.Checkpoint(model=build(old_py)).write(str(tmp_path / "old" / "ckpt"))
    plan = make_plan(tmp_path / "old" / "ckpt", new_py, old_model=old_py)
    notes: list[str] = []
    render_plan(plan, tmp_path / "diff.dot", on_note=notes.append)
    assert notes == [
        "no data-flow edges: the traced ops of the old model and the new graph are not named by "
        "their variables' scopes (one scope computes with several layers' variables)"
    ]
