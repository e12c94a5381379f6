"""Value transforms: reshape (chosen when dimensions are only split or merged), --cast, --grow.

Each is recorded in the plan entry and carried out by apply, into Keras weights and into a TF1
checkpoint alike; without the flag, the same pair is initialized with the reason.
"""

from __future__ import annotations

import numpy as np
import pytest
from graphs import dense, inputs, save_checkpoint, write_new_graph
from keras_models import build, layer_values, load_into, save_weights, write_model

from graphdiff.apply.executor import apply_plan
from graphdiff.match.core import refines
from graphdiff.plan import INITIALIZE, RESTORE, Options, Transform
from graphdiff.planning import make_plan
from graphdiff.tf_import import tensorflow


@pytest.mark.parametrize(
    ("one", "other", "expected"),
    [
        ((768, 768), (768, 12, 64), True),
        ((768,), (12, 64), True),
        ((768, 768), (12, 64, 768), True),
        ((4, 8), (8, 4), False),  # a transpose, not a reshape
        ((6, 4), (4, 6), False),
        ((2, 3, 4), (6, 4), True),
        ((2, 3, 4), (2, 12), True),
        ((2, 3, 4), (3, 8), False),
        ((16,), (4, 4, 1), True),
    ],
)
def test_reshape_only_splits_or_merges_dimensions(one, other, expected):
    assert refines(one, other) is expected
    assert refines(other, one) is expected


DENSE_PROJECTION = """
def build_model():
    inputs = keras.Input((8,), name="x")
    return keras.Model(inputs, layers.Dense(12, name="proj")(inputs))
"""

EINSUM_PROJECTION = """
def build_model():
    inputs = keras.Input((8,), name="x")
    proj = layers.EinsumDense("ab,bcd->acd", output_shape=(3, 4), bias_axes="cd", name="proj")
    return keras.Model(inputs, proj(inputs))
"""


def test_attention_style_kernel_is_reshaped_and_computes_the_same(tmp_path):
    old_py = write_model(tmp_path / "old", DENSE_PROJECTION)
    new_py = write_model(tmp_path / "new", EINSUM_PROJECTION)
    save_weights(old_py, tmp_path / "old.weights.h5")
    out = tmp_path / "out.weights.h5"
    plan = make_plan(tmp_path / "old.weights.h5", new_py, old_model=old_py, output_prefix=str(out))

    kernel = plan.entry("proj/kernel")
    assert kernel.action == RESTORE and kernel.transforms == (Transform("reshape", (8, 3, 4)),)
    assert "reshaped to [8, 3, 4]" in kernel.reason
    assert plan.entry("proj/bias").transforms == (Transform("reshape", (3, 4)),)
    apply_plan(plan, verify=True)

    x = np.random.default_rng(0).normal(size=(5, 8)).astype("float32")
    old_model = load_into(old_py, tmp_path / "old.weights.h5")
    new_model = load_into(new_py, out)
    assert np.allclose(new_model(x).numpy().reshape(5, 12), old_model(x).numpy(), atol=1e-6)


HALF = """
def build_model():
    inputs = keras.Input((4,), name="x")
    return keras.Model(inputs, layers.Dense(3, dtype="{dtype}", name="out")(inputs))
"""


def test_cast_between_floats_only_when_asked(tmp_path):
    old_py = write_model(tmp_path / "old", HALF.replace("{dtype}", "float64"))
    new_py = write_model(tmp_path / "new", HALF.replace("{dtype}", "float32"))
    old_values = save_weights(old_py, tmp_path / "old.weights.h5")
    old = tmp_path / "old.weights.h5"

    refused = make_plan(old, new_py, old_model=old_py)
    assert refused.entry("out/kernel").action == INITIALIZE
    assert (
        "dtype float32 in the new graph, float64 in the checkpoint"
        in refused.entry("out/kernel").reason
    )

    out = tmp_path / "out.weights.h5"
    plan = make_plan(
        old, new_py, old_model=old_py, output_prefix=str(out), options=Options(cast=True)
    )
    assert plan.entry("out/kernel").transforms == (Transform("cast", dtype="float32"),)
    apply_plan(plan, verify=True)
    kernel, bias = layer_values(load_into(new_py, out))["out"]
    assert kernel.dtype == np.float32
    assert np.array_equal(kernel, old_values["out"][0].astype(np.float32))


HEAD = """
def build_model():
    inputs = keras.Input((6,), name="x")
    hidden = layers.Dense(8, activation="relu", name="hidden")(inputs)
    return keras.Model(inputs, layers.Dense({classes}, name="classes")(hidden))
"""


def test_grow_copies_the_leading_block_and_initializes_the_rest(tmp_path):
    old_py = write_model(tmp_path / "old", HEAD.replace("{classes}", "3"))
    new_py = write_model(tmp_path / "new", HEAD.replace("{classes}", "5"))
    old_values = save_weights(old_py, tmp_path / "old.weights.h5")
    old = tmp_path / "old.weights.h5"

    assert make_plan(old, new_py, old_model=old_py).entry("classes/kernel").action == INITIALIZE
    out = tmp_path / "out.weights.h5"
    plan = make_plan(
        old, new_py, old_model=old_py, output_prefix=str(out), options=Options(grow=True)
    )
    assert plan.entry("classes/kernel").transforms == (Transform("grow", (8, 5)),)
    assert plan.entry("hidden/kernel").transforms == ()
    apply_plan(plan, verify=True)

    kernel, bias = layer_values(load_into(new_py, out))["classes"]
    assert np.array_equal(kernel[:, :3], old_values["classes"][0])
    assert np.array_equal(bias[:3], old_values["classes"][1])
    assert not np.array_equal(kernel[:, 3:], np.zeros((8, 2)))  # Glorot values, not zeros
    assert np.array_equal(layer_values(build(new_py))["hidden"][0].shape, (6, 8))


def test_grow_into_a_tf1_checkpoint_shrinks_too(tmp_path):
    old = save_checkpoint(tmp_path / "old", lambda: dense(dense(inputs(4), 8, "h"), 5, "out"))
    new_graph = write_new_graph(tmp_path, "dense(dense(inputs(4), 8, 'h'), 3, 'out')\n")
    out = tmp_path / "new" / "model.ckpt"
    plan = make_plan(f"{old}.meta", new_graph, output_prefix=str(out), options=Options(grow=True))
    assert plan.entry("out/w").transforms == (Transform("grow", (8, 3)),)
    apply_plan(plan, verify=True)

    reader = tensorflow().train.load_checkpoint(str(out))
    source = tensorflow().train.load_checkpoint(old)
    assert np.array_equal(reader.get_tensor("out/w"), source.get_tensor("out/w")[:, :3])
    assert np.array_equal(reader.get_tensor("h/w"), source.get_tensor("h/w"))
