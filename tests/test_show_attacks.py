"""`graphdiff show`, `render` and the plan summary attacked as a hostile user would: closed
pipes, full disks, ASCII terminals, unreadable and hand-edited plans, names that nest deep.

Plans are built by hand (plan_factory), so no TensorFlow is needed; the CLI runs in a real
subprocess where the fault lives in the process's own streams, else in this process.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest
from conftest import cli_env, run_in_process
from plan_factory import initialized, make_plan, restored, sample_plan, unused_key

from graphdiff.plan import UnusedKey, VariableEntry
from graphdiff.plan_io import write_plan
from graphdiff.view.diffview import build_view
from graphdiff.view.scopetree import natural_key
from graphdiff.view.show import format_markdown, format_text
from graphdiff.view.summary import format_summary


def graphdiff(*args, stdout=subprocess.PIPE, env=None) -> subprocess.Popen:
    """`python -m graphdiff ARGS` started, its standard output where the test says."""
    return subprocess.Popen(
        [sys.executable, "-m", "graphdiff", *map(str, args)],
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        env={**cli_env(), **(env or {})},
    )


def one_line_error(result, *words: str) -> str:
    """Exit 2 with one 'graphdiff: ...' line on standard error holding `words`."""
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("graphdiff: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def plan_file(tmp_path):
    path = tmp_path / "plan.json"
    write_plan(sample_plan(), path)
    return path


def written(tmp_path, plan, name="plan.json"):
    path = tmp_path / name
    write_plan(plan, path)
    return path


# --- standard output: closed, full, ASCII ------------------------------------------------------


def test_show_into_a_closed_pipe_exits_141_quietly(plan_file):
    process = graphdiff("show", plan_file)
    process.stdout.close()  # the reader left before a byte was written, like `| head -0`
    _, err = process.communicate(timeout=60)
    assert process.returncode == 141
    assert err == b""


def test_show_onto_a_full_disk_is_one_line_exit_2(plan_file):
    with open("/dev/full", "w") as full:
        process = graphdiff("show", plan_file, stdout=full)
        _, err = process.communicate(timeout=60)
    result = subprocess.CompletedProcess([], process.returncode, "", err.decode())
    one_line_error(result, "standard output", "No space left on device")


def test_show_on_an_ascii_terminal_prints_ascii_marks_and_escapes_names(tmp_path):
    plan = make_plan(
        [restored("\u00e9t\u00e9/w", "\u00e9t\u00e9/w"), initialized("new/b")],
        unused=[unused_key("gone/w")],
    )
    for fmt in ("text", "markdown"):
        process = graphdiff(
            "show", written(tmp_path, plan), "--format", fmt, env={"PYTHONIOENCODING": "ascii"}
        )
        out, err = process.communicate(timeout=60)
        assert (process.returncode, err) == (0, b"")
        text = out.decode("ascii")
        assert re.search(r"model.ckpt.meta`? -> `?new_graph.py", text)
        assert "\\xe9t\\xe9" in text  # the name escaped, not dropped


def test_ascii_text_keeps_its_columns_aligned():
    from graphdiff.view.show import format_plan

    lines = format_plan(build_view(sample_plan()), "text", ascii_only=True).splitlines()
    rows = [line for line in lines if re.match(r"  [=~+-] ", line)]
    starts = {line.index("restored") if "= " in line[:4] else None for line in rows} - {None}
    assert len(starts) == 1, rows
    assert all(ord(c) < 128 for c in "\n".join(lines))


# --- plan files that cannot be read -------------------------------------------------------------


def test_deeply_nested_json_is_one_line_exit_2(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    one_line_error(run_in_process("show", path), "deep.json", "nests too deeply")


def test_a_plan_that_is_a_directory_is_one_line_exit_2(tmp_path):
    (tmp_path / "plan.json").mkdir()
    one_line_error(run_in_process("show", tmp_path / "plan.json"), "plan.json", "not a file")


def test_a_plan_that_fails_with_an_io_error_is_one_line_exit_2():
    # /proc/self/mem is a regular file whose first page cannot be read: a real EIO.
    result = run_in_process("show", "/proc/self/mem")
    one_line_error(result, "/proc/self/mem", "cannot be read", "Input/output error")


def test_a_plan_that_may_not_be_read_is_one_line_exit_2(tmp_path, plan_file, monkeypatch):
    plan_file.chmod(0o000)
    if os.geteuid() == 0:  # root reads any file: the refusal can only be simulated
        from pathlib import Path

        def refuse(self):
            raise PermissionError(13, "Permission denied", str(self))

        monkeypatch.setattr(Path, "read_bytes", refuse)
    one_line_error(run_in_process("show", plan_file), "plan.json", "Permission denied")


def test_a_plan_of_a_newer_format_asks_for_an_upgrade(tmp_path, plan_file):
    document = json.loads(plan_file.read_text())
    document["format_version"] = 3
    document["provenance"]["tool_version"] = "9.0.0"
    document["a_field_of_format_3"] = {}
    path = tmp_path / "new.json"
    path.write_text(json.dumps(document))
    line = one_line_error(run_in_process("show", path), "new.json", "graphdiff 9.0.0", "upgrade")
    assert "schema" not in line and "not a valid" not in line


def test_a_plan_with_a_byte_order_mark_is_read(tmp_path, plan_file):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + plan_file.read_bytes())
    result = run_in_process("show", path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == run_in_process("show", plan_file).stdout


def test_a_utf16_plan_says_to_save_it_as_utf8(tmp_path, plan_file):
    path = tmp_path / "u16.json"
    path.write_bytes(plan_file.read_text().encode("utf-16"))
    one_line_error(run_in_process("show", path), "u16.json", "UTF-16", "UTF-8")


def test_a_huge_number_and_a_huge_value_give_short_lines(tmp_path, plan_file):
    path = tmp_path / "long.json"
    path.write_text('{"format_version": 1, "x": ' + "9" * 5000 + "}")
    one_line_error(run_in_process("show", path), "long.json", "number too long")
    document = json.loads(plan_file.read_text())
    document["variables"][0]["name"] = list(range(100_000))
    path.write_text(json.dumps(document))
    assert len(one_line_error(run_in_process("show", path), "long.json")) < 400


# --- names and depths ---------------------------------------------------------------------------


def test_natural_sort_takes_superscript_digits_as_text():
    assert sorted(["b10", "b\u00b2", "b2", "\u00b2", "b\u0663"], key=natural_key) == [
        "b2",
        "b\u0663",  # ARABIC-INDIC DIGIT THREE: a decimal digit, read as 3
        "b10",
        "b\u00b2",
        "\u00b2",
    ]
    plan = make_plan([initialized("\u00b2/w"), restored("3/w"), initialized("1/w")])
    assert "\u00b2" in format_text(build_view(plan, focus="\u00b2"))


def test_scopes_nested_thousands_deep_show_and_focus():
    deep = "/".join(f"s{i}" for i in range(3000))
    plan = make_plan([initialized(deep + "/w"), restored("x/w"), initialized(deep[:5000] + "/v")])
    started = time.monotonic()
    for view in (build_view(plan), build_view(plan, depth=10**9), build_view(plan, focus="s2999")):
        last = format_text(view).splitlines()[-1]
        assert last == "Plan: 1 to restore, 2 to initialize, 0 checkpoint keys unused."
    assert time.monotonic() - started < 5


def test_a_depth_of_a_billion_is_clamped(tmp_path):
    variables = [
        (initialized if n % 2 else restored)(f"a/s{n}/w", shape=(n + 1,)) for n in range(400)
    ]
    path = written(tmp_path, make_plan(variables))
    started = time.monotonic()
    result = run_in_process("show", path, "--depth", 10**9)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 5
    assert "400 boxes at depth 1000000000" in result.stdout


# --- what the words and counts say ----------------------------------------------------------


def decision_plan():
    """head/w left for a decision between two keys under old/ (as the planner writes it)."""
    choice = VariableEntry(
        name="head/w",
        dtype="float32",
        shape=(4, 2),
        action="initialize",
        reason="two heads of one shape",
        candidates=("old/cls/w", "old/box/w"),
    )
    reason = "not restored into 'head/w': two heads of one shape"
    unused = [UnusedKey(k, "float32", (4, 2), reason) for k in ("old/cls/w", "old/box/w")]
    return make_plan([choice, restored("x/w")], unused=unused)


def test_decision_counts_say_candidates_on_the_checkpoint_side():
    view = build_view(decision_plan())
    text, markdown = format_text(view), format_markdown(view)
    assert "old   (checkpoint)  2 unused \u00b7 16 params; 2 candidates for a decision" in text
    assert (
        "head                1 initialized \u00b7 8 params; 1 variable left for a decision" in text
    )
    assert "2 left for a decision" not in text + markdown
    assert "**1 variable left for a decision.**" in markdown
    assert "| 2 unused; **2 candidates for a decision** |" in markdown
    summary = format_summary(decision_plan())
    assert "1 variable left for a decision" in summary
    assert "candidates: old/cls/w, old/box/w" in summary


def test_a_fold_of_scopes_with_different_chains_names_both_ends():
    variables = [initialized(f"net/s{n}/{c}/w") for n, c in enumerate("xyzwv")]
    plan = make_plan([*variables, restored("net/a/w"), restored("b/w")])
    rows = [line.split()[1] for line in format_text(build_view(plan)).splitlines() if "+ " in line]
    assert rows == ["net/s0/x"]  # the label goes on: "net/s0/x … s4/v"
    assert "net/s0/x \u2026 s4/v" in format_text(build_view(plan))
    same = make_plan([*(initialized(f"net/s{n}/x/w") for n in range(5)), restored("net/a/w")])
    assert "{s0 \u2026 s4}/x" in format_text(build_view(same))


def test_a_contradictory_hand_edited_plan_names_each_contradiction():
    plan = make_plan(
        [restored("a/w"), restored("a/w"), *decision_plan().variables[:1]],
        unused=[unused_key("a/w"), unused_key("c/w"), unused_key("c/w"), unused_key("old/cls/w")],
    )
    view = build_view(plan)
    notes = [line for line in format_text(view).splitlines() if line.startswith("hand-edited")]
    assert notes == [
        "hand-edited plan? 1 variable listed more than once: a/w",
        "hand-edited plan? 1 unused key listed more than once: c/w",
        "hand-edited plan? 1 checkpoint key both restored from and listed unused: a/w",
        "hand-edited plan? 1 candidate not among the plan's checkpoint keys: old/box/w",
    ]
    assert "- hand-edited plan? 1 variable listed more than once: a/w" in format_markdown(view)


def test_markdown_escapes_backticks_pipes_and_line_breaks_in_names():
    names = ("a``b/w", "p|q/w", "l\nm/w")
    plan = make_plan([restored(name, shape=(n + 1,)) for n, name in enumerate(names)])
    markdown = format_markdown(build_view(plan, depth=1))
    rows = [line for line in markdown.splitlines() if line.startswith("| = |")]
    assert [row.split(" | ")[1] for row in rows] == ["``` a``b ```", "`l\\nm`", "`p\\|q`"]
    assert all(len(re.findall(r"(?<!\\)\|", row)) == 8 for row in rows)  # seven cells a row


def test_summary_counts_singular_and_plural():
    from graphdiff.plan import Rule

    rule = Rule("r1", "prefix", "a", "b", "inferred", support=1)
    one = format_summary(
        make_plan([restored("b/w", "a/w")], unused=[unused_key("c")], rules=[rule])
    )
    assert one.splitlines()[0] == "1 of 1 variable restored, 0 initialized; 1 checkpoint key unused"
    assert "rule (inferred, 1 variable)" in one
    two = format_summary(sample_plan()).splitlines()[0]
    assert two == "5 of 8 variables restored, 3 initialized; 2 checkpoint keys unused"


# --- focus and output files -----------------------------------------------------------------


def test_focus_on_a_decision_opens_its_candidates_on_the_checkpoint_side():
    text = format_text(build_view(decision_plan(), focus="head"))
    assert "focus: checkpoint old, new graph head" in text
    assert "(nothing)" not in text


def test_focus_on_a_new_scope_says_why_the_checkpoint_side_is_empty():
    text = format_text(build_view(sample_plan(), focus="C"))
    assert "focus: new graph C (no checkpoint key is restored into it or a candidate)" in text
    assert "(nothing)" not in text


def test_focus_on_a_scope_that_does_not_exist_is_one_line_exit_2(plan_file):
    one_line_error(run_in_process("show", plan_file, "--focus", "nope"), "'nope'", "A, B, C")


def test_render_refuses_to_write_over_its_own_plan(tmp_path, plan_file):
    plan = tmp_path / "plan.dot"
    plan.write_bytes(plan_file.read_bytes())
    before = plan.read_bytes()
    (tmp_path / "link.dot").symlink_to(plan)
    for target in (plan, tmp_path / "link.dot"):
        result = run_in_process("render", plan, "-o", target, "--no-flow")
        one_line_error(result, "is the plan being rendered", "would destroy it")
    assert plan.read_bytes() == before


def test_render_into_a_missing_directory_is_one_line_exit_2(tmp_path, plan_file):
    result = run_in_process("render", plan_file, "-o", tmp_path / "nope" / "x.svg")
    one_line_error(result, "nope", "does not exist")
    assert not (tmp_path / "nope").exists()


def test_plan_refuses_to_write_over_its_new_graph(tmp_path):
    new_graph = tmp_path / "new_graph.py"
    new_graph.write_text("def build_graph():\n    pass\n")
    linked = tmp_path / "hard_link.json"
    linked.hardlink_to(new_graph)  # the same file under another name, no symbolic link
    for target in (new_graph, linked):
        result = run_in_process("plan", tmp_path / "old.meta", new_graph, "-o", target)
        one_line_error(result, target.name, "is the new graph's file")
    assert new_graph.read_text() == "def build_graph():\n    pass\n"
