"""`graphdiff show` (text and markdown) and the render command line, as a user runs them."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
from plan_factory import initialized, make_plan, restored, sample_plan
from test_render import texts

from graphdiff.plan import VariableEntry, to_json
from graphdiff.plan_io import read_plan, write_plan
from graphdiff.view.diffview import build_view
from graphdiff.view.render import render_plan
from graphdiff.view.show import format_markdown, format_text


def plan_counts(plan) -> tuple[int, int, int]:
    """What the count line says: every variable, optimizer state included, and unused keys."""
    kept = len(plan.restored)
    return kept, len(plan.variables) - kept, len(plan.unused)


def model_counts(plan) -> tuple[int, int]:
    """What the scope rows and boxes add up to: model variables (state is counted apart)."""
    model = [e for e in plan.variables if e.role == "model"]
    kept = sum(e.action == "restore" for e in model)
    return kept, len(model) - kept


def count_line(text: str) -> tuple[int, int, int]:
    found = re.search(
        r"Plan: (\d+) to restore, (\d+) to initialize, (\d+) checkpoint keys? unused", text
    )
    return tuple(int(n) for n in found.groups())


def table_rows(markdown: str) -> list[list[str]]:
    """The cells of the scope table's body rows."""
    lines = markdown.split("|:-:|", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]


def test_text_lists_each_scope_with_its_symbol_source_and_counts():
    lines = format_text(build_view(sample_plan())).splitlines()
    assert lines[0] == "model.ckpt.meta \u2192 new_graph.py"
    assert "scopes (new graph \u2190 checkpoint)" in lines
    rows = [line for line in lines if re.match(r"  [=~+-] ", line)]
    assert [row.split()[:2] for row in rows] == [
        ["=", "(root)"],
        ["~", "A"],
        ["+", "C"],
        ["=", "tower/B"],
        ["-", "Output1"],
    ]
    assert rows[1].endswith("  2 restored \u00b7 20 params; 1 initialized \u00b7 4 params")
    assert "\u2190 B" in rows[3] and "1 shape from the checkpoint" in rows[3]
    assert lines[-1] == "Plan: 5 to restore, 3 to initialize, 2 checkpoint keys unused."


def test_text_says_what_needs_a_look():
    """Each line says why: a decision gives the matcher's reason before the candidates (the
    keras_insert sample's new layer was flagged with no word why)."""
    choice = VariableEntry(
        name="head/w",
        dtype="float32",
        shape=(4, 2),
        action="initialize",
        reason="two heads of one shape",
        candidates=("cls/w", "box/w"),
    )
    excluded = initialized("tail/w", reason="excluded by --exclude 'tail'")
    plan = sample_plan()
    plan = make_plan(
        variables=(*plan.variables, choice, excluded), unused=plan.unused, rules=plan.rules
    )
    text = format_text(build_view(plan))
    look = text.split("needs a look\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert look == [
        "  decision  head/w: initialized (two heads of one shape); candidates cls/w, box/w",
        "  shape     tower/B/biases: shape [4] taken from 'B/biases'",
        "  rule      r1: prefix B \u2192 tower/B (inferred, 2 variables; thin evidence: check it)",
        "  policy    tail/w: excluded by --exclude 'tail'",
    ]


def test_text_groups_unused_keys_by_scope_and_reason():
    text = format_text(build_view(sample_plan()))
    assert (
        "2 unused checkpoint keys\n  Output1: 2 removed: nothing in the new graph matches" in text
    )


def test_markdown_has_a_scope_table_and_folds_the_rest():
    markdown = format_markdown(build_view(sample_plan()))
    assert markdown.startswith("### graphdiff: `model.ckpt.meta` \u2192 `new_graph.py`\n")
    assert "**Plan: 5 to restore, 3 to initialize, 2 checkpoint keys unused.**" in markdown
    assert table_rows(markdown) == [
        ["=", "`(root)`", "`(root)`", "1", "", "1", ""],
        ["~", "`A`", "`A`", "2", "1", "24", ""],
        ["+", "`C`", "", "", "2", "20", ""],
        ["=", "`tower/B`", "`B`", "2", "", "20", "1 shape from the checkpoint"],
        ["-", "", "`Output1`", "", "", "10", "2 unused"],
    ]
    assert "<details><summary>Needs a look (2)</summary>" in markdown
    assert "<details><summary>2 unused checkpoint keys</summary>" in markdown


def test_markdown_keeps_odd_names_inside_their_cells():
    plan = make_plan(variables=(restored("a|b/w"), restored("c`d/w"), initialized("e/w")))
    rows = table_rows(format_markdown(build_view(plan)))
    assert rows[0][1] == "`a\\|b`"
    assert rows[1][1] == "`` c`d ``"
    assert all(len(row) == 7 for row in rows)


def test_show_text_markdown_and_picture_give_the_plans_counts(resnet_plans, tmp_path):
    plan = read_plan(resnet_plans.path("deeper"))
    expected = plan_counts(plan)
    view = build_view(plan)
    assert count_line(format_text(view)) == expected
    markdown = format_markdown(view)
    assert count_line(markdown) == expected
    rows = table_rows(markdown)
    model = model_counts(plan)
    assert sum(int(r[3] or 0) for r in rows) == model[0]
    assert sum(int(r[4] or 0) for r in rows) == model[1]
    svg = render_plan(plan, tmp_path / "diff.svg", flow=False)
    assert drawn_counts(svg, "new") == model


def drawn_counts(svg, side: str) -> tuple[int, int]:
    """Restored and initialized variables, summed over the labels of one side's boxes."""
    drawn = {"restored": 0, "initialized": 0}
    for g in ET.parse(svg).getroot().iter("{http://www.w3.org/2000/svg}g"):
        if (g.get("id") or "").startswith(f"{side}:"):
            for word in texts(g):
                found = re.match(  # "N restored on thin evidence" is a part, not more
                    r"(?:\d+ alike scopes \u00b7 )?(\d+) (restored|initialized) (?!on thin)", word
                )
                if found:
                    drawn[found.group(2)] += int(found.group(1))
    return drawn["restored"], drawn["initialized"]


# --- the command line -------------------------------------------------------------------------


@pytest.fixture
def sample_file(tmp_path):
    path = tmp_path / "plan.json"
    write_plan(sample_plan(), path)
    return path


def test_show_prints_text_to_stdout(run_cli, sample_file):
    result = run_cli("show", sample_file)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout == format_text(build_view(sample_plan()))


def test_show_markdown(run_cli, sample_file):
    result = run_cli("show", sample_file, "--format", "markdown", "--depth", "1")
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout == format_markdown(build_view(sample_plan(), depth=1))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--depth", "0"), "graphdiff: argument --depth: '0' is not a whole number of 1 or more"),
        (("--depth", "-3"), "graphdiff: argument --depth: '-3' is not a whole number of 1 or more"),
        (("--focus", "nowhere"), "graphdiff: --focus: 'nowhere' names no scope of the plan"),
        (("--format", "html"), "graphdiff: argument --format: invalid choice: 'html'"),
    ],
)
def test_show_refuses_bad_options_in_one_line(run_cli, sample_file, args, message):
    result = run_cli("show", sample_file, *args)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(message)


def test_show_refuses_what_is_not_a_plan(run_cli, tmp_path):
    bad = tmp_path / "plan.json"
    bad.write_text("{not json")
    result = run_cli("show", bad)
    assert result.returncode == 2
    assert result.stderr.startswith(f"graphdiff: {bad}: not a plan: invalid JSON at line 1: ")
    assert result.stderr.count("\n") == 1


def test_show_of_a_plan_with_no_variables(run_cli, tmp_path):
    path = tmp_path / "empty.json"
    write_plan(make_plan(), path)
    result = run_cli("show", path)
    assert result.returncode == 0
    assert result.stdout.endswith(
        "Plan: 0 to restore, 0 to initialize, 0 checkpoint keys unused.\n"
    )


def test_render_says_in_one_line_that_the_graph_files_are_gone(run_cli, sample_file, tmp_path):
    result = run_cli("render", sample_file, "-o", tmp_path / "diff.svg")
    assert result.returncode == 0
    assert result.stdout == f"{tmp_path / 'diff.svg'}\n"
    assert result.stderr == (  # the plan's relative paths are taken from where it lies
        f"graphdiff: no data-flow edges: {tmp_path}/old/model.ckpt.meta: no such file (moved or "
        f"deleted since the plan was made); {tmp_path}/new_graph.py: no such file (moved or "
        "deleted since the plan was made)\n"
    )


def test_render_without_dot_writes_the_source_and_says_how_to_install(
    run_cli, sample_file, tmp_path
):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    result = run_cli("render", sample_file, "-o", tmp_path / "diff.png", "--no-flow", path=bin_dir)
    assert result.returncode == 0
    assert result.stdout == f"{tmp_path / 'diff.dot'}\n"
    assert result.stderr.count("\n") == 1
    assert "the `dot` program is not installed" in result.stderr
    assert "apt-get install graphviz" in result.stderr
    assert (tmp_path / "diff.dot").read_text().startswith("digraph")
    assert not (tmp_path / "diff.png").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("-o", "/proc/graphdiff-test/diff.svg"),
            "the directory /proc/graphdiff-test does not exist",
        ),
        (("-o", "NAME" + "x" * 300 + ".svg"), "cannot be written: File name too long"),
        (("-o", "/sys/graphdiff-test.svg"), "cannot be written: Permission denied"),
        (("-o", "plan.json/diff.svg"), "plan.json is a file, not a directory"),
        (("-o", "diff.svg", "--depth", "0"), "argument --depth: '0' is not a whole number"),
        (("-o", "diff.svg", "--focus", "nowhere"), "--focus: 'nowhere' names no scope of the plan"),
        (("-o", "diff.gif"), "cannot render to '.gif': use .svg, .png, .pdf or .dot"),
    ],
)
def test_render_refuses_bad_output_and_options_in_one_line(
    run_cli, sample_file, tmp_path, args, message
):
    result = run_cli("render", sample_file, *args, "--no-flow", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]


def test_render_of_a_plan_with_no_variables(run_cli, tmp_path):
    path = tmp_path / "empty.json"
    write_plan(make_plan(), path)
    result = run_cli("render", path, "-o", tmp_path / "diff.svg", "--no-flow")
    assert result.returncode == 0 and result.stderr == ""
    assert "nothing" in texts(ET.parse(tmp_path / "diff.svg").getroot())


def test_render_of_a_hand_edited_plan_that_lists_a_used_key_as_unused(run_cli, tmp_path):
    document = to_json(sample_plan())
    document["unused"].append(document["unused"][0] | {"key": "A/weights"})
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document))
    result = run_cli("show", path)
    assert result.returncode == 0
    assert count_line(result.stdout) == (5, 3, 3)
    a_row = next(line for line in result.stdout.splitlines() if line.startswith("  ~ A "))
    assert "unused" not in a_row


def test_focus_lists_a_leaf_scopes_variables_as_the_picture_does():
    """`show --focus` is 'as for render': a scope without child scopes lists its variables with
    shape, action, source and method (the picture's box even says 'graphdiff show lists them')."""
    text = format_text(build_view(sample_plan(), focus="tower/B"))
    rows = text.split("scopes (", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    assert rows[1:] == [
        "      weights  [4,4]          \u2190 B/weights (inferred rule)",
        "      biases   [4] from ckpt  \u2190 B/biases (inferred rule)",
    ]
    ascii_text = format_text(build_view(sample_plan(), focus="tower/B"), ascii_only=True)
    assert "      weights  [4,4]          <- B/weights (inferred rule)" in ascii_text
