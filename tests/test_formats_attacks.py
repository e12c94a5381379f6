"""A hostile user of the Keras 3 / TF2 side, whose worst outcome is a silent wrong restore.

Each test is an attack: a model built or saved in a way the happy path does not meet. Where
graphdiff failed (an internal error, a file read whole into memory) the test pins the fix;
where it held, the test pins that every value lands in its own variable.
"""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from keras_models import build, layer_values, load_into, save_weights, write_model

from graphdiff.apply.executor import apply_plan
from graphdiff.errors import BadInput
from graphdiff.formats.h5_values import BOMB_FLOOR
from graphdiff.planning import make_plan
from graphdiff.tf_import import tensorflow

SEQUENTIAL_BUILT = {
    "build": """
def build_model():
    model = keras.Sequential([layers.Dense(8, name="a"), layers.Dense(3, name="b")])
    model.build((None, 4))
    return model
""",
    "call": """
def build_model():
    model = keras.Sequential([layers.Dense(8, name="a"), layers.Dense(3, name="b")])
    model(tf.zeros((1, 4)))
    return model
""",
}


@pytest.mark.parametrize("how", sorted(SEQUENTIAL_BUILT))
def test_a_sequential_built_without_an_input_restores_every_value(how, tmp_path):
    """`model.build(shape)` and a first call are how many Sequential models are built; Keras
    then has `inputs` but raises on `input`, which planning used (an internal error)."""
    old_py = write_model(tmp_path / "old", SEQUENTIAL_BUILT[how])
    new_py = write_model(tmp_path / "new", SEQUENTIAL_BUILT[how])
    old = tmp_path / "old.weights.h5"
    model = build(old_py)
    for variable in model.weights:
        variable.assign(variable + 0.5)  # no value is its initializer's
    model.save_weights(str(old))
    out = tmp_path / "out" / "model.weights.h5"

    plan = make_plan(old, new_py, old_model=old_py, output_prefix=str(out))
    apply_plan(plan, verify=True)
    restored = layer_values(load_into(new_py, out))
    for layer, values in layer_values(model).items():
        for got, want in zip(restored[layer], values, strict=True):
            assert np.array_equal(got, want)


CHAIN = """
def build_model():
    inputs = keras.Input((4,), name="x")
    h = layers.Dense(8, name="a")(inputs)
    return keras.Model(inputs, layers.Dense(3, name="b")(h))
"""


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """A real `.keras` archive of CHAIN (weights stored uncompressed, as Keras writes them)."""
    directory = tmp_path_factory.mktemp("archive")
    model = build(write_model(directory, CHAIN))
    model.save(str(directory / "model.keras"))
    return directory / "model.keras", layer_values(model)


def _rezipped(archive, target, weights_writer):
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(target, "w") as out:
        for name in source.namelist():
            if name != "model.weights.h5":
                out.writestr(name, source.read(name))
        weights_writer(out, source.read("model.weights.h5"))
    return target


def test_a_keras_archive_that_claims_far_more_than_it_stores_is_refused_unread(
    archive, run_cli, tmp_path
):
    """A decompression bomb: its weights member inflates to more than the floor, a thousand
    times its stored size. It was inflated into memory (an OOM kill is no exit 2)."""

    def deflated(out, data):
        out.writestr("model.weights.h5", data, compress_type=zipfile.ZIP_DEFLATED)

    for info in zipfile.ZipFile(archive[0]).infolist():  # the premise: Keras stores, no deflate
        assert info.compress_type == zipfile.ZIP_STORED

    bad = tmp_path / "bomb.keras"
    with zipfile.ZipFile(bad, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for name in ("metadata.json", "config.json"):
            out.writestr(name, zipfile.ZipFile(archive[0]).read(name))
        with out.open("model.weights.h5", "w", force_zip64=True) as member:
            zeros = bytes(1 << 22)
            for _ in range(BOMB_FLOOR // len(zeros) + 1):
                member.write(zeros)
    with pytest.raises(BadInput, match="decompression bomb"):
        make_plan(bad, archive[0].parent / "model.py")
    result = run_cli("plan", str(bad), str(archive[0].parent / "model.py"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert "bomb.keras" in result.stderr and "decompression bomb" in result.stderr

    # an honest archive recompressed (deflate) is still read, every value in place
    honest = _rezipped(archive[0], tmp_path / "deflated.keras", deflated)
    out = tmp_path / "out" / "model.weights.h5"
    plan = make_plan(honest, archive[0].parent / "model.py", output_prefix=str(out))
    apply_plan(plan, verify=True)
    restored = layer_values(load_into(archive[0].parent / "model.py", out))
    for layer, values in archive[1].items():
        for got, want in zip(restored[layer], values, strict=True):
            assert np.array_equal(got, want)


def test_a_keras_archive_cut_short_is_named_in_one_line(archive, run_cli, tmp_path):
    cut = tmp_path / "cut.keras"
    cut.write_bytes(archive[0].read_bytes()[:-200])  # the central directory is gone
    result = run_cli("plan", str(cut), str(archive[0].parent / "model.py"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert str(cut) in result.stderr and "not a .keras file" in result.stderr


COUNTED_THREE = """
def build_model():
    inputs = keras.Input((8,))
    h = layers.Dense(16, activation="relu")(inputs)
    h = layers.Dense(16, activation="relu")(h)
    return keras.Model(inputs, layers.Dense(16)(h))
"""

CREATED_OUT_OF_ORDER = """
def build_model():
    inputs = keras.Input((8,))
    first = layers.Dense(16, activation="relu")  # dense
    last = layers.Dense(16)  # dense_1: created second, called third
    middle = layers.Dense(16, activation="relu")  # dense_2
    return keras.Model(inputs, last(middle(first(inputs))))
"""


def test_alike_layers_created_in_another_order_than_called_restore_by_the_graph(tmp_path):
    """Three Dense 16 -> 16 with counted names; the new code creates them in another order
    than it calls them, so `dense_1` is the last layer there and the middle one in the old
    model. A restore by name would put the middle layer's weights into the head."""
    old_py = write_model(tmp_path / "old", COUNTED_THREE)
    new_py = write_model(tmp_path / "new", CREATED_OUT_OF_ORDER)
    old = tmp_path / "old.weights.h5"
    values = save_weights(old_py, old)
    out = tmp_path / "out" / "model.weights.h5"

    plan = make_plan(old, new_py, old_model=old_py, output_prefix=str(out))
    assert {e.name: e.source for e in plan.variables if e.name.endswith("kernel")} == {
        "dense/kernel": "dense/kernel",
        "dense_2/kernel": "dense_1/kernel",
        "dense_1/kernel": "dense_2/kernel",
    }
    apply_plan(plan, verify=True)
    restored = layer_values(load_into(new_py, out))
    for new, old_layer in (("dense", "dense"), ("dense_2", "dense_1"), ("dense_1", "dense_2")):
        for got, want in zip(restored[new], values[old_layer], strict=True):
            assert np.array_equal(got, want)


BATCH_NORM = """
def build_model():
    inputs = keras.Input((8,))
    h = layers.BatchNormalization(name="bn")(layers.Dense(8, name="d")(inputs))
    return keras.Model(inputs, OUTPUTS)
"""


def test_batch_norm_moving_statistics_are_carried_over(tmp_path):
    """Non-trainable weights (moving mean and variance) are weights too: trained one step,
    they are no longer 0 and 1, and they must arrive as they were."""
    old_py = write_model(
        tmp_path / "old", BATCH_NORM.replace("OUTPUTS", 'layers.Dense(3, name="head")(h)')
    )
    new_py = write_model(
        tmp_path / "new",
        BATCH_NORM.replace(
            "OUTPUTS", '[layers.Dense(3, name="head")(h), layers.Dense(2, name="aux")(h)]'
        ),
    )
    old = tmp_path / "old.weights.h5"
    values = save_weights(old_py, old)
    assert not np.array_equal(values["bn"][2], np.zeros(8))  # the moving mean moved
    out = tmp_path / "out" / "model.weights.h5"

    plan = make_plan(old, new_py, old_model=old_py, output_prefix=str(out))
    assert plan.entry("bn/moving_variance").source == "bn/moving_variance"
    apply_plan(plan, verify=True)
    restored = layer_values(load_into(new_py, out))
    for got, want in zip(restored["bn"], values["bn"], strict=True):
        assert np.array_equal(got, want)


MODULE = """
class Net(tf.Module):
    def __init__(self):
        super().__init__()
        self.blocks = [tf.Variable(tf.random.normal([4, 4])) for _ in range(2)]
        self.extra = {"scale": tf.Variable(tf.ones([4])), "shift": tf.Variable(tf.zeros([4]))}

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
    def __call__(self, x):
        for w in self.blocks:
            x = tf.matmul(x, w)
        return x * self.extra["scale"] + self.extra["shift"]


def build_model():
    return Net()
"""


def test_a_module_with_trackable_lists_and_dicts_restores_each_variable_in_place(tmp_path):
    """Two alike [4, 4] matrices in a list and two alike [4] vectors in a dict: only the
    object paths tell them apart, and each must come back where it was."""
    tf = tensorflow()
    model_py = write_model(tmp_path, MODULE)
    module = build(model_py, seed=1)
    for k, variable in enumerate(module.variables):
        variable.assign(variable + float(k + 1))
    tf.train.Checkpoint(model=module).write(str(tmp_path / "old" / "ckpt"))
    out = tmp_path / "out" / "ckpt"

    plan = make_plan(
        tmp_path / "old" / "ckpt", model_py, old_model=model_py, output_prefix=str(out)
    )
    assert all(e.source == e.name for e in plan.variables)
    apply_plan(plan, verify=True)
    fresh = build(model_py, seed=2)
    tf.train.Checkpoint(model=fresh).read(str(out)).assert_existing_objects_matched()
    for want, got in zip(module.variables, fresh.variables, strict=True):
        assert np.array_equal(got.numpy(), want.numpy())
