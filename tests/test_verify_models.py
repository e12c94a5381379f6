"""graphdiff verify on Keras 3 models and tf.Modules: the old model with what the plan came from
and the new model with what apply wrote, loaded as a user loads them, run on the same inputs.

Real models throughout: the keras_insert sample's files, a keras.applications MobileNet with a
new head (its source a `.keras` archive or an object-based checkpoint), small tf.Modules. A
corrupted output is written by editing the `.weights.h5` with h5py, the way a bad copy would be.
"""

from __future__ import annotations

import json
import shutil

import h5py
import pytest
from conftest import REPO, run_in_process
from keras_models import build, save_weights, swapped_copy, trained, write_model

from graphdiff.apply.executor import apply_plan
from graphdiff.formats.model_variables import keras_variables
from graphdiff.plan_io import read_plan, write_plan
from graphdiff.planning import make_plan
from graphdiff.verify import verify_plan

INSERT = REPO / "samples" / "keras_insert"


@pytest.fixture(scope="module")
def insert_plan(tmp_path_factory):
    """The keras_insert sample planned and applied: (plan path, applied .weights.h5)."""
    work = tmp_path_factory.mktemp("verify_insert")
    save_weights(INSERT / "old_model.py", work / "old.weights.h5")
    out = work / "new" / "model.weights.h5"
    plan = make_plan(
        work / "old.weights.h5",
        INSERT / "new_model.py",
        old_model=INSERT / "old_model.py",
        output_prefix=str(out),
    )
    write_plan(plan, work / "plan.json")
    apply_plan(plan)
    return work / "plan.json", out


def test_a_layer_inserted_is_verified_through_the_layers_after_it(insert_plan):
    plan_path, _ = insert_plan
    report = verify_plan(read_plan(plan_path), plan_path=plan_path)

    assert report.verdict == "identical"
    compared = {check.new: check for check in report.tensors}
    assert set(compared) == {"functional_1/encoder_1/Relu:0", "head"}
    assert {check.compared for check in report.tensors} == {"bits"}
    assert compared["head"].paired == "same_ops_after_cut"
    assert compared["head"].restored_upstream == (
        "decoder/kernel",
        "decoder/bias",
        "head/kernel",
        "head/bias",
    )
    (cut,) = [fed for fed in report.inputs if fed.origin.startswith("cut")]
    assert (cut.new, cut.old) == (
        "functional_1/bottleneck_1/Relu:0",
        "functional_1/encoder_1/Relu:0",
    )
    assert report.variables_checked == 6 and report.not_compared == ()


def test_two_kernels_swapped_in_the_written_weights_exit_3_naming_them(insert_plan, tmp_path):
    plan_path, out = insert_plan
    swapped = swapped_copy(
        out,
        tmp_path / "swapped.weights.h5",
        INSERT / "new_model.py",
        "decoder/kernel",
        "head/kernel",
    )
    result = run_in_process("verify", plan_path, "--checkpoint", swapped)

    assert result.returncode == 3, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("graphdiff: head differs from the old graph's head"), line
    assert line.endswith("not holding its source's value: decoder/kernel, head/kernel"), line
    assert "! head  [2, 16]  DIFFERS (bits)" in result.stdout


APPLICATION = """
def build_model():
    base = keras.applications.MobileNet(
        weights=None, include_top=False, input_shape=(32, 32, 3), alpha=0.25, pooling="avg"
    )
    return keras.Model(base.input, layers.Dense({classes}, name="{head}")(base.output))
"""


@pytest.fixture(scope="module")
def mobilenet(tmp_path_factory):
    """A MobileNet trained one step, saved as a .keras archive and as an object-based
    checkpoint (with its optimizer); the new model swaps its 10-class head for a 5-class one."""
    work = tmp_path_factory.mktemp("verify_mobilenet")
    old_py = write_model(work, APPLICATION.format(classes=10, head="head"), "old_model.py")
    new_py = write_model(work, APPLICATION.format(classes=5, head="new_head"), "new_model.py")
    model, optimizer = trained(old_py)
    model.save(work / "old.keras")
    import tensorflow as tf

    tf.train.Checkpoint(model=model, optimizer=optimizer).write(str(work / "ckpt" / "old"))
    return work, old_py, new_py


@pytest.mark.parametrize("source", ["old.keras", "ckpt/old"])
def test_a_keras_applications_net_with_a_new_head_verifies_on_its_features(
    mobilenet, source, tmp_path
):
    work, old_py, new_py = mobilenet
    old_model = None if source.endswith(".keras") else old_py
    out = tmp_path / "model.weights.h5"
    plan = make_plan(work / source, new_py, old_model=old_model, output_prefix=str(out))
    apply_plan(plan)
    report = verify_plan(plan)

    assert report.verdict == "identical"
    (check,) = report.tensors
    assert check.new.endswith("global_average_pooling2d_1/Mean:0"), check.new
    assert (check.compared, check.paired, check.shape) == ("bits", "same_ops", (2, 256))
    model_entries = [e.name for e in plan.restored if e.role == "model"]
    assert report.not_compared == () and report.variables_checked == len(model_entries) > 100


def test_two_alike_kernels_swapped_by_the_plan_fail_where_the_first_is_read(mobilenet, tmp_path):
    work, _, new_py = mobilenet
    plan = make_plan(work / "old.keras", new_py, output_prefix=str(tmp_path / "m.weights.h5"))
    write_plan(plan, tmp_path / "plan.json")
    edited = swapped_plan(
        tmp_path / "plan.json", tmp_path / "swapped.json", "conv_dw_8/kernel", "conv_dw_9/kernel"
    )
    assert run_in_process("apply", edited).returncode == 0  # bytes as planned: apply cannot tell
    report = verify_plan(read_plan(edited))

    assert report.verdict == "differs"
    (check,) = report.differing
    assert check.new.endswith("conv_dw_8_1/depthwise:0") and check.paired == "misplaced"
    assert check.note.startswith(
        "on the same values the old model read 'conv_dw_8/kernel' where the new model reads "
        "conv_dw_8/kernel (restored from 'conv_dw_9/kernel')"
    )


def swapped_plan(plan_path, target, first: str, second: str):
    """A copy of the plan at `plan_path` whose entries `first` and `second` trade sources (a
    reviewer's edit gone wrong, or a matcher's mistake)."""
    document = json.loads(plan_path.read_text())
    entries = {entry["name"]: entry for entry in document["variables"]}
    for key in ("source", "stored_as"):
        entries[first][key], entries[second][key] = entries[second][key], entries[first][key]
    target.write_text(json.dumps(document))
    return target


def test_apply_verify_outputs_refuses_a_plan_that_swaps_two_kernels(insert_plan, tmp_path):
    """The issue's case: apply --verify (bytes as planned) passes a plan that puts an old
    tensor into the wrong variable; --verify-outputs runs the models and publishes nothing."""
    plan_path, _ = insert_plan
    edited = swapped_plan(
        plan_path, plan_path.with_name("swapped.json"), "decoder/kernel", "head/kernel"
    )
    out = tmp_path / "model.weights.h5"
    result = run_in_process("apply", edited, "--output", out, "--verify", "--verify-outputs")
    assert result.returncode == 3, result.stderr
    line = result.stderr.splitlines()[-1]
    assert "on the same values the old model read 'head/bias' where" in line, line
    assert line.endswith("from another name: decoder/kernel from 'head/kernel'"), line
    assert "(a restored variable at another's place)" in result.stdout
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_apply_verify_outputs_publishes_only_what_verifies(insert_plan, tmp_path):
    plan_path, _ = insert_plan
    out = tmp_path / "model.weights.h5"
    result = run_in_process("apply", plan_path, "--output", out, "--verify-outputs")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == (
        "graphdiff: verify: 2 tensor(s) identical (functional_1/encoder_1/Relu:0, head)"
    )
    assert out.is_file()


OLD_DENSE = """
def build_model():
    inputs = keras.Input((8,), name="x")
    h = layers.Dense(16, activation="relu", name="proj")(inputs)
    return keras.Model(inputs, layers.Dense(4, name="out")(h))
"""
NEW_CONV = """
def build_model():  # proj as a 1x1 convolution: another op, its kernel reshaped
    inputs = keras.Input((8,), name="x")
    h = layers.Conv1D(16, 1, activation="relu", name="proj")(layers.Reshape((1, 8))(inputs))
    return keras.Model(inputs, layers.Dense(4, name="out")(layers.Reshape((16,))(h)))
"""


@pytest.fixture(scope="module")
def conv_plan(tmp_path_factory):
    """A Dense layer rewritten as a 1x1 Conv1D (restored, reshaped), planned and applied."""
    work = tmp_path_factory.mktemp("verify_conv")
    old_py = write_model(work, OLD_DENSE, "old_model.py")
    new_py = write_model(work, NEW_CONV, "new_model.py")
    save_weights(old_py, work / "old.weights.h5")
    out = work / "model.weights.h5"
    plan = make_plan(work / "old.weights.h5", new_py, old_model=old_py, output_prefix=str(out))
    assert not plan.initialized
    write_plan(plan, work / "plan.json")
    apply_plan(plan)
    return work / "plan.json", out, new_py


def test_outputs_restored_throughout_are_compared_from_the_inputs(conv_plan):
    plan_path, _, _ = conv_plan
    report = verify_plan(read_plan(plan_path))
    assert report.verdict == "identical"
    rows = [(c.new, c.old, c.paired, c.compared) for c in report.tensors]
    assert rows == [
        ("out", "out", "same_ops_after_cut", "bits"),  # the Dense after the conv, fed alike
        ("out", "out", "outputs", "atol=1e-06 rtol=1e-05"),  # the whole model, end to end
    ]
    assert report.tensors[1].restored_upstream == (
        "proj/kernel",
        "proj/bias",
        "out/kernel",
        "out/bias",
    )


def test_a_wrong_value_before_the_cut_shows_in_the_outputs(conv_plan, tmp_path):
    plan_path, out, new_py = conv_plan
    paths = {name: v.stored_at for name, v in keras_variables(build(new_py)).items()}
    damaged = shutil.copy(out, tmp_path / "damaged.weights.h5")
    with h5py.File(damaged, "r+") as file:
        file[paths["proj/kernel"]][...] = file[paths["proj/kernel"]][()] * 1.5

    result = run_in_process("verify", plan_path, "--checkpoint", damaged)
    assert result.returncode == 3, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("graphdiff: out differs from the old graph's out: max abs diff"), line
    assert line.endswith("not holding its source's value: proj/kernel"), line


MODULE = """
class Net(tf.Module):
    def __init__(self, classes):
        super().__init__()
        self.w = tf.Variable(tf.random.normal([4, 8], seed=1), name="w")
        self.b = tf.Variable(tf.random.normal([8], seed=2), name="b")
        self.head = tf.Variable(tf.random.normal([8, classes], seed=3), name="head")

    def __call__(self, x, training):  # no default: it must be given
        h = tf.nn.relu(tf.matmul(x, self.w) + self.b)
        if training:
            h = tf.nn.dropout(h, 0.5)
        return tf.matmul(h, self.head)


def build_model():
    return Net({classes})


def input_signature():
    return [tf.TensorSpec([None, 4], tf.float32, name="x")]
"""


@pytest.fixture(scope="module")
def module_plan(tmp_path_factory):
    """A tf.Module saved by tf.train.Checkpoint, into one with a new head (a module target)."""
    import tensorflow as tf

    work = tmp_path_factory.mktemp("verify_module")
    old_py = write_model(work, MODULE.format(classes=3), "old_model.py")
    new_py = write_model(work, MODULE.format(classes=5), "new_model.py")
    tf.train.Checkpoint(model=build(old_py)).write(str(work / "old" / "ckpt"))
    out = work / "new" / "ckpt"
    plan = make_plan(work / "old" / "ckpt", new_py, old_model=old_py, output_prefix=str(out))
    write_plan(plan, work / "plan.json")
    apply_plan(plan)
    return work, out, new_py


def test_a_module_whose_call_needs_training_verifies(module_plan):
    work, _, _ = module_plan
    report = verify_plan(read_plan(work / "plan.json"))
    assert report.verdict == "identical"
    ((new, old, upstream),) = [(c.new, c.old, c.restored_upstream) for c in report.tensors]
    assert new == old and new.endswith("Relu:0") and upstream == ("model/w", "model/b")


def test_a_module_checkpoint_holding_another_value_exits_3(module_plan, tmp_path):
    import tensorflow as tf

    work, out, new_py = module_plan
    module = build(new_py)
    tf.train.Checkpoint(model=module).read(str(out)).assert_existing_objects_matched()
    module.b.assign(module.b + 0.25)
    tf.train.Checkpoint(model=module).write(str(tmp_path / "ckpt"))

    result = run_in_process("verify", work / "plan.json", "--checkpoint", tmp_path / "ckpt")
    assert result.returncode == 3, result.stderr
    assert result.stderr.strip().endswith("not holding its source's value: model/b")


def test_a_stray_argument_points_to_the_commands_own_help(run_cli):
    for command in (["verify", "plan.json"], ["apply", "plan.json"], ["show", "plan.json"]):
        result = run_cli(*command, "--new-graphs", "x.py")
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr == (
            f"graphdiff: unrecognized arguments: --new-graphs "
            f"(see 'graphdiff {command[0]} --help')\n"
        )
