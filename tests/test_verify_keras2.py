"""graphdiff verify on plans whose source is a tf.keras 2 file: a legacy `.h5` (whole model or
weights) or a TF-format checkpoint, written by tf.keras 2 itself (keras2_writer.py, in a
process of its own). No Keras 3 model loads these as they are; the old side is the Keras 3
model (`--old-model`, NEW with `--same-architecture`, or the whole `.h5`'s config rebuilt)
holding the file's weights as graphdiff paired them (formats/keras2_loaded.py).

The new model inserts a convolution and changes the head (keras2_files.CNN_CHANGED): the
comparison runs through both batch norms, across the insertion (a cut), to the features.
"""

from __future__ import annotations

import pytest
from conftest import run_in_process
from keras2_files import CNN_CHANGED, KERAS3, Keras2Files
from keras_models import swapped_copy, write_model
from test_cli import assert_one_line_error

from graphdiff.apply.executor import apply_plan
from graphdiff.plan_io import write_plan
from graphdiff.planning import make_plan
from graphdiff.verify import verify_plan


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The CNN written by tf.keras 2 (trained two epochs), its Keras 3 architecture, and the
    changed model: (Keras2Files, cnn .py, changed .py)."""
    work = tmp_path_factory.mktemp("verify_keras2")
    keras2 = Keras2Files(work / "keras2", models=("cnn",))
    cnn = write_model(work / "cnn", KERAS3["cnn"])
    changed = write_model(work / "changed", CNN_CHANGED)
    return keras2, cnn, changed


def applied(files, kind: str, work, old_model=None, new=None):
    """The plan from the CNN's tf.keras 2 file of `kind` into `new` (the changed model),
    written beside its applied weights: the plan's path."""
    keras2, _, changed = files
    out = work / "model.weights.h5"
    plan = make_plan(
        keras2.path("cnn", kind), new or changed, old_model=old_model, output_prefix=str(out)
    )
    write_plan(plan, work / "plan.json")
    apply_plan(plan)
    return plan, work / "plan.json"


@pytest.mark.parametrize("kind", ["whole", "weights", "checkpoint", "train_checkpoint"])
def test_a_tf_keras_2_file_verifies_through_the_batch_norms_and_the_insertion(
    files, kind, tmp_path
):
    old_model = None if kind == "whole" else files[1]  # a whole .h5 rebuilds its own config
    plan, _ = applied(files, kind, tmp_path, old_model=old_model)
    report = verify_plan(plan)

    assert report.verdict == "identical"
    compared = {check.new: check for check in report.tensors}
    assert set(compared) == {
        "functional_1/re_lu_1/Relu:0",  # conv and batch norm before the insertion
        "functional_1/global_average_pooling2d_1/Mean:0",  # after it: fed the old ReLU's value
    }
    assert {check.compared for check in report.tensors} == {"bits"}
    assert compared["functional_1/global_average_pooling2d_1/Mean:0"].paired == (
        "same_ops_after_cut"
    )
    assert report.not_compared == () and report.variables_checked == len(plan.restored) == 11


def test_same_architecture_verifies_before_publishing(files, tmp_path):
    keras2, cnn, _ = files
    plan = tmp_path / "plan.json"
    out = tmp_path / "out" / "model.weights.h5"
    made = run_in_process(
        "plan", keras2.path("cnn", "weights"), cnn, "--same-architecture", "-o", plan,
        "--output-prefix", out,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    result = run_in_process("apply", plan, "--verify-outputs", "--force")
    assert result.returncode == 0, result.stderr
    assert "1 tensor(s) identical (dense)" in result.stderr + result.stdout
    assert out.exists()


def test_batch_norm_statistics_swapped_in_the_written_weights_exit_3(files, tmp_path):
    _, _, changed = files
    plan, plan_path = applied(files, "whole", tmp_path)
    bad = swapped_copy(
        plan.output_prefix,
        tmp_path / "bad.weights.h5",
        changed,
        "batch_normalization/moving_mean",
        "batch_normalization/moving_variance",
    )
    result = run_in_process("verify", plan_path, "--checkpoint", bad)

    assert result.returncode == 3, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("graphdiff: functional_1/re_lu_1/Relu:0 differs from the old"), line
    assert line.endswith(
        "not holding its source's value: batch_normalization/moving_mean, "
        "batch_normalization/moving_variance"
    ), line


def test_a_checkpoint_planned_without_its_model_names_what_verify_needs(files, tmp_path):
    plan, plan_path = applied(files, "checkpoint", tmp_path)  # aligned onto NEW by layer order
    assert plan.restored and plan.provenance.old_model is None  # its own model is unknown
    result = run_in_process("verify", plan_path, "--checkpoint", tmp_path / "model.weights.h5")
    assert_one_line_error(
        result, "a tf.keras 2 checkpoint planned without its model", "--old-model OLD.py"
    )
