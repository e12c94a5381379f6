"""The command line as a user meets it: a real subprocess, real files, real TensorFlow.

Bad input exits 2 with exactly one line on standard error that names the file and the fault
(no traceback, no TensorFlow chatter) and writes nothing; --help never imports TensorFlow.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, SEED_NEW_GRAPH, cli_env, run_python

# What TensorFlow's C++ runtime and absl print when nobody quiets them.
CHATTER = re.compile(r"^[IWEF]\d{4} |oneDNN|tensorflow/|cuda|WARNING|Traceback", re.IGNORECASE)


def files_under(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*")}


def assert_one_line_error(result, *words: str) -> str:
    """Exit 2, nothing on stdout, one 'graphdiff: ...' line on stderr containing `words`."""
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    line = lines[0]
    assert line.startswith("graphdiff: ") and not CHATTER.search(line), line
    for word in words:
        assert word in line, f"{word!r} not in {line!r}"
    assert result.stdout == ""
    return line


# --- bad input: plan ---------------------------------------------------------------------------


def plan_into(run_cli, work: Path, old_meta, new_graph=SEED_NEW_GRAPH, *extra):
    """`graphdiff plan` writing to work/plan.json, for a checkpoint at work/new/model.ckpt."""
    before = files_under(work)
    result = run_cli(
        "plan",
        old_meta,
        new_graph,
        "-o",
        work / "plan.json",
        "--output-prefix",
        work / "new" / "model.ckpt",
        *extra,
    )
    return result, before


def assert_plan_wrote_nothing(work: Path, before: set[str]) -> None:
    assert not (work / "plan.json").exists()
    assert not (work / "new").exists()
    assert files_under(work) == before


def test_plan_of_a_missing_meta_names_it(run_cli, tmp_path):
    result, before = plan_into(run_cli, tmp_path, tmp_path / "missing.meta")
    assert_one_line_error(result, "missing.meta", "no such file")
    assert_plan_wrote_nothing(tmp_path, before)


def test_plan_of_a_file_that_is_not_a_meta_graph(run_cli, tmp_path):
    meta = tmp_path / "notes.meta"
    meta.write_text("these are my notes, not a MetaGraphDef\n")
    result, before = plan_into(run_cli, tmp_path, meta)
    assert_one_line_error(result, str(meta), "meta graph")
    assert_plan_wrote_nothing(tmp_path, before)


def test_plan_of_a_truncated_meta(run_cli, tmp_path, seed_checkpoint):
    whole = Path(f"{seed_checkpoint}.meta").read_bytes()
    meta = tmp_path / "half.meta"
    meta.write_bytes(whole[: len(whole) // 2])
    result, before = plan_into(run_cli, tmp_path, meta)
    assert_one_line_error(result, str(meta), "meta graph")
    assert_plan_wrote_nothing(tmp_path, before)


def test_plan_with_a_new_graph_that_raises_names_the_file_and_line(
    run_cli, tmp_path, seed_checkpoint
):
    new_graph = tmp_path / "broken_graph.py"
    new_graph.write_text(
        "import tensorflow as tf\n"
        "\n"
        "def build_graph():\n"
        '    tf.compat.v1.get_variable("w", [2])\n'
        '    raise ValueError("broken on purpose")\n'
    )
    result, before = plan_into(run_cli, tmp_path, f"{seed_checkpoint}.meta", new_graph)
    assert_one_line_error(result, "broken_graph.py", "line 5", "ValueError", "broken on purpose")
    assert_plan_wrote_nothing(tmp_path, before)


def test_map_that_matches_nothing_is_an_error_naming_the_rule(run_cli, tmp_path, seed_checkpoint):
    meta = f"{seed_checkpoint}.meta"
    result, before = plan_into(run_cli, tmp_path, meta, SEED_NEW_GRAPH, "--map", "AA=A")
    assert_one_line_error(result, "--map", "AA=A")
    assert_plan_wrote_nothing(tmp_path, before)


def test_exclude_that_matches_nothing_is_an_error(run_cli, tmp_path, seed_checkpoint):
    meta = f"{seed_checkpoint}.meta"
    result, before = plan_into(run_cli, tmp_path, meta, SEED_NEW_GRAPH, "--exclude", "^Z/")
    assert_one_line_error(result, "--exclude", "^Z/")
    assert_plan_wrote_nothing(tmp_path, before)


# --- bad input: render and apply ---------------------------------------------------------------


@pytest.fixture
def broken_plan(tmp_path, seed_plan_document) -> Path:
    """The seed plan with an action the schema does not know."""
    seed_plan_document["variables"][0]["action"] = "teleport"
    path = tmp_path / "broken_plan.json"
    path.write_text(json.dumps(seed_plan_document))
    return path


def test_render_refuses_a_plan_that_fails_the_schema(run_cli, tmp_path, broken_plan):
    before = files_under(tmp_path)
    result = run_cli("render", broken_plan, "-o", tmp_path / "diff.svg")
    assert_one_line_error(result, str(broken_plan), "not a valid graphdiff plan", "teleport")
    assert files_under(tmp_path) == before


def test_apply_refuses_a_plan_that_fails_the_schema(run_cli, tmp_path, broken_plan):
    before = files_under(tmp_path)
    result = run_cli("apply", broken_plan, "--output", tmp_path / "new" / "model.ckpt")
    assert_one_line_error(result, str(broken_plan), "not a valid graphdiff plan", "teleport")
    assert files_under(tmp_path) == before


def test_apply_refuses_a_source_key_missing_from_the_checkpoint(
    run_cli, tmp_path, seed_plan_document
):
    entry = next(e for e in seed_plan_document["variables"] if e["name"] == "A/w")
    assert entry["action"] == "restore"
    entry["source"] = "A/no_such_key"
    plan = tmp_path / "edited_plan.json"
    plan.write_text(json.dumps(seed_plan_document))
    before = files_under(tmp_path)
    result = run_cli("apply", plan, "--output", tmp_path / "new" / "model.ckpt")
    assert_one_line_error(result, str(plan), "A/no_such_key")
    assert not (tmp_path / "new").exists()
    assert files_under(tmp_path) == before


# --- help, happy path, policy ------------------------------------------------------------------

HELP_WITHOUT_TENSORFLOW = """
import sys
from graphdiff.cli import main
for argv in (["--help"], ["plan", "--help"], ["render", "--help"], ["apply", "--help"]):
    try:
        main(argv)
    except SystemExit as done:
        assert done.code == 0, (argv, done.code)
print("tensorflow imported:", "tensorflow" in sys.modules)
"""


def test_help_works_and_does_not_import_tensorflow():
    result = run_python("-c", HELP_WITHOUT_TENSORFLOW)
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith("tensorflow imported: False")
    for flag in (
        "--map",
        "--exclude",
        "--require",
        "--reset-optimizer",
        "--names-only",
        "--checkpoint",
        "--output-prefix",
        "--force",
    ):
        assert flag in result.stdout
    assert result.stderr == ""


def test_console_script_help():
    script = shutil.which("graphdiff")
    if script is None:
        pytest.skip("the graphdiff console script is not installed (pip install -e .)")
    result = subprocess.run(
        [script, "--help"], env=cli_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "plan" in result.stdout and "render" in result.stdout and "apply" in result.stdout


def test_plan_writes_a_valid_plan_to_stdout_and_a_summary_to_stderr(seed_plan_run, plan_validator):
    result, _ = seed_plan_run
    document = json.loads(result.stdout)
    assert list(plan_validator.iter_errors(document)) == []
    lines = result.stderr.splitlines()
    restored = sum(v["action"] == "restore" for v in document["variables"])
    assert lines[0].startswith(f"{restored} of {len(document['variables'])} variables restored")
    assert 1 < len(lines) <= 20, result.stderr
    assert not any(CHATTER.search(line) for line in lines), result.stderr


def test_require_failing_exits_3_lists_offenders_and_still_writes_the_plan(
    run_cli, tmp_path, seed_checkpoint, plan_validator
):
    meta = f"{seed_checkpoint}.meta"
    result, _ = plan_into(run_cli, tmp_path, meta, SEED_NEW_GRAPH, "--require", "^C/")
    assert result.returncode == 3, result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("graphdiff: --require failed"), result.stderr
    assert "C/w" in last and "C/b" in last and "A/" not in last
    document = json.loads((tmp_path / "plan.json").read_text())
    assert list(plan_validator.iter_errors(document)) == []
    assert not any(CHATTER.search(line) for line in result.stderr.splitlines()), result.stderr


def test_ci_runs_the_readme_test_command_verbatim():
    readme = (REPO / "README.md").read_text()
    command = re.search(r"^bash scripts/setup\.sh --test && .*$", readme, re.MULTILINE)
    assert command is not None, "README.md lost its test command"
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    assert any(line.startswith(command.group(0)) for line in ci_lines), ".ci/run and README differ"


def test_the_library_api_is_importable_from_the_package_without_tensorflow():
    result = run_python(
        "-c",
        "import sys, graphdiff; from graphdiff import make_plan, apply_plan, render_plan, "
        "restore_into_session, read_plan, write_plan, Options, Plan; "
        "print('tensorflow' in sys.modules)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
