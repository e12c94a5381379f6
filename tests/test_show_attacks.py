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

from graphdiff.plan_io import write_plan
from graphdiff.view.diffview import build_view
from graphdiff.view.scopetree import natural_key
from graphdiff.view.show import format_text


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
    document["format_version"] = 2
    document["provenance"]["tool_version"] = "9.0.0"
    document["a_field_of_format_2"] = {}
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
