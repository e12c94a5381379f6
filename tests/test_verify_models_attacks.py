"""graphdiff verify on Keras models and tf.Modules, attacked as a hostile user would: calls that
need `training`, dict inputs and outputs, random numbers in the forward pass, an embedding of
three rows, the wrong weights file, a model file moved, names that are no inputs or outputs.
Each either verifies or is refused with one line (exit 2); none is exit 1 or a silent pass.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import cli_env, run_in_process
from keras_models import build, save_weights, write_model
from test_cli import assert_one_line_error

from graphdiff.apply.checkpoint_files import STAGING
from graphdiff.apply.executor import apply_plan
from graphdiff.plan_io import read_plan, write_plan
from graphdiff.planning import make_plan
from graphdiff.verify import verify_plan


def planned(work, old_body, new_body, old_kind="h5", name="plan.json"):
    """Old model saved (a .weights.h5, trained one step when it can be, or a TF2 checkpoint),
    planned into the new one, applied: the plan's path."""
    import tensorflow as tf

    old_py = write_model(work, old_body, "old_model.py")
    new_py = write_model(work, new_body, "new_model.py")
    if old_kind == "h5" and "keras.Input" in old_body and "string" not in old_body:
        source = work / "old.weights.h5"
        save_weights(old_py, source)
    elif old_kind == "h5":  # subclassed, or fed strings: saved as built, not trained
        source = work / "old.weights.h5"
        build(old_py, seed=7).save_weights(str(source))
    else:
        source = work / "old" / "ckpt"
        tf.train.Checkpoint(model=build(old_py, seed=7)).write(str(source))
    out = work / "out" / ("model.weights.h5" if "keras" in new_body else "ckpt")
    plan = make_plan(source, new_py, old_model=old_py, output_prefix=str(out))
    write_plan(plan, work / name)
    apply_plan(plan, force=True)
    return work / name


SUBCLASSED = """
class Net(keras.Model):
    def __init__(self, classes, head):
        super().__init__()
        self.hidden = layers.Dense(16, activation="relu", name="hidden")
        self.norm = layers.BatchNormalization(name="norm")
        self.drop = layers.Dropout(0.5)
        self.head = layers.Dense(classes, name=head)

    def call(self, x, training):  # no default: Keras must pass it
        return self.head(self.drop(self.norm(self.hidden(x), training=training), training=training))


def build_model():
    model = Net({classes}, "{head}")
    model(tf.zeros([1, 8]), training=False)
    return model


def input_signature():
    return [tf.TensorSpec([None, 8], tf.float32, name="x")]
"""


def test_a_subclassed_model_whose_call_needs_training_runs_in_inference_mode(tmp_path):
    plan = planned(
        tmp_path,
        SUBCLASSED.format(classes=3, head="head"),
        SUBCLASSED.format(classes=5, head="new_head"),
    )
    report = verify_plan(read_plan(plan))
    assert report.verdict == "identical"
    (check,) = report.tensors  # the batch norm's output, read with its moving statistics
    assert check.compared == "bits" and check.restored_upstream == tuple(
        f"net/{name}"
        for name in ("hidden/kernel", "hidden/bias", "norm/gamma", "norm/beta")
        + ("norm/moving_mean", "norm/moving_variance")
    )


DICTS = """
def build_model():
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    h = layers.Dense(8, activation="relu", name="trunk")(layers.Concatenate()([a, b]))
    outputs = {{"score": layers.Dense(1, name="score")(h), "logits": layers.Dense({classes})(h)}}
    return keras.Model({{"a": a, "b": b}}, outputs)
"""


@pytest.fixture(scope="module")
def dict_plan(tmp_path_factory):
    work = tmp_path_factory.mktemp("dicts")
    return planned(work, DICTS.format(classes=3), DICTS.format(classes=5))


def test_dict_inputs_and_outputs_are_paired_by_name(dict_plan):
    report = verify_plan(read_plan(dict_plan))
    assert report.verdict == "identical"
    assert "score" in [check.new for check in report.tensors]
    assert sorted(fed.new for fed in report.inputs) == ["a:0", "b:0"]
    report = verify_plan(read_plan(dict_plan), tensors=["score"])
    assert [(c.new, c.old, c.compared) for c in report.tensors] == [("score", "score", "bits")]


def test_names_that_are_no_input_or_output_are_refused(dict_plan):
    result = run_in_process("verify", dict_plan, "--tensor", "nope")
    assert_one_line_error(result, "--tensor: nope: no op 'nope' in the new graph", "outputs: ")
    result = run_in_process("verify", dict_plan, "--input", "a=nope")
    assert_one_line_error(result, "--input: nope: no op 'nope' in the old graph")
    result = run_in_process("verify", dict_plan, "--input", "score=a")
    assert_one_line_error(result, "--input: ", "not an input of the new graph")
    result = run_in_process("verify", dict_plan, "--input", "a=b")  # exit 1 before
    assert_one_line_error(
        result, "--input: a=b: the new input takes float32 [?, 4], the old one float32 [?, 3]"
    )
    result = run_in_process("verify", dict_plan, "--tensor", "score:1")
    assert_one_line_error(result, "--tensor: score:1: 'score' is an output's name, which takes no")
    moved = dict_plan.parent / "elsewhere.weights.h5"
    moved.write_bytes(b"not the weights the plan was made from")
    result = run_in_process("verify", dict_plan, "--old-checkpoint", moved)
    assert_one_line_error(result, "is not the checkpoint the plan", "with --old-checkpoint,")


NOISY = """
def build_model():
    x = keras.Input((4,), name="x")
    h = layers.Dense(8, activation="relu", name="trunk")(x)
    {noise}
    return keras.Model(x, layers.Dense(3, name="out")(h))
"""
NOISE = "h = layers.Lambda(lambda t: t + tf.random.uniform(tf.shape(t)), name='noise')(h)"


def test_random_numbers_in_the_forward_pass_are_not_compared(tmp_path):
    plan = planned(tmp_path, NOISY.format(noise=""), NOISY.format(noise=NOISE))
    report = verify_plan(read_plan(plan))
    assert report.verdict == "identical"  # the trunk; not the output, which the noise changes
    assert [check.paired for check in report.tensors] == ["same_ops"]
    result = run_in_process("verify", plan, "--tensor", "out=out")
    assert_one_line_error(result, "--tensor: out=out: computed from random numbers")


EMBEDDING = """
def build_model():
    ids = keras.Input((5,), dtype="int32", name="ids")
    h = layers.Flatten()(layers.Embedding(3, 4, name="table")(ids))
    return keras.Model(ids, layers.Dense({classes}, name="{head}")(h))
"""


def test_integer_inputs_stay_below_the_rows_of_the_table_they_index(tmp_path):
    plan = planned(
        tmp_path,
        EMBEDDING.format(classes=2, head="head"),
        EMBEDDING.format(classes=4, head="new_head"),
    )
    report = verify_plan(read_plan(plan))
    assert report.verdict == "identical"
    (fed,) = report.inputs
    assert (fed.new, fed.dtype, fed.shape) == ("ids:0", "int32", (2, 5))


MODULE = """
class Net(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable(tf.random.normal([4, 8], seed=1))
        self.head = tf.Variable(tf.random.normal([8, {classes}], seed=2))

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
    def __call__(self, x):
        h = tf.nn.relu(tf.matmul(x, self.w))
        return {{"features": h, "logits": tf.matmul(h, self.head)}}


def build_model():
    return Net()
"""


def test_files_moved_or_wrong_are_named(tmp_path):
    plan = planned(tmp_path, MODULE.format(classes=3), MODULE.format(classes=5), "checkpoint")
    assert verify_plan(read_plan(plan)).verdict == "identical"

    result = run_in_process("verify", plan, "--checkpoint", tmp_path / "old" / "ckpt")
    assert result.returncode == 2 and "does not restore the model of" in result.stderr

    moved = tmp_path / "elsewhere"
    moved.mkdir()
    shutil.move(tmp_path / "old_model.py", moved / "old_model.py")
    result = run_in_process("verify", plan)
    assert_one_line_error(result, "old_model.py: no such file", "--old-model FILE")
    result = run_in_process("verify", plan, "--old-model", moved / "old_model.py")
    assert result.returncode == 0, result.stderr
    assert "= features  [2, 8]  bit for bit" in result.stdout


def test_the_weights_of_another_model_are_refused(dict_plan, tmp_path):
    result = run_in_process(
        "verify", dict_plan, "--checkpoint", dict_plan.parent / "old.weights.h5"
    )
    assert_one_line_error(result, "old.weights.h5: load_weights into the model of")
    result = run_in_process("verify", dict_plan, "--checkpoint", tmp_path / "none.weights.h5")
    assert_one_line_error(result, "none.weights.h5: no weights file here")


WORDS = """
def build_model():
    words = keras.Input((3,), dtype="string", name="words")
    ids = layers.StringLookup(vocabulary=["graphdiff", "verify", "keras"], name="lookup")(words)
    h = layers.Flatten()(layers.Embedding(4, 2, name="table")(ids))
    return keras.Model(words, layers.Dense({classes}, name="{head}")(h))
"""


def test_a_string_input_through_a_lookup_table_verifies(tmp_path):
    plan = planned(
        tmp_path, WORDS.format(classes=2, head="head"), WORDS.format(classes=3, head="new_head")
    )
    report = verify_plan(read_plan(plan))
    assert report.verdict == "identical"
    assert [(fed.new, fed.dtype, fed.origin) for fed in report.inputs][0] == (
        "words:0",
        "string",
        "generated",
    )


def test_apply_verify_outputs_killed_while_verifying_leaves_nothing_the_next_apply_keeps(
    dict_plan, tmp_path
):
    """SIGKILL once the weights are staged, while the models run: nothing at the output, and
    the staging directory (a whole weights file, however large) is removed by the next apply
    beside it. It was left for good: it recorded no owner and nothing looked for it."""
    out = tmp_path / "model.weights.h5"
    process = subprocess.Popen(
        [sys.executable, "-m", "graphdiff", "apply", str(dict_plan), "--output", str(out)]
        + ["--verify-outputs", "--quiet"],
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(f"*{STAGING}*/model.weights.h5")):
        assert process.poll() is None and time.monotonic() < deadline, "not killed in time"
        time.sleep(0.001)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not out.exists() and len(list(tmp_path.glob(f"*{STAGING}*"))) == 1

    result = run_in_process("apply", dict_plan, "--output", out, "--quiet")
    assert result.returncode == 0, result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["model.weights.h5"]
