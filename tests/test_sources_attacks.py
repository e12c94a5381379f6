"""Several named sources, attacked as a hostile user would (issue 19): names that are no
names, flags given twice, rules naming no source in a rules file, hand-edited plans that send
an entry to the wrong source, outputs over a source, commands that read one old graph only,
and a Keras model assembled from two Keras runs."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from conftest import run_in_process
from keras_models import build, layer_values, load_into, save_weights, write_model

from graphdiff.apply.executor import apply_plan
from graphdiff.errors import BadInput
from graphdiff.plan_io import write_plan
from graphdiff.planning import make_plan


def one_line(result, *words):
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("graphdiff: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def named(detector_runs, tmp_path_factory):
    """The detector's two-source plan, written to a file (cls first)."""
    path = tmp_path_factory.mktemp("named") / "plan.json"
    plan = make_plan(
        {"cls": detector_runs.classifier + ".meta", "det": detector_runs.detector + ".meta"},
        detector_runs.new_graph,
        output_prefix=str(path.parent / "out" / "model.ckpt"),
    )
    write_plan(plan, path)
    return path


def sources(runs):
    return [f"cls={runs.classifier}.meta", f"det={runs.detector}.meta", runs.new_graph]


def test_a_name_starting_with_a_digit_is_no_name(detector_runs):
    result = run_in_process(
        "plan", f"1st={detector_runs.classifier}.meta", *sources(detector_runs)[1:]
    )
    one_line(result, "'1st' is no source name")


def test_a_symbolic_link_to_a_source_under_another_name_is_refused(detector_runs, tmp_path):
    link = tmp_path / "model.ckpt.meta"
    os.symlink(detector_runs.detector + ".meta", link)
    result = run_in_process(
        "plan", f"det={detector_runs.detector}.meta", f"again={link}", detector_runs.new_graph
    )
    one_line(result, "is source 'det' already")


def test_a_per_source_flag_twice_is_refused(detector_runs):
    twice = ["--checkpoint", f"cls={detector_runs.classifier}"] * 2
    one_line(run_in_process("plan", *sources(detector_runs), *twice), "--checkpoint", "given twice")
    model = ["--old-model", "cls=x.py"]
    one_line(run_in_process("plan", *sources(detector_runs), *model), "--old-model")


def test_apply_relocation_twice_is_refused(named, detector_runs):
    twice = ["--checkpoint", f"det={detector_runs.detector}"] * 2
    one_line(run_in_process("apply", named, *twice), "--checkpoint", "det: given twice")
    one_line(run_in_process("apply", named, "--checkpoint", "det="), "give NAME=PATH")


def test_a_rule_of_the_rules_file_naming_no_source_names_the_file(
    detector_runs, tmp_path, monkeypatch
):
    (tmp_path / "pyproject.toml").write_text('[tool.graphdiff]\nexclude = ["box:^Box"]\n')
    monkeypatch.chdir(tmp_path)
    result = run_in_process("plan", *sources(detector_runs))
    one_line(result, "pyproject.toml", "'box:^Box' names source 'box'")


def test_verify_of_a_plan_not_applied_is_one_line(named):
    one_line(run_in_process("verify", named), "source cls", "no checkpoint")


def test_an_entry_sent_to_a_source_without_its_key_is_refused(named, tmp_path):
    document = json.loads(named.read_text())
    entry = next(e for e in document["variables"] if e["name"] == "BoxPredictor/box/weights")
    entry["source_name"] = "cls"  # hand-edited: the classifier has no box predictor
    edited = tmp_path / "edited.json"
    document["output_prefix"] = str(tmp_path / "out" / "model.ckpt")
    edited.write_text(json.dumps(document))
    result = run_in_process("apply", edited, "--quiet")
    one_line(result, "BoxPredictor/box/weights", "is not in checkpoint", "classification")
    assert not (tmp_path / "out").exists()


def test_plan_output_over_a_sources_file_is_refused(detector_runs):
    result = run_in_process("plan", *sources(detector_runs), "-o", f"{detector_runs.detector}.meta")
    one_line(result, "is the old graph's file of source det")


def test_a_source_that_gives_nothing_is_listed_with_nothing(detector_runs, tmp_path):
    """A third source unrelated to the new graph: all its keys unused, apply unchanged."""
    import detector_graphs

    def unrelated():
        detector_graphs.v1.get_variable("unrelated/w", [7, 3])

    other = detector_graphs.save_run(tmp_path / "other", unrelated, seed=3)
    plan = make_plan(
        {
            "cls": detector_runs.classifier + ".meta",
            "det": detector_runs.detector + ".meta",
            "other": other + ".meta",
        },
        detector_runs.new_graph,
        output_prefix=str(tmp_path / "out" / "model.ckpt"),
    )
    assert {e.source_name for e in plan.restored} == {"cls", "det"}
    assert {u.key for u in plan.unused if u.source_name == "other"} == {"unrelated/w"}
    assert apply_plan(plan) == str(tmp_path / "out" / "model.ckpt")


ASSEMBLED = """
def build_model():
    inputs = keras.Input((8,), name="features")
    h = layers.Dense(16, activation="relu", name="encoder")(inputs)
    return keras.Model(inputs, layers.Dense(3, name="head")(h))
"""
PRETRAINED = """
def build_model():
    inputs = keras.Input((8,), name="features")
    h = layers.Dense(16, activation="relu", name="encoder")(inputs)
    return keras.Model(inputs, layers.Dense(5, name="classifier")(h))
"""


def test_a_keras_model_from_two_keras_runs(tmp_path):
    new_py = write_model(tmp_path / "new", ASSEMBLED)
    pre_py = write_model(tmp_path / "pre", PRETRAINED)
    pre = save_weights(pre_py, tmp_path / "pre" / "pre.weights.h5", seed=1)
    task = save_weights(new_py, tmp_path / "task" / "task.weights.h5", seed=2)
    out = tmp_path / "out" / "model.weights.h5"
    plan = make_plan(
        {"pre": tmp_path / "pre" / "pre.weights.h5", "task": tmp_path / "task" / "task.weights.h5"},
        new_py,
        old_model={"pre": pre_py, "task": new_py},
        output_prefix=str(out),
    )
    assert {e.name: e.source_name for e in plan.restored} == {
        "encoder/kernel": "pre",
        "encoder/bias": "pre",
        "head/kernel": "task",
        "head/bias": "task",
    }
    assert [a.source_name for a in plan.entry("encoder/kernel").alternatives] == ["task"]
    apply_plan(plan, verify=True)
    restored = layer_values(load_into(new_py, out))
    assert np.array_equal(restored["encoder"][0], pre["encoder"][0])
    assert np.array_equal(restored["head"][0], task["head"][0])
    assert not np.array_equal(restored["encoder"][0], task["encoder"][0])
    build(new_py)  # the process's Keras is left as a test would find it
    with pytest.raises(BadInput, match="sources are named \\(pre, task\\)"):
        apply_plan(plan, checkpoint=str(tmp_path), force=True)


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--map", "cls:"], ["--map", "nothing after 'cls:'"]),
        (["--exclude", "det:("], ["--exclude", "not a valid regular expression"]),
        (
            [
                "--require",
                "cls:^FeatureExtractor/resnet/conv1/weights$",
                "--require",
                "det:^nothing",
            ],
            ["--require", "'det:^nothing' matches no variable"],
        ),
    ],
)
def test_broken_named_rules_are_one_line(detector_runs, flags, words):
    one_line(run_in_process("plan", *sources(detector_runs), *flags), *words)
