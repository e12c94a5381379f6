"""Keras 3 models on both sides: old weights (.weights.h5 or an object-based TF2 checkpoint)
restored into a changed model, every old layer's weights in their own layer.

Each case is a pair of real model files; the old model is trained one step and saved, the plan
is made and applied (with --verify), and the written `.weights.h5` is loaded into a freshly
built new model the way a user would, with no warning allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pytest
from keras_models import layer_values, load_into, save_tf2_checkpoint, save_weights, write_model

from graphdiff.apply.executor import apply_plan
from graphdiff.plan import INITIALIZE, Options
from graphdiff.planning import make_plan


@dataclass(frozen=True)
class Case:
    id: str
    old: str
    new: str
    expected: dict  # new layer -> the old layer whose weights it must hold (None: initialized)


NAMED_CHAIN = """
def build_model():
    inputs = keras.Input((8,), name="features")
    h = layers.Dense(16, activation="relu", name="a")(inputs)
    h = layers.Dense(16, activation="relu", name="b")(h)
    return keras.Model(inputs, layers.Dense(16, name="head")(h))
"""

CASES = [
    Case(
        "inserted_between_named_layers",  # load_weights puts b's weights into extra
        NAMED_CHAIN,
        """
        def build_model():
            inputs = keras.Input((8,), name="features")
            h = layers.Dense(16, activation="relu", name="a")(inputs)
            h = layers.Dense(16, activation="relu", name="extra")(h)
            h = layers.Dense(16, activation="relu", name="b")(h)
            return keras.Model(inputs, layers.Dense(16, name="head")(h))
        """,
        {"a": "a", "extra": None, "b": "b", "head": "head"},
    ),
    Case(
        "inserted_with_automatic_names",  # every name after the insertion is shifted by one
        """
        def build_model():
            inputs = keras.Input((8,))
            h = layers.Dense(32, activation="relu")(inputs)
            h = layers.Dense(16, activation="relu")(h)
            return keras.Model(inputs, layers.Dense(3)(h))
        """,
        """
        def build_model():
            inputs = keras.Input((8,))
            h = layers.Dense(32, activation="relu")(inputs)
            h = layers.Dense(32, activation="relu")(h)
            h = layers.Dense(16, activation="relu")(h)
            return keras.Model(inputs, layers.Dense(3)(h))
        """,
        {"dense": "dense", "dense_1": None, "dense_2": "dense_1", "dense_3": "dense_2"},
    ),
    Case(
        "new_head",
        NAMED_CHAIN,
        """
        def build_model():
            inputs = keras.Input((8,), name="features")
            h = layers.Dense(16, activation="relu", name="a")(inputs)
            h = layers.Dense(16, activation="relu", name="b")(h)
            head = layers.Dense(16, name="head")(h)
            return keras.Model(inputs, [head, layers.Dense(5, name="aux")(h)])
        """,
        {"a": "a", "b": "b", "head": "head", "aux": None},
    ),
    Case(
        "extra_branch",  # the seed story: Input -> A -> B -> out1, plus A -> C -> out2
        """
        def build_model():
            inputs = keras.Input((4,), name="Input")
            hidden = layers.Dense(16, activation="relu")(inputs)
            return keras.Model(inputs, layers.Dense(3)(hidden))
        """,
        """
        def build_model():
            inputs = keras.Input((4,), name="Input")
            hidden = layers.Dense(16, activation="relu")(inputs)
            out1 = layers.Dense(3)(hidden)
            branch = layers.Dense(8, activation="relu")(hidden)
            return keras.Model(inputs, [out1, layers.Dense(2)(branch)])
        """,
        {"dense": "dense", "dense_1": "dense_1", "dense_2": None, "dense_3": None},
    ),
]


def _old_weights(kind: str, old_py, tmp_path):
    if kind == "weights_h5":
        path = tmp_path / "old" / "model.weights.h5"
        return path, save_weights(old_py, path)
    prefix = tmp_path / "old" / "tf2" / "ckpt"
    return prefix, save_tf2_checkpoint(old_py, prefix)


@pytest.mark.parametrize("old_kind", ["weights_h5", "tf2_checkpoint"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_every_old_layer_lands_in_its_own_layer(case, old_kind, tmp_path):
    old_py = write_model(tmp_path / "old", case.old)
    new_py = write_model(tmp_path / "new", case.new)
    old, old_values = _old_weights(old_kind, old_py, tmp_path)
    out = tmp_path / "out" / "model.weights.h5"
    plan = make_plan(old, new_py, old_model=old_py, output_prefix=str(out))

    assert apply_plan(plan, verify=True) == str(out)
    restored = layer_values(load_into(new_py, out))
    for new_layer, old_layer in case.expected.items():
        entries = [e for e in plan.variables if e.name.startswith(f"{new_layer}/")]
        if old_layer is None:
            assert all(e.action == INITIALIZE for e in entries), entries
            for old_arrays in old_values.values():
                for value in restored[new_layer]:
                    assert not any(np.array_equal(value, o) for o in old_arrays)
        else:
            assert [e.source for e in entries] == [f"{old_layer}/kernel", f"{old_layer}/bias"]
            for value, old_value in zip(restored[new_layer], old_values[old_layer], strict=True):
                assert np.array_equal(value, old_value)


def test_the_plan_names_keras_variables_by_path_and_keeps_where_they_are_stored(tmp_path):
    old_py = write_model(tmp_path / "old", NAMED_CHAIN)
    new_py = write_model(tmp_path / "new", CASES[0].new)
    old = tmp_path / "old.weights.h5"
    save_weights(old_py, old)
    plan = make_plan(old, new_py, old_model=old_py)

    b = plan.entry("b/kernel")
    assert (b.source, b.stored_as) == ("b/kernel", "layers/dense_1/vars/0")
    assert plan.provenance.old_kind == "keras_weights"
    assert plan.provenance.new_graph_kind == "keras"
    assert plan.provenance.old_model.path == str(old_py)
    assert plan.output_prefix.endswith("graphdiff_out/model.weights.h5")


AUTO_CHAIN = """
def build_model():
    inputs = keras.Input((8,))
    h = layers.Dense(16, activation="relu")(inputs)
    h = layers.Dense(16, activation="relu")(h)
    return keras.Model(inputs, layers.Dense(3)(h))
"""

AUTO_CHAIN_INSERTED = """
def build_model():
    inputs = keras.Input((8,))
    h = layers.Dense(16, activation="relu")(inputs)
    h = layers.Dense(16, activation="relu")(h)
    h = layers.Dense(16, activation="relu")(h)
    return keras.Model(inputs, layers.Dense(3)(h))
"""


def test_an_identical_layer_among_counted_names_is_left_to_the_user(tmp_path):
    """Unnamed, alike layers: `dense_1` is "the second Dense", in the old model and in the new
    one, so the same name proves nothing; the graph fits old dense_1 at new dense_1 and at new
    dense_2. Both are initialized with the candidate listed, until --map says which."""
    old_py = write_model(tmp_path / "old", AUTO_CHAIN)
    new_py = write_model(tmp_path / "new", AUTO_CHAIN_INSERTED)
    old = tmp_path / "old.weights.h5"
    save_weights(old_py, old)

    plan = make_plan(old, new_py, old_model=old_py)
    for name in ("dense_1/kernel", "dense_2/kernel"):
        entry = plan.entry(name)
        assert entry.action == INITIALIZE and entry.candidates == ("dense_1/kernel",)
        assert "only counts layers of a kind" in entry.reason
    assert plan.entry("dense/kernel").source == "dense/kernel"
    assert plan.entry("dense_3/kernel").source == "dense_2/kernel"

    settled = make_plan(old, new_py, old_model=old_py, options=Options(maps=("dense_1=dense_2",)))
    assert settled.entry("dense_2/kernel").source == "dense_1/kernel"
    assert settled.entry("dense_1/kernel").action == INITIALIZE


def test_the_picture_of_a_keras_plan_draws_the_data_flow_in_data_order(tmp_path):
    """Traced ops (`functional_1/extra_1/MatMul`) are placed in their variables' scopes
    (`extra/kernel`): both sides get data-flow edges, and boxes follow the data, not the
    alphabet (they had no edges and stood a, b, extra, head)."""
    from graphdiff.view.diffview import build_view
    from graphdiff.view.render import render_plan

    case = CASES[0]  # a -> b -> head; extra inserted between a and b
    old_py = write_model(tmp_path / "old", case.old)
    new_py = write_model(tmp_path / "new", case.new)
    old, _ = _old_weights("weights_h5", old_py, tmp_path)
    plan = make_plan(old, new_py, old_model=old_py)
    notes: list[str] = []
    dot = render_plan(plan, tmp_path / "diff.dot", on_note=notes.append).read_text()
    flows = set(re.findall(r'"(old|new)\u2236(\w+)" -> "\1\u2236(\w+)" \[arrowsize', dot))
    assert flows == {
        ("old", "a", "b"),
        ("old", "b", "head"),
        ("new", "a", "extra"),
        ("new", "extra", "b"),
        ("new", "b", "head"),
    }
    assert notes == []
    ordered = [line.split("\u2236", 1)[1].split('"')[0] for line in dot.splitlines()
               if re.match(r'\s*"new\u2236\w+" \[', line)]  # fmt: skip
    assert ordered == ["a", "extra", "b", "head"]
    assert [b.key for b in build_view(plan).boxes("new")] == ["a", "b", "extra", "head"]


def test_keras_variables_say_which_models_hold_their_layer():
    """A net wrapped in a model: its layers are within it, the wrapper's own at the root
    (what match/models_within.py reads; a variable's Keras path does not say it)."""
    import keras

    from graphdiff.formats.model_variables import keras_variables

    inner_in = keras.Input((4,))
    net = keras.Model(inner_in, keras.layers.Dense(3, name="hidden")(inner_in), name="net")
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="task")(net(inputs)))
    within = {name: v.within for name, v in keras_variables(model).items()}
    assert within == {
        "hidden/kernel": "net",
        "hidden/bias": "net",
        "task/kernel": "",
        "task/bias": "",
    }
