"""The picture at real scale: tf_slim resnet plans drawn by the real `dot`, with data flow.

The plans (tests/resnet_plans.py) are made once per session from resnet_v1_50 with Adam; their
graph files stay in place, so the picture reads data-flow edges from them.
"""

from __future__ import annotations

import json
import pathlib
import struct
import xml.etree.ElementTree as ET

import pytest
from test_render import centre, svg_groups, texts, top_down

from graphdiff.plan import to_json
from graphdiff.plan_io import read_plan
from graphdiff.view.render import render_plan

OLD, NEW = "old:resnet_v1_50", "new:resnet_v1_101"
SCREEN = (1920, 1200)


@pytest.fixture(scope="module")
def deeper_svg(resnet_plans, tmp_path_factory):
    notes = []
    plan = read_plan(resnet_plans.path("deeper"))
    path = render_plan(plan, tmp_path_factory.mktemp("deeper") / "diff.svg", on_note=notes.append)
    assert notes == []  # the graph files are there: nothing to say
    return path


def png_size(path) -> tuple[int, int]:
    return struct.unpack(">II", path.read_bytes()[16:24])


def test_default_picture_fits_one_screen_with_at_most_30_boxes(resnet_plans, tmp_path):
    plan = read_plan(resnet_plans.path("deeper"))
    png = render_plan(plan, tmp_path / "diff.png")
    width, height = png_size(png)
    assert width <= SCREEN[0] and height <= SCREEN[1]
    groups = svg_groups(render_plan(plan, tmp_path / "diff.svg"))
    assert len([k for k in groups if k.startswith(("old:", "new:"))]) <= 30


def test_new_units_fold_and_boxes_follow_the_data(deeper_svg):
    new = [key.removeprefix(NEW + "/") for key in top_down(deeper_svg, "new")]
    assert new == [
        "conv1",
        "block1",
        "block2",
        "block3/unit_1/bottleneck_v1",
        "block3/unit_2/bottleneck_v1",
        "block3/unit_7/bottleneck_v1",
        "block4",
        "logits",
    ]
    groups = svg_groups(deeper_svg)
    grown = texts(groups[f"{NEW}/block3/unit_7/bottleneck_v1"])
    assert grown[0] == "block3/{unit_7 \u2026 unit_23}/bottleneck_v1"
    assert grown[1].startswith("17 alike scopes \u00b7 102 initialized \u00b7 19M params")
    assert "new" in groups[f"{NEW}/block3/unit_7/bottleneck_v1"].get("class")
    assert texts(groups[f"{NEW}/block3/unit_2/bottleneck_v1"])[0] == (
        "block3/{unit_2 \u2026 unit_6}/bottleneck_v1"
    )


def test_kept_scopes_face_each_other_across_level_rename_arrows(deeper_svg):
    groups = svg_groups(deeper_svg)
    links = [key for key in groups if key.startswith("link:")]
    assert len(links) == 7
    for key in links:
        old, new = key.removeprefix("link:").split("->")
        assert "renamed" in texts(groups[key])
        assert centre(groups[f"old:{old}"])[1] == pytest.approx(centre(groups[f"new:{new}"])[1])
        assert old.removeprefix("resnet_v1_50") == new.removeprefix("resnet_v1_101")


def test_data_flows_from_box_to_box_down_each_column(deeper_svg):
    groups = svg_groups(deeper_svg)
    for side in ("new", "old"):
        column = top_down(deeper_svg, side)
        for before, after in zip(column, column[1:], strict=False):
            assert f"flow:{before}->{after}" in groups  # no box left out of the chain
    assert f"flow:{OLD}/block3/unit_2/bottleneck_v1->{OLD}/block4" in groups


def all_words(path) -> str:
    return " ".join(texts(ET.parse(path).getroot()))


def test_unused_optimizer_state_is_grouped_and_explained(deeper_svg):
    words = all_words(deeper_svg)
    assert "219 unused checkpoint keys" in words
    assert "resnet_v1_50: 216 optimizer slots (the new graph has no optimizer)" in words
    assert "(root): 3 optimizer state and global step (the new graph has no optimizer)" in words
    assert "inferred-1: prefix resnet_v1_50 \u2192 resnet_v1_101 (inferred, 108 variables)" in words


def test_focus_on_block3_shows_every_unit_in_order(resnet_plans, tmp_path):
    plan = read_plan(resnet_plans.path("deeper"))
    path = render_plan(plan, tmp_path / "block3.svg", focus="block3")
    units = [f"{NEW}/block3/unit_{k}/bottleneck_v1" for k in range(1, 24)]
    assert top_down(path, "new") == units
    assert top_down(path, "old") == [f"{OLD}/block3/unit_{k}/bottleneck_v1" for k in range(1, 7)]
    groups = svg_groups(path)
    for k in range(1, 7):
        old, new = (
            centre(groups[f"{OLD}/block3/unit_{k}/bottleneck_v1"]),
            centre(groups[units[k - 1]]),
        )
        assert old[1] == pytest.approx(new[1])
    # unit_23 is a member block3's family did not have (grown_families.py): new, not a
    # decision, although the graph puts the old strided unit_6 at its place
    assert groups[units[22]].get("class").split() == ["node", "new"]


def test_focus_down_to_variables_lists_shape_source_and_method(resnet_plans, tmp_path):
    plan = read_plan(resnet_plans.path("deeper"))
    source = render_plan(plan, tmp_path / "u1.dot", focus="block3/unit_1", flow=False).read_text()
    assert "\u2190 resnet_v1_50/block3/unit_1/bottleneck_v1/conv1/weights (structure)" in source
    assert "[1,1,512,256]" in source


def test_moved_net_shows_the_rename_and_the_unused_keys(resnet_plans, tmp_path):
    path = render_plan(read_plan(resnet_plans.path("moved")), tmp_path / "moved.svg")
    groups = svg_groups(path)
    assert "renamed" in texts(groups["link:resnet_v1_50->tower_0/resnet_v1_50"])
    words = all_words(path)
    assert "219 unused checkpoint keys" in words
    assert "inferred-1: prefix (root) \u2192 tower_0 (inferred, 108 variables)" in words


def test_without_the_graph_files_the_picture_has_no_flow_and_says_why(resnet_plans, tmp_path):
    document = to_json(read_plan(resnet_plans.path("deeper")))  # paths absolute
    document["provenance"]["old_meta"]["path"] = str(tmp_path / "gone" / "model.ckpt.meta")
    document["provenance"]["new_graph"]["sha256"] = "0" * 64
    moved = tmp_path / "plan.json"
    moved.write_text(json.dumps(document))
    notes = []
    path = render_plan(read_plan(moved), tmp_path / "diff.svg", on_note=notes.append)
    new_graph = document["provenance"]["new_graph"]["path"]
    assert notes == [
        f"no data-flow edges: {tmp_path}/gone/model.ckpt.meta: no such file (moved or deleted "
        f"since the plan was made); {new_graph}: changed since the plan was made"
    ]
    groups = svg_groups(path)
    assert not [key for key in groups if key.startswith("flow:")]
    assert len(top_down(path, "new")) == 8


def test_a_graph_file_that_no_longer_builds_leaves_its_side_without_flow(
    resnet_plans, run_cli, tmp_path
):
    document = to_json(read_plan(resnet_plans.path("deeper")))  # paths absolute
    copy = tmp_path / "new_graph.py"  # the same bytes, without the corpus_nets.py it imports
    copy.write_text(pathlib.Path(document["provenance"]["new_graph"]["path"]).read_text())
    document["provenance"]["new_graph"]["path"] = str(copy)
    moved = tmp_path / "plan.json"
    moved.write_text(json.dumps(document))
    result = run_cli("render", moved, "-o", tmp_path / "diff.svg")
    assert result.returncode == 0
    assert result.stderr == (
        f"graphdiff: data-flow edges on one side only: {copy}: raised ModuleNotFoundError at "
        "line 3: No module named 'corpus_nets'\n"
    )
    flows = [key for key in svg_groups(tmp_path / "diff.svg") if key.startswith("flow:")]
    assert flows and all(key.startswith("flow:old:") for key in flows)
