"""The diff picture, drawn by the real `dot` from hand-made plans (no TensorFlow, no matcher).

The sample plan names graph files that do not exist, so these pictures have no data-flow
edges; tests/test_render_resnet.py draws real plans with them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from plan_factory import initialized, make_plan, restored, sample_plan, unused_key

from graphdiff.errors import BadInput
from graphdiff.plan import Part, VariableEntry
from graphdiff.view.render import render_plan

SVG = "{http://www.w3.org/2000/svg}"


def svg_groups(path) -> dict[str, ET.Element]:
    """The SVG's <g> elements by id: boxes are 'old:SCOPE' / 'new:SCOPE', links 'link:A->B'."""
    root = ET.parse(path).getroot()
    return {g.get("id"): g for g in root.iter(f"{SVG}g") if g.get("id")}


def boxes(path, side: str) -> list[str]:
    return [key for key, g in svg_groups(path).items() if key.startswith(f"{side}:")]


def texts(element: ET.Element) -> list[str]:
    return [t.text for t in element.iter(f"{SVG}text") if t.text]


def title(element: ET.Element) -> str:
    return element.find(f"{SVG}title").text


def centre(element: ET.Element) -> tuple[float, float]:
    """The middle of a box's outline (its first path or polygon)."""
    shape = next(e for e in element.iter() if e.tag in (f"{SVG}path", f"{SVG}polygon"))
    numbers = (shape.get("d") or shape.get("points")).replace("M", " ").replace("C", " ")
    points = [tuple(map(float, p.split(","))) for p in numbers.split() if "," in p]
    xs, ys = [x for x, _ in points], [y for _, y in points]
    return (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2


def listing(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture(scope="module")
def sample_svg(tmp_path_factory):
    return render_plan(sample_plan(), tmp_path_factory.mktemp("svg") / "diff.svg")


def test_svg_is_xml_naming_every_scope_and_both_sides(sample_svg):
    words = texts(ET.parse(sample_svg).getroot())
    for scope in ("A", "B", "tower/B", "C", "Output1", "(root)"):
        assert scope in words
    assert "checkpoint (old)" in words and "new graph" in words
    assert {"shared", "partial", "new", "removed"} <= set(words)  # the legend


def test_title_names_the_files_by_name_not_path(sample_svg):
    words = texts(ET.parse(sample_svg).getroot())
    assert "model.ckpt.meta \u2192 new_graph.py" in words
    assert not any("old/model.ckpt.meta" in w for w in words)


def test_title_counts_model_variables_apart_from_optimizer_state(tmp_path):
    plan = sample_plan()
    model = [e for e in plan.variables if e.role == "model"]
    kept = sum(e.action == "restore" for e in model)
    source = render_plan(plan, tmp_path / "diff.dot").read_text()
    assert (
        f"model variables: {kept} restored (41 params), {len(model) - kept} initialized" in source
    )
    assert f"{len(plan.unused)} checkpoint keys unused" in source


def test_returns_the_path_and_leaves_no_temp_file(tmp_path):
    target = render_plan(sample_plan(), str(tmp_path / "diff.svg"))
    assert target == tmp_path / "diff.svg"
    assert listing(tmp_path) == ["diff.svg"]


@pytest.mark.parametrize(("suffix", "magic"), [(".png", b"\x89PNG\r\n\x1a\n"), (".pdf", b"%PDF")])
def test_binary_formats_start_with_their_magic(tmp_path, suffix, magic):
    target = render_plan(sample_plan(), tmp_path / f"diff{suffix}")
    assert target.read_bytes().startswith(magic)


def test_upper_case_extension_is_accepted(tmp_path):
    target = render_plan(sample_plan(), tmp_path / "diff.PNG")
    assert target.read_bytes().startswith(b"\x89PNG")


def test_dot_source_needs_no_dot_program(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    source = render_plan(sample_plan(), tmp_path / "diff.dot").read_text()
    assert source.startswith("digraph")
    assert "cluster_old" in source and "cluster_new" in source
    assert "tower/B" in source and "renamed" in source


def test_without_dot_the_source_is_written_and_the_note_says_how_to_install(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    notes = []
    written = render_plan(sample_plan(), out / "diff.svg", flow=False, on_note=notes.append)
    assert written == out / "diff.dot"
    assert listing(out) == ["diff.dot"]
    assert written.read_text().startswith("digraph")
    assert notes == [
        f"the `dot` program is not installed: wrote the DOT source {written}; install graphviz "
        "(apt-get install graphviz, brew install graphviz or conda install graphviz)"
    ]


def test_without_dot_an_existing_picture_stays_whole(tmp_path, monkeypatch):
    target = tmp_path / "diff.svg"
    target.write_text("previous picture")
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    render_plan(sample_plan(), target, flow=False)
    assert target.read_text() == "previous picture"
    assert listing(tmp_path) == ["diff.dot", "diff.svg", "empty"]


@pytest.mark.parametrize("name", ["diff.xyz", "diff"])
def test_unknown_extension_raises_and_writes_nothing(tmp_path, name):
    with pytest.raises(BadInput) as caught:
        render_plan(sample_plan(), tmp_path / name)
    assert "use .svg, .png, .pdf or .dot" in str(caught.value)
    assert caught.value.path == str(tmp_path / name)
    assert listing(tmp_path) == []


def test_missing_directory_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="does not exist"):
        render_plan(sample_plan(), tmp_path / "nowhere" / "diff.svg")


def test_unwritable_target_is_bad_input_and_leaves_nothing(tmp_path):
    target = tmp_path / ("x" * 300 + ".svg")  # longer than a file name may be
    with pytest.raises(BadInput, match="cannot be written: File name too long") as caught:
        render_plan(sample_plan(), target)
    assert caught.value.path == str(target)
    assert listing(tmp_path) == []


def test_renamed_shared_scope_draws_a_level_arrow_from_old_to_new(sample_svg):
    groups = svg_groups(sample_svg)
    edge = groups["link:B->tower/B"]
    assert edge.get("class") == "edge"
    assert title(edge) == f"{title(groups['old:B'])}->{title(groups['new:tower/B'])}"
    assert "renamed" in texts(edge)
    assert centre(groups["old:B"])[1] == pytest.approx(centre(groups["new:tower/B"])[1])


def test_same_name_shared_scope_edge_has_no_label(sample_svg):
    groups = svg_groups(sample_svg)
    edge = groups["link:A->A"]
    assert title(edge) == f"{title(groups['old:A'])}->{title(groups['new:A'])}"
    assert texts(edge) == []


def test_each_side_shows_only_its_scopes_old_left_new_right(sample_svg):
    groups = svg_groups(sample_svg)
    assert "old:Output1" in groups and "new:Output1" not in groups
    assert "new:C" in groups and "old:C" not in groups
    left = max(centre(groups[f"old:{s}"])[0] for s in ("A", "B", "Output1", "(root)"))
    right = min(centre(groups[f"new:{s}"])[0] for s in ("A", "tower/B", "C", "(root)"))
    assert left < right


def test_unused_scope_sits_below_the_scope_before_it_in_the_checkpoint(sample_svg):
    groups = svg_groups(sample_svg)
    assert centre(groups["old:Output1"])[1] > centre(groups["old:B"])[1]


@pytest.mark.parametrize(
    ("node", "status"),
    [("new:C", "new"), ("old:Output1", "removed"), ("new:A", "partial"), ("new:(root)", "shared")],
)
def test_status_is_the_node_class_and_colour(sample_svg, node, status):
    groups = svg_groups(sample_svg)
    assert groups[node].get("class").split()[:2] == ["node", status]
    nodes = [g for g in groups.values() if "node" in g.get("class", "")]
    fills = {p.get("fill") for g in nodes for p in g.iter(f"{SVG}path")}
    assert len(fills - {None, "none", "white"}) >= 4  # shared, partial, new, removed differ


def test_node_labels_count_variables_parameters_and_bytes(sample_svg):
    groups = svg_groups(sample_svg)
    assert texts(groups["new:A"]) == [
        "A",
        "2 restored \u00b7 20 params \u00b7 80 B",
        "1 initialized \u00b7 4 params \u00b7 16 B",
    ]
    assert texts(groups["old:A"]) == ["A", "2 restored \u00b7 20 params \u00b7 80 B"]
    assert texts(groups["old:Output1"]) == ["Output1", "2 unused \u00b7 10 params \u00b7 40 B"]


def test_shape_resolved_scope_is_marked(sample_svg):
    groups = svg_groups(sample_svg)
    marked = [g for g in groups.values() if "shape-resolved" in (g.get("class") or "")]
    assert [g.get("id") for g in marked] == ["new:tower/B"]
    assert "1 shape from the checkpoint" in texts(marked[0])
    assert len(list(marked[0].iter(f"{SVG}path"))) >= 2  # the double border


def test_variable_left_with_candidates_marks_its_box_as_needing_a_decision(tmp_path):
    choice = VariableEntry(
        name="head/w",
        dtype="float32",
        shape=(4, 2),
        action="initialize",
        reason="two heads of one shape: not restored",
        candidates=("cls/w", "box/w"),
    )
    plan = make_plan(variables=(restored("body/w"), choice), unused=(unused_key("cls/w"),))
    groups = svg_groups(render_plan(plan, tmp_path / "diff.svg", flow=False))
    assert "needs-decision" in groups["new:head"].get("class")
    assert "1 variable: needs a decision" in texts(groups["new:head"])
    assert "needs-decision" not in groups["new:body"].get("class")


def test_rules_note_lists_the_rules_with_their_support(sample_svg):
    words = texts(ET.parse(sample_svg).getroot())
    assert "rename rules" in words
    line = "r1: prefix B \u2192 tower/B (inferred, 2 variables; thin evidence: check it)"
    assert line in words


def test_no_rules_no_note(tmp_path):
    plan = make_plan(variables=(initialized("C/w"),))
    source = render_plan(plan, tmp_path / "diff.dot").read_text()
    assert "rename rules" not in source


def test_unused_keys_are_grouped_by_scope_and_reason(tmp_path):
    unused = (
        unused_key("Output1/w"),
        unused_key("Output1/b"),
        unused_key("A/w/Adam", (4,)).__class__(
            "A/w/Adam", "float32", (4, 4), "optimizer slot of 'A/w', which restores nothing"
        ),
        unused_key("beta1_power").__class__(
            "beta1_power", "float32", (), "optimizer: the new graph has no counterpart"
        ),
    )
    plan = make_plan(variables=(restored("A/w"),), unused=unused)
    words = texts(ET.parse(render_plan(plan, tmp_path / "diff.svg", flow=False)).getroot())
    assert "4 unused checkpoint keys" in words
    assert "Output1: 2 removed: nothing in the new graph matches (8 params)" in words
    assert "A: 1 optimizer slot (the new graph has no optimizer) (16 params)" in words
    assert (
        "(root): 1 optimizer state and global step (the new graph has no optimizer) (1 params)"
        in words
    )


def test_root_variable_marks_the_root_scope(tmp_path):
    plan = make_plan(variables=(restored("step", resolved=True), initialized("A/w")))
    groups = svg_groups(render_plan(plan, tmp_path / "diff.svg"))
    assert "shape-resolved" in groups["new:(root)"].get("class")
    assert "variables outside any scope" in texts(groups["new:(root)"])


def test_names_are_escaped_not_markup(tmp_path):
    name = 'a<b>&"c\\N'
    plan = make_plan(variables=(restored("Z/w"),), unused=(unused_key(f"{name}/w"),))
    groups = svg_groups(render_plan(plan, tmp_path / "diff.svg"))
    assert name in texts(groups[f"old:{name}"])


def test_empty_plan_still_renders(tmp_path):
    target = render_plan(make_plan(), tmp_path / "diff.svg")
    words = texts(ET.parse(target).getroot())
    assert words.count("nothing") == 2  # one a side
    assert "model variables: 0 restored (0 params), 0 initialized (0 params)" in words


def top_down(path, side: str) -> list[str]:
    """The box ids of one side, from the top of the picture down."""
    groups = svg_groups(path)
    return sorted(boxes(path, side), key=lambda key: centre(groups[key])[1])


def test_siblings_are_in_natural_order(tmp_path):
    plan = make_plan(variables=[restored(f"net/unit_{k}/w", shape=(k, 2)) for k in range(1, 13)])
    path = render_plan(plan, tmp_path / "diff.svg", depth=1, flow=False)
    assert top_down(path, "new") == [f"new:net/unit_{k}" for k in range(1, 13)]  # not text order


def test_runs_of_sibling_scopes_of_one_shape_and_status_fold(tmp_path):
    plan = make_plan(
        variables=[restored(f"net/unit_{k}/w") for k in range(1, 4)]
        + [initialized(f"net/unit_{k}/w", shape=(4, 4)) for k in range(4, 13)]
        + [restored("net/unit_13/w", shape=(4, 2))],
    )
    path = render_plan(plan, tmp_path / "diff.svg", flow=False)
    groups = svg_groups(path)
    assert top_down(path, "new") == ["new:net/unit_1", "new:net/unit_4", "new:net/unit_13"]
    assert texts(groups["new:net/unit_1"])[0] == "unit_1 \u2026 unit_3"
    assert texts(groups["new:net/unit_4"])[:2] == [
        "unit_4 \u2026 unit_12",
        "9 alike scopes \u00b7 9 initialized \u00b7 144 params \u00b7 576 B",
    ]
    assert "folded" in groups["new:net/unit_4"].get("class")
    assert top_down(path, "old") == ["old:net/unit_1", "old:net/unit_13"]


def test_big_plan_stays_within_the_budget_and_says_what_it_merged(tmp_path):
    variables = [
        restored(f"net/b{i}/l{j}/w", shape=(i + 1, j + 1)) for i in range(60) for j in range(5)
    ]
    plan = make_plan(
        variables=variables, unused=[unused_key(f"old{i}/w", (i + 1,)) for i in range(40)]
    )
    target = render_plan(plan, tmp_path / "big.svg", flow=False)
    assert len(boxes(target, "new")) <= 30 and len(boxes(target, "old")) <= 30
    words = " ".join(texts(ET.parse(target).getroot()))
    assert (
        "checkpoint: scopes deeper than 1 level drawn merged into their parents, and runs" in words
    )
    assert "40 scopes \u00b7 40 unused" in words


def test_partitioned_variable_counts_once_with_its_full_shape(tmp_path):
    whole = VariableEntry(
        name="emb/table",
        dtype="float32",
        shape=(100, 8),
        action="restore",
        reason="restored from 'emb/table' (same name)",
        source="emb/table",
        partitions=(
            Part("emb/table/part_0", (0, 0), (50, 8)),
            Part("emb/table/part_1", (50, 0), (50, 8)),
        ),
    )
    groups = svg_groups(render_plan(make_plan(variables=(whole,)), tmp_path / "d.svg", flow=False))
    assert "1 restored \u00b7 800 params \u00b7 3.2 KB" in texts(groups["new:emb"])
    assert "1 partitioned variable" in texts(groups["new:emb"])


def test_depth_below_one_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="--depth: 0 is not a whole number of 1 or more"):
        render_plan(sample_plan(), tmp_path / "diff.svg", depth=0)
    assert listing(tmp_path) == []


@pytest.mark.parametrize(
    ("focus", "fault"),
    [
        (
            "nowhere",
            "'nowhere' names no scope of the plan (top-level scopes: A, B, C, Output1, tower)",
        ),
        ("A/weights", "'A/weights' is a variable, not a scope: use --focus 'A'"),
        ("", "is empty: give a scope name"),
    ],
)
def test_focus_naming_no_scope_is_bad_input(tmp_path, focus, fault):
    with pytest.raises(BadInput, match="--focus: " + fault.replace("(", r"\(").replace(")", r"\)")):
        render_plan(sample_plan(), tmp_path / "diff.svg", focus=focus)
    assert listing(tmp_path) == []


def test_focus_naming_two_scopes_asks_for_more_of_the_path(tmp_path):
    plan = make_plan(variables=(restored("t0/net/w"), restored("t1/net/w")))
    with pytest.raises(BadInput, match="'net' names 2 scopes of the new graph: t0/net, t1/net"):
        render_plan(plan, tmp_path / "diff.svg", focus="net")


def test_focus_lists_the_variables_with_shape_action_source_and_method(tmp_path):
    source = render_plan(sample_plan(), tmp_path / "d.dot", focus="tower", flow=False).read_text()
    assert "biases" in source and "[4] from ckpt" in source
    assert "\u2190 B/biases (inferred rule)" in source
    assert "focus: checkpoint B, new graph tower" in source


def test_flow_note_says_the_graph_files_are_gone(tmp_path):
    notes = []
    source = render_plan(sample_plan(), tmp_path / "d.dot", on_note=notes.append).read_text()
    assert notes == [
        "no data-flow edges: old/model.ckpt.meta: no such file (moved or deleted since the plan "
        "was made); new_graph.py: no such file (moved or deleted since the plan was made)"
    ]
    assert "flow:" not in source


def test_a_failing_dot_leaves_the_source_and_says_why(tmp_path):
    plan = make_plan(variables=(restored("n" * 17000 + "/w"),))  # beyond dot's 16384 per string
    notes = []
    written = render_plan(plan, tmp_path / "diff.svg", flow=False, on_note=notes.append)
    assert written == tmp_path / "diff.dot"
    assert listing(tmp_path) == ["diff.dot"]
    assert len(notes) == 1
    assert notes[0].startswith("`dot` failed (Error: <stdin>: syntax error in line")
    assert notes[0].endswith(f": wrote the DOT source {written}")


def test_a_huge_plan_keeps_each_side_within_the_budget(tmp_path):
    variables = [
        (restored if (i // 7) % 3 else initialized)(
            f"net/block{i // 1000}/unit_{i // 50 % 20}/layer{i % 50}/w", shape=(i % 50 + 1, 3)
        )
        for i in range(20000)
    ]
    unused = [unused_key(f"gone/s{i // 10}/k{i}", (i % 9 + 1,)) for i in range(4000)]
    path = render_plan(
        make_plan(variables=variables, unused=unused), tmp_path / "d.svg", flow=False
    )
    assert 0 < len(boxes(path, "new")) <= 30 and 0 < len(boxes(path, "old")) <= 30
    words = " ".join(texts(ET.parse(path).getroot()))
    kept = sum(v.action == "restore" for v in variables)
    assert f"model variables: {kept} restored" in words and "4000 checkpoint keys unused" in words
