"""The diff picture, drawn by the real `dot` from hand-made plans (no TensorFlow, no matcher)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from plan_factory import make_plan, restored, sample_plan

from graphdiff.errors import BadInput
from graphdiff.plan import Rule, ScopeSummary
from graphdiff.render import render_plan

SVG = "{http://www.w3.org/2000/svg}"


def svg_groups(path) -> dict[str, ET.Element]:
    """The SVG's <g> elements by id; render.py gives scope nodes ids like 'old:B', 'new:B'."""
    root = ET.parse(path).getroot()
    return {g.get("id"): g for g in root.iter(f"{SVG}g") if g.get("id")}


def texts(element: ET.Element) -> list[str]:
    return [t.text for t in element.iter(f"{SVG}text") if t.text]


def title(element: ET.Element) -> str:
    return element.find(f"{SVG}title").text


def x_of(element: ET.Element) -> float:
    return float(next(element.iter(f"{SVG}text")).get("x"))


def listing(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture(scope="module")
def sample_svg(tmp_path_factory):
    return render_plan(sample_plan(), tmp_path_factory.mktemp("svg") / "diff.svg")


def test_svg_is_xml_naming_every_scope_and_the_legend(sample_svg):
    words = texts(ET.parse(sample_svg).getroot())
    for scope in ("A", "B", "tower/B", "C", "Output1", "(root)"):
        assert scope in words
    assert "legend" in words
    assert "checkpoint (old)" in words and "new graph" in words


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
    assert "cluster_old" in source and "cluster_new" in source and "cluster_legend" in source
    assert "tower/B" in source and "renamed" in source


@pytest.mark.parametrize("name", ["diff.xyz", "diff"])
def test_unknown_extension_raises_and_writes_nothing(tmp_path, name):
    with pytest.raises(BadInput) as caught:
        render_plan(sample_plan(), tmp_path / name)
    assert "use .svg, .png, .pdf or .dot" in str(caught.value)
    assert caught.value.path == str(tmp_path / name)
    assert listing(tmp_path) == []


def test_unknown_extension_message_names_it(tmp_path):
    with pytest.raises(
        BadInput, match=r"cannot render to '\.xyz': use \.svg, \.png, \.pdf or \.dot"
    ):
        render_plan(sample_plan(), tmp_path / "diff.xyz")


def test_missing_directory_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="does not exist"):
        render_plan(sample_plan(), tmp_path / "nowhere" / "diff.svg")


def test_missing_dot_program_is_bad_input_and_writes_nothing(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(BadInput) as caught:
        render_plan(sample_plan(), out / "diff.svg")
    assert caught.value.fault == "the `dot` program is not installed (apt-get install graphviz)"
    assert listing(out) == []


def test_failure_keeps_an_existing_file_whole(tmp_path, monkeypatch):
    target = tmp_path / "diff.svg"
    target.write_text("previous picture")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(BadInput):
        render_plan(sample_plan(), target)
    assert target.read_text() == "previous picture"
    assert listing(tmp_path) == ["diff.svg", "empty"]


def test_renamed_shared_scope_draws_an_edge_from_old_to_new(sample_svg):
    groups = svg_groups(sample_svg)
    edge = groups["link:B->tower/B"]
    assert edge.get("class") == "edge"
    assert title(edge) == f"{title(groups['old:B'])}->{title(groups['new:tower/B'])}"
    assert "renamed" in texts(edge)


def test_same_name_shared_scope_edge_has_no_label(sample_svg):
    groups = svg_groups(sample_svg)
    edge = groups["link:A->A"]
    assert title(edge) == f"{title(groups['old:A'])}->{title(groups['new:A'])}"
    assert texts(edge) == []


def test_each_side_shows_only_its_scopes_old_left_new_right(sample_svg):
    groups = svg_groups(sample_svg)
    assert "old:Output1" in groups and "new:Output1" not in groups
    assert "new:C" in groups and "old:C" not in groups
    left = max(x_of(groups[f"old:{s}"]) for s in ("A", "B", "Output1", "(root)"))
    right = min(x_of(groups[f"new:{s}"]) for s in ("A", "tower/B", "C", "(root)"))
    assert left < right


@pytest.mark.parametrize(
    ("node", "status"),
    [("new:C", "new"), ("old:Output1", "removed"), ("new:A", "partial"), ("new:(root)", "shared")],
)
def test_status_is_the_node_class_and_colour(sample_svg, node, status):
    groups = svg_groups(sample_svg)
    assert groups[node].get("class").split()[:2] == ["node", status]
    fills = {p.get("fill") for g in groups.values() if "node" in g.get("class", "") for p in g}
    assert len(fills - {None, "none", "white"}) >= 4  # shared, partial, new, removed differ


def test_node_labels_count_restored_initialized_and_unused(sample_svg):
    groups = svg_groups(sample_svg)
    assert texts(groups["new:A"]) == ["A", "2 restored", "1 initialized"]
    assert texts(groups["old:A"]) == ["A", "2 restored"]
    assert texts(groups["old:Output1"]) == ["Output1", "2 unused"]


def test_shape_resolved_scope_is_marked(sample_svg):
    groups = svg_groups(sample_svg)
    marked = [g for g in groups.values() if "shape-resolved" in (g.get("class") or "")]
    assert [g.get("id") for g in marked] == ["new:tower/B"]
    assert "1 shape from checkpoint" in texts(marked[0])
    assert len(marked[0].findall(f"{SVG}path")) >= 2  # the double border
    assert "shape taken from the checkpoint" in texts(ET.parse(sample_svg).getroot())


def test_rules_note_lists_the_rules(sample_svg):
    words = texts(ET.parse(sample_svg).getroot())
    assert "rename rules" in words
    assert "prefix: B \u2192 tower/B (inferred, 2 variables)" in words


def test_no_rules_no_note(tmp_path):
    plan = make_plan(scopes=(ScopeSummary("new", None, "C", initialized=1),))
    source = render_plan(plan, tmp_path / "diff.dot").read_text()
    assert "rename rules" not in source


def test_root_variable_marks_the_root_scope(tmp_path):
    plan = make_plan(
        variables=(restored("step", resolved=True),),
        scopes=(ScopeSummary("shared", "(root)", "(root)", restored=1),),
    )
    groups = svg_groups(render_plan(plan, tmp_path / "diff.svg"))
    assert "shape-resolved" in groups["new:(root)"].get("class")


def test_names_are_escaped_not_markup(tmp_path):
    name = 'a<b>&"c\\N'
    plan = make_plan(scopes=(ScopeSummary("removed", name, None, unused=1),))
    groups = svg_groups(render_plan(plan, tmp_path / "diff.svg"))
    assert name in texts(groups[f"old:{name}"])


def test_empty_plan_still_renders(tmp_path):
    target = render_plan(make_plan(), tmp_path / "diff.svg")
    assert "legend" in texts(ET.parse(target).getroot())


def test_big_plan_renders(tmp_path):
    scopes = [
        ScopeSummary("shared", f"net/b{i}", f"tower/net/b{i}", restored=2) for i in range(300)
    ]
    rules = (Rule("r1", "prefix", "net", "tower/net", "inferred", support=600),)
    groups = svg_groups(render_plan(make_plan(scopes=scopes, rules=rules), tmp_path / "big.svg"))
    assert sum(1 for key in groups if key.startswith("link:")) == 300


def test_resolved_variable_deep_in_a_collapsed_scope_marks_its_drawn_ancestor(tmp_path):
    plan = make_plan(
        variables=(restored("encoder/l1/b", "enc/l1/b", resolved=True),),
        scopes=(ScopeSummary("shared", "enc", "encoder", restored=1),),
    )
    groups = svg_groups(render_plan(plan, tmp_path / "diff.svg"))
    assert "shape-resolved" in groups["new:encoder"].get("class")
    assert "1 shape from checkpoint" in texts(groups["new:encoder"])


def test_one_old_scope_with_several_summaries_is_one_node(tmp_path):
    plan = make_plan(
        scopes=(
            ScopeSummary("shared", "A", "tower_0/A", restored=2),
            ScopeSummary("shared", "A", "tower_1/A", restored=2),
            ScopeSummary("removed", "A", None, unused=1),
        )
    )
    groups = svg_groups(render_plan(plan, tmp_path / "diff.svg"))
    old_nodes = [key for key in groups if key.startswith("old:")]
    assert old_nodes == ["old:A"]
    assert groups["old:A"].get("class") == "node partial"
    assert texts(groups["old:A"]) == ["A", "4 restored", "1 unused"]
    assert {"link:A->tower_0/A", "link:A->tower_1/A"} <= set(groups)


def test_title_counts_model_variables_apart_from_optimizer_state(tmp_path):
    plan = sample_plan()
    model = [e for e in plan.variables if e.role == "model"]
    restored = sum(e.action == "restore" for e in model)
    path = render_plan(plan, tmp_path / "diff.dot")
    source = path.read_text()
    assert f"model variables: {restored} restored, {len(model) - restored} initialized" in source
    assert f"{len(plan.unused)} checkpoint keys unused" in source
