"""verify with several named sources (issue 19): each source's shared frontier against its own
old graph, on its part of the plan (graphdiff/source_plans.py)."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import run_in_process

from graphdiff.apply.executor import apply_plan
from graphdiff.plan import INITIALIZE, to_json
from graphdiff.plan_io import write_plan
from graphdiff.planning import make_plan
from graphdiff.schema import schema_errors
from graphdiff.source_plans import source_part


def applied(runs, order, directory):
    """A plan of the detector from the runs in `order`, applied; (plan file, plan)."""
    paths = {"cls": runs.classifier, "det": runs.detector}
    plan = make_plan(
        {name: paths[name] + ".meta" for name in order},
        runs.new_graph,
        output_prefix=str(directory / "out" / "model.ckpt"),
    )
    apply_plan(plan)
    write_plan(plan, directory / "plan.json")
    return directory / "plan.json", plan


@pytest.fixture(scope="module")
def cls_first(detector_runs, tmp_path_factory):
    return applied(detector_runs, ("cls", "det"), tmp_path_factory.mktemp("cls_first"))


@pytest.fixture(scope="module")
def det_first(detector_runs, tmp_path_factory):
    return applied(detector_runs, ("det", "cls"), tmp_path_factory.mktemp("det_first"))


def test_a_source_part_is_a_plan_of_that_source_alone(cls_first, detector_runs):
    _, plan = cls_first
    part = source_part(plan, "det")
    assert schema_errors(to_json(part)) == [] and part.format_version == 1
    assert part.provenance.sources == ()
    assert part.provenance.checkpoint_prefix == detector_runs.detector
    assert {e.name for e in part.restored} == {
        e.name for e in plan.restored if e.source_name == "det"
    }
    backbone = part.entry("FeatureExtractor/resnet/conv1/weights")
    assert backbone.action == INITIALIZE and backbone.reason == "from source cls, not this part's"
    assert {u.key for u in part.unused} == {u.key for u in plan.unused if u.source_name == "det"}


def test_each_source_is_verified_against_its_own_old_graph(cls_first):
    path, _ = cls_first
    result = run_in_process("verify", path)
    assert result.returncode == 0, result.stderr
    cls, det = result.stdout.split("source det:")
    assert cls.startswith("source cls:") and "classification/model.ckpt" in cls
    assert "FeatureExtractor/resnet/Relu:0" in cls and "Verify: 1 identical" in cls
    # its heads sit on cls's backbone: they are fed what they read in det's own graph (a cut)
    assert "(after a cut)" in det and "cut: fed the old graph's" in det
    assert "Verify: 2 identical" in det


def test_the_detector_first_verifies_its_predictors(det_first):
    path, _ = det_first
    result = run_in_process("verify", path, "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["verdict"] == "identical"
    assert [s["name"] for s in document["sources"]] == ["det"]  # cls restored nothing
    report = document["sources"][0]["report"]
    assert {t["new"] for t in report["tensors"]} >= {"Mean:0", "Mean_1:0"}  # box, cls losses
    assert report["not_compared"] == []  # every restored model variable is upstream of one
    assert report["restored_variables_checked"] == 19


def test_a_checkpoint_with_another_sources_backbone_fails_naming_the_source(cls_first, det_first):
    path, _ = cls_first
    _, other = det_first
    result = run_in_process("verify", path, "--checkpoint", other.output_prefix)
    assert result.returncode == 3, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("graphdiff: source cls: FeatureExtractor/resnet/conv1/weights")


def test_apply_verify_outputs_checks_each_source(detector_runs, tmp_path):
    plan = make_plan(
        {"cls": detector_runs.classifier + ".meta", "det": detector_runs.detector + ".meta"},
        detector_runs.new_graph,
        output_prefix=str(tmp_path / "out" / "model.ckpt"),
    )
    write_plan(plan, tmp_path / "plan.json")
    result = run_in_process("apply", tmp_path / "plan.json", "--verify-outputs", "--quiet")
    assert result.returncode == 0, result.stderr
    result = run_in_process("apply", tmp_path / "plan.json", "--verify-outputs", "--force")
    assert result.returncode == 0, result.stderr
    # det's heads, on cls's backbone, are fed what they read in det's own graph (cuts)
    assert "verify: cls: 1 tensor(s) identical; det: 2 tensor(s) identical" in result.stderr


def test_a_moved_source_and_tensor_names_with_several_sources(cls_first, tmp_path):
    path, plan = cls_first
    result = run_in_process("verify", path, "--tensor", "BoxPredictor/box/BiasAdd:0")
    assert result.returncode == 2 and "several sources" in result.stderr
    moved = tmp_path / "classification"
    shutil.copytree(plan.provenance.old_source("cls").checkpoint_prefix.rsplit("/", 1)[0], moved)
    result = run_in_process("verify", path, "--old-checkpoint", f"cls={moved / 'model.ckpt'}")
    assert result.returncode == 0, result.stderr
    assert f"against {moved / 'model.ckpt'}" in result.stdout
