"""Several named sources attacked again (issue 19), as a user assembling a model from runs:
a convolution and its batch norm in sibling scopes (Keras's naming), an evaluation `.meta`
beside a training checkpoint, a source's checkpoint pointed at another run's, remedies that
name the flag as it must be typed, and --focus on a scope several sources hold.

Each graph is a few variables; every run is saved by TensorFlow with values from its own seed,
so a tensor taken from the wrong source cannot pass a byte comparison.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from conftest import run_in_process
from detector_graphs import conv_beside_bn, save_run, tf, v1, write_new_graph
from keras_models import build, load_into, save_weights, write_model

from graphdiff.apply.executor import apply_plan
from graphdiff.errors import BadInput
from graphdiff.plan import INITIALIZE, RESTORE
from graphdiff.plan_io import write_plan
from graphdiff.planning import make_plan


def one_line(result, *words):
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("graphdiff: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def stored(prefix) -> dict[str, np.ndarray]:
    reader = tf.train.load_checkpoint(str(prefix))
    return {key: reader.get_tensor(key) for key in reader.get_variable_to_shape_map()}


# --- a convolution and its batch norm in sibling scopes ----------------------------------------


@pytest.fixture(scope="module")
def siblings(tmp_path_factory):
    """Run `plain` (the convolution without batch norm) and run `bn` (with it)."""
    root = tmp_path_factory.mktemp("siblings")
    return {
        "plain": save_run(root / "plain", lambda: conv_beside_bn(batch_norm=False), seed=1),
        "bn": save_run(root / "bn", conv_beside_bn, seed=2),
        "new": str(write_new_graph(root / "new", "conv_beside_bn()")),
        "root": root,
    }


def test_a_convolution_and_its_batch_norm_beside_it_come_from_one_source(siblings):
    """Run `plain` gives the kernel (named first); run `bn`'s statistics were computed on its
    own kernel's outputs: taking them beside `plain`'s kernel is a wrong restore."""
    plan = make_plan(
        {"plain": siblings["plain"] + ".meta", "bn": siblings["bn"] + ".meta"},
        siblings["new"],
        output_prefix=str(siblings["root"] / "out" / "model.ckpt"),
    )
    kernel = plan.entry("conv/weights")
    assert (kernel.action, kernel.source_name) == (RESTORE, "plain")
    for name in ("beta", "gamma", "moving_mean", "moving_variance"):
        entry = plan.entry(f"conv_bn/{name}")
        assert entry.action == INITIALIZE, (entry.name, entry.source_name, entry.reason)
        assert "its layer comes from plain" in entry.reason
        assert [a.source_name for a in entry.alternatives] == ["bn"]
    assert plan.entry("head/weights").source_name == "plain"


def test_named_second_the_batch_norm_source_gives_the_whole_layer(siblings):
    plan = make_plan(
        {"bn": siblings["bn"] + ".meta", "plain": siblings["plain"] + ".meta"},
        siblings["new"],
        output_prefix=str(siblings["root"] / "out2" / "model.ckpt"),
    )
    assert {e.name: e.source_name for e in plan.restored} == {
        "conv/weights": "bn",
        "conv_bn/beta": "bn",
        "conv_bn/gamma": "bn",
        "conv_bn/moving_mean": "bn",
        "conv_bn/moving_variance": "bn",
        "head/weights": "bn",
    }


KERAS_NEW = """
def build_model():
    inputs = keras.Input((8, 8, 3), name="images")
    x = layers.Conv2D(4, 3, use_bias=False, name="conv")(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.GlobalAveragePooling2D()(layers.ReLU()(x))
    return keras.Model(inputs, layers.Dense(3, name="head")(x))
"""
KERAS_PRETRAINED = """
def build_model():
    inputs = keras.Input((8, 8, 3), name="images")
    x = layers.Conv2D(4, 3, use_bias=False, name="conv")(inputs)
    x = layers.GlobalAveragePooling2D()(layers.ReLU()(x))
    return keras.Model(inputs, layers.Dense(5, name="classifier")(x))
"""


def test_a_keras_convolution_and_its_batch_norm_come_from_one_source(tmp_path):
    new_py = write_model(tmp_path / "new", KERAS_NEW)
    pre_py = write_model(tmp_path / "pre", KERAS_PRETRAINED)
    save_weights(pre_py, tmp_path / "pre.weights.h5", seed=1)
    task = save_weights(new_py, tmp_path / "task.weights.h5", seed=2)
    out = tmp_path / "out" / "model.weights.h5"
    plan = make_plan(
        {"pre": tmp_path / "pre.weights.h5", "task": tmp_path / "task.weights.h5"},
        new_py,
        old_model={"pre": pre_py, "task": new_py},
        output_prefix=str(out),
    )
    assert plan.entry("conv/kernel").source_name == "pre"
    assert {e.name for e in plan.restored if e.source_name == "task"} == {
        "head/kernel",
        "head/bias",
    }
    bn = [e for e in plan.variables if e.name.startswith("bn/")]
    assert len(bn) == 4 and all(e.action == INITIALIZE for e in bn), [e.reason for e in bn]
    apply_plan(plan)
    model = load_into(new_py, out)
    statistics = model.get_layer("bn").get_weights()
    for mine, theirs in zip(statistics, task["bn"], strict=True):
        assert not np.array_equal(mine, theirs)
    build(new_py)  # the process's Keras is left as a test would find it


# --- a .meta and a checkpoint that do not hold the same variables ------------------------------


@pytest.fixture(scope="module")
def evaluation_meta(detector_runs, tmp_path_factory):
    """The detector's evaluation graph (no training step: no Momentum slots, no global_step),
    exported alone, as one exports a graph for serving; its values are the training run's."""
    import detector_graphs

    path = tmp_path_factory.mktemp("evaluation") / "eval.meta"
    with tf.Graph().as_default():
        detector_graphs.detector()
        v1.train.export_meta_graph(str(path))
    return path


def test_an_evaluation_meta_beside_its_training_checkpoint(
    detector_runs, evaluation_meta, tmp_path
):
    """The checkpoint holds slots and a step the .meta's graph lacks: they are matched by name
    (exit 1 before: the structure walk looked them up in the graph)."""
    out = tmp_path / "out" / "model.ckpt"
    plan = make_plan(
        {"cls": detector_runs.classifier + ".meta", "det": evaluation_meta},
        detector_runs.new_graph,
        checkpoint={"det": detector_runs.detector},
        output_prefix=str(out),
    )
    slot = plan.entry("BoxPredictor/box/weights/Momentum")
    assert (slot.action, slot.source_name, slot.source) == (RESTORE, "det", slot.name)
    apply_plan(plan)
    written, sources = stored(out), {"cls": detector_runs.classifier, "det": detector_runs.detector}
    values = {name: stored(prefix) for name, prefix in sources.items()}
    for entry in plan.restored:
        assert written[entry.name].tobytes() == values[entry.source_name][entry.source].tobytes()
    single = run_in_process(
        "plan", evaluation_meta, detector_runs.new_graph, "--checkpoint", detector_runs.detector
    )
    assert single.returncode == 0, single.stderr


def test_a_sources_checkpoint_pointed_at_another_run_is_one_line(detector_runs):
    """`--checkpoint cls=` the detection run's: none of the classifier graph's variables is
    in it (exit 1 before)."""
    result = run_in_process(
        "plan",
        f"cls={detector_runs.classifier}.meta",
        f"det={detector_runs.detector}.meta",
        detector_runs.new_graph,
        "--checkpoint",
        f"cls={detector_runs.detector}",
    )
    one_line(result, f"{detector_runs.detector}.index", "none of the variables of")


# --- remedies that work as typed -------------------------------------------------------------


def test_verify_names_the_flag_of_a_named_source_that_moved(detector_runs, tmp_path):
    """The remedy is `--old-checkpoint det=PREFIX`: a plain PREFIX is refused with named
    sources, so the message told the user to type a command that fails."""
    copy = tmp_path / "detection"
    shutil.copytree(detector_runs.root / "detection", copy)
    plan = make_plan(
        {"cls": detector_runs.classifier + ".meta", "det": copy / "model.ckpt.meta"},
        detector_runs.new_graph,
        output_prefix=str(tmp_path / "out" / "model.ckpt"),
    )
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    apply_plan(plan)
    moved = tmp_path / "moved"
    copy.rename(moved)
    line = one_line(run_in_process("verify", path), "source det", "no such file")
    assert line.endswith("give its prefix with --old-checkpoint det=PREFIX"), line
    result = run_in_process("verify", path, "--old-checkpoint", f"det={moved / 'model.ckpt'}")
    assert result.returncode == 0, result.stderr


# --- show and render --focus on a scope several sources hold ----------------------------------


@pytest.fixture(scope="module")
def named_plan(detector_runs, tmp_path_factory):
    path = tmp_path_factory.mktemp("named") / "plan.json"
    plan = make_plan(
        {"cls": detector_runs.classifier + ".meta", "det": detector_runs.detector + ".meta"},
        detector_runs.new_graph,
        output_prefix=str(path.parent / "out" / "model.ckpt"),
    )
    write_plan(plan, path)
    return path


def test_focus_on_a_new_scope_opens_what_each_source_gives_it(named_plan):
    """The detection run holds a scope of the same name: the checkpoint side opened that one
    alone, and the view hid that the classifier gives every variable of it."""
    result = run_in_process("show", named_plan, "--focus", "FeatureExtractor/resnet/conv1")
    assert result.returncode == 0, result.stderr
    assert (
        "focus: checkpoint cls:resnet/conv1, det:FeatureExtractor/resnet/conv1, "
        "new graph FeatureExtractor/resnet/conv1"
    ) in result.stdout
    conv1 = next(line for line in result.stdout.splitlines() if line.startswith("  = conv1 "))
    assert "\u2190 resnet/conv1" in conv1 and "\u2717 FeatureExtractor/resnet/conv1" in conv1
    result = run_in_process("show", named_plan, "--focus", "BoxPredictor")
    assert "focus: checkpoint det:BoxPredictor, new graph BoxPredictor" in result.stdout


# --- what the plan's scopes call a source's keys another source was preferred to -------------


def test_a_backbone_another_source_gives_is_not_taken_not_removed(named_plan):
    """The detection run's backbone is in the new graph (the classifier's was taken instead):
    `removed` (nothing in the new graph matches) told the reviewer otherwise."""
    from graphdiff.plan_io import read_plan
    from graphdiff.view.summary import format_summary

    plan = read_plan(named_plan)
    status = {(s.source_name, s.old): s.status for s in plan.scopes if s.new is None}
    assert status == {("cls", "resnet/logits"): "removed", ("det", "FeatureExtractor"): "not_taken"}
    text = format_summary(plan)
    assert "  removed: cls:resnet/logits\n" in text
    assert "  not taken: det:FeatureExtractor\n" in text


def test_one_checkpoint_under_two_names_is_refused(detector_runs):
    """`a=model.ckpt.meta b=model.ckpt`: two paths, one checkpoint; every key of b is a's."""
    result = run_in_process(
        "plan",
        f"a={detector_runs.detector}.meta",
        f"b={detector_runs.detector}",
        detector_runs.new_graph,
    )
    one_line(result, f"b={detector_runs.detector}", "the checkpoint of source a")


# --- the library, as its README section reads -----------------------------------------------


def test_the_library_verifies_each_source(detector_runs, tmp_path):
    """verify_plan compares one old graph: with several sources it says which call does each,
    and that call takes a source that moved by its name, as `verify --old-checkpoint` does."""
    import graphdiff

    copy = tmp_path / "detection"
    shutil.copytree(detector_runs.root / "detection", copy)
    plan = make_plan(
        {"cls": detector_runs.classifier + ".meta", "det": copy / "model.ckpt.meta"},
        detector_runs.new_graph,
        output_prefix=str(tmp_path / "out" / "model.ckpt"),
    )
    graphdiff.apply_plan(plan)
    with pytest.raises(BadInput, match="graphdiff.verify_sources"):
        graphdiff.verify_plan(plan)
    moved = tmp_path / "moved"
    copy.rename(moved)
    verdicts = graphdiff.verify_sources(plan, old_checkpoint={"det": str(moved / "model.ckpt")})
    assert [(v.name, v.report.verdict) for v in verdicts] == [
        ("cls", "identical"),
        ("det", "identical"),
    ]


def test_verify_flags_are_not_dropped_with_several_sources(detector_runs, tmp_path):
    """--new-graph was ignored for a plan of several sources (verify then said the new graph
    was missing and to give --new-graph); --input (inputs of one old graph) was dropped
    silently, and --old-model took no source's name."""
    import detector_graphs

    new_graph = detector_graphs.write_new_detector(tmp_path / "new")
    plan = make_plan(
        {"cls": detector_runs.classifier + ".meta", "det": detector_runs.detector + ".meta"},
        new_graph,
        output_prefix=str(tmp_path / "out" / "model.ckpt"),
    )
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    apply_plan(plan)
    moved = tmp_path / "moved.py"
    new_graph.rename(moved)
    result = run_in_process("verify", path, "--new-graph", moved)
    assert result.returncode == 0, result.stderr
    assert "source cls:" in result.stdout
    one_line(
        run_in_process("verify", path, "--new-graph", moved, "--input", "images=images"),
        "--input",
        "several sources",
    )
    one_line(
        run_in_process("verify", path, "--new-graph", moved, "--old-model", "x.py"),
        "--old-model",
        "give NAME=PATH",
    )
    one_line(
        run_in_process("verify", path, "--new-graph", moved, "--old-model", "cls=x.py"),
        "source cls",
        "the plan was made without --old-model",
    )
