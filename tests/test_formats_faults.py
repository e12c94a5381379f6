"""A hostile user of the new formats: every fault is a BadInput naming the file (exit 2 on the
command line, one line), never an internal error."""

from __future__ import annotations

import pytest
from conftest import run_in_process
from keras_models import build, save_weights, write_model

from graphdiff.apply.executor import apply_plan
from graphdiff.errors import BadInput
from graphdiff.plan_io import write_plan
from graphdiff.planning import make_plan
from graphdiff.tf_import import tensorflow

OLD = """
def build_model():
    inputs = keras.Input((8,), name="features")
    return keras.Model(inputs, layers.Dense(3)(layers.Dense(16)(inputs)))
"""

NEW_MODELS = {
    "raises": ("def build_model():\n    raise ValueError('no GPU here')\n", "raised ValueError"),
    "returns_int": ("def build_model():\n    return 42\n", "returned int; expected a Keras 3"),
    "returns_layer": ("def build_model():\n    return layers.Dense(3)\n", "a Keras layer"),
    "unbuilt": (
        "def build_model():\n    return keras.Sequential([layers.Dense(3)])\n",
        "not built",
    ),
    "syntax": ("def build_model(:\n    pass\n", "SyntaxError"),
    "no_weights": (
        "def build_model():\n    i = keras.Input((3,))\n    return keras.Model(i, i * 2)\n",
        "no weights",
    ),
    "subclassed_without_signature": (
        """
class Net(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(3)

    def call(self, x):
        return self.dense(x)


def build_model():
    net = Net()
    net(keras.ops.zeros((1, 8)))
    return net
""",
        "define input_signature()",
    ),
    "trace_fails": (
        """
class Net(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(3)

    def call(self, x):
        return self.dense(x)


def build_model():
    net = Net()
    net(keras.ops.zeros((1, 8)))
    return net


def input_signature():
    return [tf.TensorSpec([None, 5], tf.float32)]
""",
        "cannot be traced with inputs float32[None, 5]",
    ),
}


@pytest.fixture(scope="module")
def old(tmp_path_factory):
    directory = tmp_path_factory.mktemp("old")
    old_py = write_model(directory, OLD)
    weights = directory / "old.weights.h5"
    save_weights(old_py, weights)
    return old_py, weights


@pytest.mark.parametrize("case", sorted(NEW_MODELS))
def test_a_new_model_file_that_does_not_give_a_model_is_named(case, old, tmp_path):
    source, fault = NEW_MODELS[case]
    new_py = write_model(tmp_path, source, name=f"{case}.py")
    with pytest.raises(BadInput) as error:
        make_plan(old[1], new_py, old_model=old[0])
    assert error.value.path == str(new_py) and fault in error.value.fault


OTHER = """
def build_model():
    inputs = keras.Input((5,))
    return keras.Model(inputs, layers.Dense(2)(inputs))
"""

BIGGER = """
def build_model():
    inputs = keras.Input((8,), name="features")
    h = layers.Dense(3)(layers.Dense(16)(inputs))
    return keras.Model(inputs, layers.Dense(4)(h))
"""

SMALLER = """
def build_model():
    inputs = keras.Input((8,), name="features")
    return keras.Model(inputs, layers.Dense(16)(inputs))
"""


@pytest.mark.parametrize(
    ("model", "fault"),
    [
        (OTHER, "was not saved from the model"),  # another model, shapes differ
        (BIGGER, "it has nothing at 'layers/dense_2/vars/0'"),  # the h5 lacks a layer
        (SMALLER, "holds weights the model does not have"),  # the h5 has more
    ],
    ids=["other_model", "bigger_model", "smaller_model"],
)
def test_weights_from_another_model_are_refused(model, fault, old, tmp_path):
    other_py = write_model(tmp_path, model, name="other.py")
    with pytest.raises(BadInput) as error:
        make_plan(old[1], old[0], old_model=other_py)
    assert error.value.path == str(old[1]) and fault in error.value.fault


def test_an_object_based_checkpoint_of_another_model_is_refused(old, tmp_path):
    tensorflow().train.Checkpoint(model=build(old[0])).write(str(tmp_path / "ckpt"))
    other_py = write_model(tmp_path, OTHER, name="other.py")
    with pytest.raises(BadInput, match="was not saved from the model"):
        make_plan(tmp_path / "ckpt", old[0], old_model=other_py)


@pytest.mark.parametrize(
    ("name", "content", "fault"),
    [
        ("fake.weights.h5", b"not hdf5", "not a Keras weights file"),
        ("fake.keras", b"not a zip", "not a .keras file"),
    ],
)
def test_files_that_are_not_what_their_names_say(name, content, fault, old, tmp_path):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(BadInput, match=fault):
        make_plan(tmp_path / name, old[0], old_model=old[0])


def test_weights_without_their_model_ask_for_old_model(old):
    with pytest.raises(BadInput, match="--old-model OLD.py"):
        make_plan(old[1], old[0])


def test_old_model_with_a_meta_or_a_name_based_checkpoint_is_refused(old, tmp_path):
    from graphs import dense, inputs, save_checkpoint

    ckpt = save_checkpoint(tmp_path / "tf1", lambda: dense(inputs(8), 3, "A"))
    with pytest.raises(BadInput, match="carries its own graph"):
        make_plan(f"{ckpt}.meta", old[0], old_model=old[0])
    with pytest.raises(BadInput, match="no object graph"):
        make_plan(ckpt, old[0], old_model=old[0])


def test_apply_refuses_a_wrong_output_and_a_changed_source(old, tmp_path):
    weights = tmp_path / "old.weights.h5"
    weights.write_bytes(old[1].read_bytes())
    plan = make_plan(weights, old[0], old_model=old[0])
    with pytest.raises(BadInput, match="ending in .weights.h5"):
        apply_plan(plan, str(tmp_path / "out.bin"))
    with pytest.raises(BadInput, match="is where the plan's old values are"):
        apply_plan(plan, str(weights), force=True)
    out = tmp_path / "out.weights.h5"
    apply_plan(plan, str(out))
    with pytest.raises(BadInput, match="already exists; pass --force"):
        apply_plan(plan, str(out))
    weights.write_bytes(weights.read_bytes() + b"\0")
    with pytest.raises(BadInput, match="changed since the plan was made"):
        apply_plan(plan, str(out), force=True)


def test_the_command_line_says_it_in_one_line_and_exits_2(run_cli, old, tmp_path):
    """The first in a process of its own (what TensorFlow's C++ side prints is seen too), the
    others through the CLI's main in this process (a Keras import per command costs ~8 s)."""
    raising = write_model(tmp_path, NEW_MODELS["raises"][0], name="raises.py")
    other = write_model(tmp_path, OTHER, name="other.py")
    for run, args, words in (
        (run_cli, ("plan", old[1], raising, "--old-model", old[0]), ("raises.py", "ValueError")),
        (
            run_in_process,
            ("plan", old[1], old[0], "--old-model", other),
            ("old.weights.h5", "not saved"),
        ),
        (run_in_process, ("plan", old[1], old[0]), ("--old-model",)),
    ):
        result = run(*args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, result.stderr
        assert all(word in lines[0] for word in words), lines[0]


def test_verify_of_a_keras_plan_before_apply_says_to_apply_first(run_cli, old, tmp_path):
    plan = tmp_path / "plan.json"
    write_plan(make_plan(old[1], old[0], old_model=old[0]), plan)
    result = run_cli("verify", plan)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "model.weights.h5" in lines[0] and "graphdiff apply" in lines[0], lines[0]
    assert not (old[0].parent / "graphdiff_out" / "model.weights.h5").exists()


def test_a_keras_plan_refuses_an_output_that_is_no_weights_file(old, tmp_path):
    with pytest.raises(BadInput, match="--output-prefix: .*ending in .weights.h5"):
        make_plan(old[1], old[0], old_model=old[0], output_prefix=str(tmp_path / "model.ckpt"))


def test_an_object_based_checkpoint_without_its_data_names_the_data(old, tmp_path):
    tensorflow().train.Checkpoint(model=build(old[0])).write(str(tmp_path / "ckpt"))
    for shard in tmp_path.glob("ckpt.data-*"):
        shard.unlink()
    with pytest.raises(BadInput, match=r"ckpt\.data-\*: cannot be read"):
        make_plan(tmp_path / "ckpt", old[0], old_model=old[0])


def test_directories_that_hold_no_model(old, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match="neither a saved_model.pb nor a checkpoint state file"):
        make_plan(tmp_path / "empty", old[0])
    (tmp_path / "broken" / "variables").mkdir(parents=True)
    (tmp_path / "broken" / "saved_model.pb").write_bytes(b"garbage")
    with pytest.raises(BadInput, match="without variables/variables.index"):
        make_plan(tmp_path / "broken", old[0])
