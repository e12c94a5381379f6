"""The matcher on Keras models: the evidence it weighs, as issue 15 asks for it.

Auto-names are positions whatever the container, a layer goes whole to one layer, the
activation tells alike layers apart, thin evidence is marked. Each test plans real Keras 3
models saved for real; the first one also applies the plan and loads the result as a user
would. (tests/keras_corpus/ scores many more cases; these pin what each stage must do.)
"""

from __future__ import annotations

import numpy as np
import pytest
from keras_models import build, layer_values, load_into, save_weights, trained, write_model

from graphdiff.apply.executor import apply_plan
from graphdiff.plan import INITIALIZE, RESTORE
from graphdiff.planning import make_plan
from graphdiff.view.diffview import build_view
from graphdiff.view.show import format_text

# Keras's TensorFlow backend converts tensors with np.array(x, copy=False) when it trains the
# old models: NumPy 2 warns about that; that is Keras's business.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

RELU_PAIR = """
def build_model():
    inputs = keras.Input((16,))
    h = layers.Dense(16, activation="relu")(inputs)
    h = layers.Dense(16, activation="relu")(h)
    return keras.Model(inputs, layers.Dense(3)(h))
"""

TANH_BETWEEN = """
def build_model():
    inputs = keras.Input((16,))
    h = layers.Dense(16, activation="relu")(inputs)
    h = layers.Dense(16, activation="tanh")(h)
    h = layers.Dense(16, activation="relu")(h)
    return keras.Model(inputs, layers.Dense(3)(h))
"""


def _sources(plan) -> dict[str, str | None]:
    return {e.name: e.source for e in plan.variables if e.role == "model"}


def _kinds(plan, name) -> set[str]:
    return {e.kind for e in plan.entry(name).match.evidence}


def test_an_inserted_tanh_dense_between_relus_leaves_each_old_layer_its_own(tmp_path):
    """Issue 15: every Dense has the same shapes; the old second relu layer is the new third
    (same activation, same successor), whatever its name says; no --map."""
    old_py = write_model(tmp_path / "old", RELU_PAIR)
    new_py = write_model(tmp_path / "new", TANH_BETWEEN)
    old = tmp_path / "old.weights.h5"
    values = save_weights(old_py, old)
    out = tmp_path / "out.weights.h5"
    plan = make_plan(old, new_py, old_model=old_py, output_prefix=str(out))

    assert _sources(plan) == {
        "dense/kernel": "dense/kernel",
        "dense/bias": "dense/bias",
        "dense_1/kernel": None,
        "dense_1/bias": None,
        "dense_2/kernel": "dense_1/kernel",
        "dense_2/bias": "dense_1/bias",
        "dense_3/kernel": "dense_2/kernel",
        "dense_3/bias": "dense_2/bias",
    }
    assert {"place", "signature", "whole_layer"} <= _kinds(plan, "dense_2/kernel")
    assert not plan.rules
    apply_plan(plan, verify=True)
    restored = layer_values(load_into(new_py, out))
    kept = (("dense", "dense"), ("dense_2", "dense_1"), ("dense_3", "dense_2"))
    for new_layer, old_layer in kept:
        for value, old_value in zip(restored[new_layer], values[old_layer], strict=True):
            assert np.array_equal(value, old_value)


SEQUENTIAL_CNN = """
def build_model():
    return keras.Sequential([
        keras.Input((10, 10, 3)),
        layers.Conv2D(8, 3, activation="relu"),
        layers.Conv2D(8, 3, activation="relu"),
        layers.Flatten(),
        layers.Dense(4),
    ])
"""

SEQUENTIAL_CNN_INSERTED = """
def build_model():
    return keras.Sequential([
        keras.Input((10, 10, 3)),
        layers.Conv2D(8, 3, activation="relu"),
        layers.Conv2D(8, 1, activation="relu"),
        layers.Conv2D(8, 3, activation="relu"),
        layers.Flatten(),
        layers.Dense(4),
    ])
"""

FUNCTIONAL_CNN_INSERTED = """
def build_model():
    inputs = keras.Input((10, 10, 3))
    x = layers.Conv2D(8, 3, activation="relu")(inputs)
    x = layers.Conv2D(8, 1, activation="relu")(x)
    x = layers.Conv2D(8, 3, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(4)(layers.Flatten()(x)))
"""


@pytest.mark.parametrize(
    ("old_file", "new_body", "prefix"),
    [
        ("old.keras", SEQUENTIAL_CNN_INSERTED, "sequential/"),  # archive: `conv2d_1/kernel`
        ("old.weights.h5", FUNCTIONAL_CNN_INSERTED, ""),  # `sequential/` into no container
    ],
    ids=["archive_into_sequential", "sequential_into_functional"],
)
def test_counted_names_are_positions_whatever_the_container(old_file, new_body, prefix, tmp_path):
    """The old second conv goes to the new third (the inserted 1x1 conv cannot take its
    kernel), never into the inserted one through a container rule like (root)/ -> sequential/."""
    old_py = write_model(tmp_path / "old", SEQUENTIAL_CNN)
    new_py = write_model(tmp_path / "new", new_body)
    model, _ = trained(old_py)
    old = tmp_path / old_file
    model.save(str(old)) if old_file.endswith(".keras") else model.save_weights(str(old))
    plan = make_plan(old, new_py, old_model=None if old_file.endswith(".keras") else old_py)

    old_prefix = "" if old_file.endswith(".keras") else "sequential/"
    for leaf in ("kernel", "bias"):
        assert plan.entry(f"{prefix}conv2d_2/{leaf}").source == f"{old_prefix}conv2d_1/{leaf}"
        assert plan.entry(f"{prefix}conv2d_1/{leaf}").action == INITIALIZE
        assert plan.entry(f"{prefix}conv2d/{leaf}").source == f"{old_prefix}conv2d/{leaf}"
    assert all(r.support >= 2 for r in plan.rules)


def test_an_identical_conv_inserted_among_counted_names_is_left_to_the_user(tmp_path):
    """Three alike convs where there were two, the walk from the outputs stopped by the head
    (its kernel changed shape): which conv is new only the code says; both candidates are
    initialized, the old conv's keys listed."""
    old_py = write_model(tmp_path / "old", SEQUENTIAL_CNN)
    new_py = write_model(tmp_path / "new", SEQUENTIAL_CNN_INSERTED.replace("8, 1,", "8, 3,"))
    old = tmp_path / "old.weights.h5"
    save_weights(old_py, old)
    plan = make_plan(old, new_py, old_model=old_py)

    for name in ("sequential/conv2d_1/kernel", "sequential/conv2d_2/kernel"):
        entry = plan.entry(name)
        assert entry.action == INITIALIZE
        assert entry.candidates == ("sequential/conv2d_1/kernel",)
        assert "only counts layers of a kind" in entry.reason
    assert plan.entry("sequential/conv2d/kernel").source == "sequential/conv2d/kernel"


NAMED_CLASSIFIER = """
def build_model():
    inputs = keras.Input((8,))
    h = layers.Dense(16, activation="relu", name="fc")(inputs)
    return keras.Model(inputs, layers.Dense(10, name="predictions")(h))
"""

TWIN_INSERTED = """
def build_model():
    inputs = keras.Input((8,))
    h = layers.Dense(16, activation="relu", name="fc")(inputs)
    h = layers.Dense(10, activation="relu")(h)
    return keras.Model(inputs, layers.Dense(10, name="predictions")(h))
"""


def test_a_layer_is_restored_whole_or_not_at_all(tmp_path):
    """A Dense inserted with the old classifier's shapes, the classifier's kernel reshaped:
    neither half of the old classifier is restored (a rule seen once, `predictions/ ->
    dense/`, would put its kernel into the inserted layer and its bias stays by name)."""
    old_py = write_model(tmp_path / "old", NAMED_CLASSIFIER)
    new_py = write_model(tmp_path / "new", TWIN_INSERTED)
    old = tmp_path / "old.weights.h5"
    save_weights(old_py, old)
    plan = make_plan(old, new_py, old_model=old_py)

    for name in ("dense/kernel", "dense/bias", "predictions/kernel", "predictions/bias"):
        assert plan.entry(name).action == INITIALIZE, plan.entry(name)
    assert plan.entry("fc/kernel").source == "fc/kernel"
    assert not plan.rules


RENAMED_HEAD = """
def build_model():
    inputs = keras.Input((8,))
    h = layers.Dense(16, activation="relu", name="fc")(inputs)
    return keras.Model(inputs, layers.Dense(10, name="classifier")(h))
"""


def test_a_head_restored_through_a_rule_seen_twice_is_marked_thin_and_shown(tmp_path):
    """Structure cannot know intent: a head at the same place under another name is restored
    (the graph and a rule of its kernel and bias agree), and the plan says the evidence is
    thin, so that `show` puts it under what needs a look."""
    old_py = write_model(tmp_path / "old", NAMED_CLASSIFIER)
    new_py = write_model(tmp_path / "new", RENAMED_HEAD)
    old = tmp_path / "old.weights.h5"
    save_weights(old_py, old)
    plan = make_plan(old, new_py, old_model=old_py)

    head = plan.entry("classifier/kernel")
    assert (head.action, head.source) == (RESTORE, "predictions/kernel")
    assert "thin" in _kinds(plan, "classifier/kernel")
    assert "thin" not in _kinds(plan, "fc/kernel")
    text = format_text(build_view(plan))
    look = text.split("needs a look\n", 1)[1].split("\n\n", 1)[0]
    expected = "  thin      classifier/kernel: restored from 'predictions/kernel' on thin evidence"
    assert expected in look


def test_a_model_planned_against_itself_restores_everything_by_name(tmp_path):
    """No change, counted names on both sides: every layer by name, confirmed by the walks;
    nothing thin, nothing left."""
    old_py = write_model(tmp_path / "old", SEQUENTIAL_CNN)
    old = tmp_path / "old.weights.h5"
    save_weights(old_py, old)
    plan = make_plan(old, old_py, old_model=old_py)

    model = build(old_py)
    assert len(plan.variables) == len(model.weights)
    assert all(e.source == e.name for e in plan.variables)
    assert not any("thin" in _kinds(plan, e.name) for e in plan.variables)


def numbered_blocks(widths: list[int]) -> str:
    """Blocks named by a loop's counter (layer_0, ...), one Dense of each width."""
    return f"""
def build_model():
    inputs = keras.Input((8,))
    h = inputs
    for i, width in enumerate({widths}):
        h = layers.Dense(width, activation="relu", name=f"layer_{{i}}")(h)
    return keras.Model(inputs, layers.Dense(3, name="head")(h))
"""


def _plan_numbered(tmp_path, old_widths: list[int], new_widths: list[int]):
    old_py = write_model(tmp_path / "old", numbered_blocks(old_widths))
    new_py = write_model(tmp_path / "new", numbered_blocks(new_widths))
    old = tmp_path / "old.weights.h5"
    save_weights(old_py, old)
    return make_plan(old, new_py, old_model=old_py)


def test_a_numbered_family_grown_by_a_member_alike_is_restored_by_name_on_thin_evidence(
    tmp_path,
):
    """layer_0..2 grew to layer_0..3, all alike: the user's names are identities (as for
    tf_slim's resnet grown by units), but a block inserted among them with the rest
    renumbered makes the same graph, so each pair is marked thin and `show` says why."""
    plan = _plan_numbered(tmp_path, [8, 8, 8], [8, 8, 8, 8])

    for i in range(3):
        assert plan.entry(f"layer_{i}/kernel").source == f"layer_{i}/kernel"
        assert "thin" in _kinds(plan, f"layer_{i}/kernel")
    assert plan.entry("layer_3/kernel").action == INITIALIZE
    assert "thin" not in _kinds(plan, "head/kernel")
    look = format_text(build_view(plan)).split("needs a look\n", 1)[1]
    assert "layer_1 is one of a numbered family that grew from 3 to 4 members alike" in look


def test_a_numbered_family_grown_by_a_member_unlike_the_others_is_not_thin(tmp_path):
    """The added layer_3 is wider than the rest: the graph tells where it is, so the names
    are no longer the only witness of the others."""
    plan = _plan_numbered(tmp_path, [8, 8, 8], [8, 8, 8, 16])

    for i in range(3):
        assert plan.entry(f"layer_{i}/kernel").source == f"layer_{i}/kernel"
        assert "thin" not in _kinds(plan, f"layer_{i}/kernel")
