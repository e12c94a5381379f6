"""show and render of a plan with named sources (issue 19): one column per source, each
variable's source, and the conflicts (what another source could have given, and why not)."""

from __future__ import annotations

import re
import shutil

import pytest
from conftest import run_in_process

from graphdiff.plan_io import write_plan
from graphdiff.planning import make_plan
from graphdiff.view.diffview import build_view
from graphdiff.view.render import diff_graph, render_plan
from graphdiff.view.show import format_plan


def detector_plan(runs, *order):
    paths = {"cls": runs.classifier, "det": runs.detector}
    return make_plan({name: paths[name] + ".meta" for name in order}, runs.new_graph)


@pytest.fixture(scope="module")
def cls_first(detector_runs):
    return detector_plan(detector_runs, "cls", "det")


def columns_of(text: str, header: str) -> dict[str, int]:
    """Where each source's column starts, from the line naming the columns."""
    return {m.group(): m.start() for m in re.finditer(r"\S+", header)}


def test_show_has_one_column_per_source(cls_first):
    text = format_plan(build_view(cls_first))
    lines = text.splitlines()
    assert lines[0].startswith("cls=") and ", det=" in lines[0]
    start = lines.index("scopes (new graph \u2190 cls | det)")
    where = columns_of(text, lines[start + 1])
    assert list(where) == ["cls", "det"]
    backbone = next(line for line in lines if line.startswith("  = FeatureExtractor/resnet"))
    assert backbone[where["cls"] :].startswith("\u2190 resnet/block1/unit_1, resnet/conv1")
    assert backbone[where["det"] :].startswith("\u2717 FeatureExtractor/resnet")
    box = next(line for line in lines if line.startswith("  = BoxPredictor/box"))
    assert box[where["cls"] : where["det"]].strip() == ""
    assert box[where["det"] :].startswith("\u2190 BoxPredictor/box")
    passed = next(line for line in lines if line.startswith("  \u2717"))
    assert passed[where["det"] :].startswith("FeatureExtractor/resnet")
    assert "15 unused" in passed
    assert (
        "  conflict  FeatureExtractor/resnet: 15 variables det:FeatureExtractor/resnet could "
        "give, not taken: cls is named first"
    ) in lines
    assert "  det:FeatureExtractor/resnet: 24 not taken: another source gives what it could" in (
        text
    )


def test_naming_the_detector_first_moves_the_mark(detector_runs):
    text = format_plan(build_view(detector_plan(detector_runs, "det", "cls")))
    lines = text.splitlines()
    where = columns_of(text, lines[lines.index("scopes (new graph \u2190 det | cls)") + 1])
    backbone = next(line for line in lines if line.startswith("  = FeatureExtractor/resnet"))
    assert backbone[where["det"] :].startswith("\u2190 FeatureExtractor/resnet")
    assert backbone[where["cls"] :].startswith("\u2717 resnet")
    assert "not taken: det is named first" in text


def test_markdown_has_one_column_per_source(cls_first):
    text = format_plan(build_view(cls_first), "markdown")
    assert "| | new graph | from `cls` | from `det` | restored |" in text
    assert (
        "| = | `FeatureExtractor/resnet` | \u2190 resnet/block1/unit\\_1, resnet/conv1 "
        "| \u2717 FeatureExtractor/resnet | 15 |"
    ) in text


def test_the_picture_draws_a_column_per_source_and_the_conflict(cls_first):
    source = diff_graph(build_view(cls_first)).source
    assert "cluster_old_0" in source and "cluster_old_1" in source
    assert "source cls" in source and "source det" in source
    conflict = re.search(r"conflict:det:/FeatureExtractor/resnet->FeatureExtractor/resnet", source)
    assert conflict, source
    assert "15 not taken: cls is named first" in source
    assert 'class="removed not-taken"' in source
    declared = set(re.findall(r'^\s+"([^"]+)" \[', source, re.M))
    for a, b in re.findall(r'^\s+"([^"]+)" -> "([^"]+)"', source, re.M):
        assert a in declared and b in declared, (a, b)  # no node made up by a ':' port


def test_the_picture_renders_with_each_sources_data_flow(cls_first, tmp_path):
    if shutil.which("dot") is None:
        pytest.fail("graphviz's dot is part of the test set-up")
    notes = []
    path = render_plan(cls_first, tmp_path / "diff.svg", on_note=notes.append)
    svg = path.read_text()
    assert notes == []
    assert "flow:old:cls:/resnet/conv1&#45;&gt;old:cls:/resnet/block1/unit_1" in svg
    assert "flow:old:det:/FeatureExtractor/resnet&#45;&gt;old:det:/BoxPredictor/box" in svg
    assert "not taken" in svg


def test_one_key_restored_from_one_source_and_unused_in_another_is_no_contradiction(
    detector_runs, tmp_path
):
    copy = tmp_path / "again"
    shutil.copytree(detector_runs.root / "detection", copy)
    plan = make_plan(
        {"det": detector_runs.detector + ".meta", "again": copy / "model.ckpt.meta"},
        detector_runs.new_graph,
    )
    assert {e.source_name for e in plan.restored} == {"det"}
    view = build_view(plan)
    assert view.notes == ()
    assert len(view.conflicts) > 0


def test_focus_takes_a_source_name(cls_first, tmp_path):
    path = tmp_path / "plan.json"
    write_plan(cls_first, path)
    result = run_in_process("show", path, "--focus", "cls:resnet")
    assert result.returncode == 0, result.stderr
    assert "focus: checkpoint cls:resnet, new graph FeatureExtractor/resnet" in result.stdout
    result = run_in_process("show", path, "--focus", "logits")  # the classifier's alone
    assert "focus: checkpoint cls:resnet/logits (none of its keys is restored" in result.stdout
    # a scope of the new graph (sources hold scopes of that name too: each opens its own side)
    result = run_in_process("show", path, "--focus", "resnet")
    assert result.returncode == 0, result.stderr
    assert (
        "focus: checkpoint cls:resnet, det:FeatureExtractor/resnet, new graph "
        "FeatureExtractor/resnet"
    ) in result.stdout
    result = run_in_process("show", path, "--focus", "unit_1/conv1")
    assert result.returncode == 0, result.stderr
