"""graphdiff's pipeline features attacked as a hostile (or careless) user would: relative and
linked paths, outputs over inputs, directories and pipes as targets, file modes, a bad
SOURCE_DATE_EPOCH, broken rules files, a new graph that writes to file descriptors 1 and 2,
unknown URL schemes, and apply flags pointing at the wrong files.

Every command runs in this process (tests/conftest.py run_in_process) on tiny real graphs.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest
from graphs import save_checkpoint, write_new_graph
from test_pipelines import SAMPLE_NEW, graphdiff, old_model, one_line_error, project

from graphdiff.errors import BadInput
from graphdiff.plan_io import read_plan


@pytest.fixture
def planned(tmp_path):
    """A project with a plan at plans/plan.json: (root, checkpoint prefix, new graph, plan)."""
    ckpt, new_graph = project(tmp_path)
    plan = tmp_path / "plans" / "plan.json"
    made = graphdiff("plan", f"{ckpt}.meta", new_graph, "-o", plan)
    assert made.returncode == 0, made.stderr
    return tmp_path, ckpt, new_graph, plan


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- 1. a relative --output-prefix -------------------------------------------------------------


def test_a_relative_output_prefix_is_taken_from_the_current_directory(tmp_path):
    ckpt, new_graph = project(tmp_path)
    made = graphdiff(
        "plan",
        f"{ckpt}.meta",
        new_graph,
        "-o",
        "plans/plan.json",
        "--output-prefix",
        "out/model.ckpt",
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    plan = read_plan(tmp_path / "plans" / "plan.json")
    assert plan.output_prefix == str(tmp_path / "out" / "model.ckpt")  # not plans/out/...


# --- 2. plans reached through a symbolic link --------------------------------------------------


def test_a_plan_written_through_a_linked_directory_reads_back_by_either_path(tmp_path):
    ckpt, new_graph = project(tmp_path / "real")
    (tmp_path / "link").symlink_to(tmp_path / "real" / "plans")
    made = graphdiff("plan", f"{ckpt}.meta", new_graph, "-o", tmp_path / "link" / "plan.json")
    assert made.returncode == 0, made.stderr
    for path in (tmp_path / "link" / "plan.json", tmp_path / "real" / "plans" / "plan.json"):
        plan = read_plan(path)
        assert plan.provenance.checkpoint_prefix == str(ckpt)
        assert plan.provenance.new_graph.path == str(new_graph)
    applied = graphdiff("apply", tmp_path / "link" / "plan.json", "--quiet")
    assert applied.returncode == 0, applied.stderr


# --- 3. outputs over inputs --------------------------------------------------------------------


@pytest.mark.parametrize(
    "target, role",
    [
        ("new_graph.py", "is the new graph's file"),
        ("old/model.ckpt.meta", "is the old graph's file"),
        ("old/model.ckpt.index", "is the old checkpoint's index"),
        ("old/model.ckpt.data-00000-of-00001", "checkpoint the plan restores from"),
        ("new/model.ckpt.index", "checkpoint apply writes"),
    ],
)
def test_plan_output_over_a_file_of_the_plan_is_refused_and_nothing_changes(tmp_path, target, role):
    ckpt, new_graph = project(tmp_path)
    (tmp_path / "new").mkdir()
    before = snapshot(tmp_path)
    result = graphdiff(
        "plan",
        f"{ckpt}.meta",
        new_graph,
        "-o",
        tmp_path / target,
        "--output-prefix",
        tmp_path / "new" / "model.ckpt",
    )
    one_line_error(result, target, role)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    "target, role",
    [
        ("plans/plan.json", "is the plan being applied"),
        ("old/model.ckpt.index", "is the old checkpoint's index"),
        ("out/model.ckpt.index", "checkpoint apply writes"),
        ("out/checkpoint", "checkpoint apply writes"),
    ],
)
def test_apply_report_over_a_file_of_the_plan_is_refused_and_nothing_is_written(
    planned, target, role
):
    root, _, _, plan = planned
    (root / "out").mkdir()
    before = snapshot(root)
    result = graphdiff(
        "apply", plan, "--output", root / "out" / "model.ckpt", "--report", root / target
    )
    one_line_error(result, target, role)
    assert snapshot(root) == before


def test_apply_refuses_an_output_whose_meta_is_the_old_graph_even_with_force(tmp_path):
    ckpt, new_graph = project(tmp_path)
    os.rename(f"{ckpt}.meta", tmp_path / "old" / "graph.meta")
    plan = tmp_path / "plans" / "plan.json"
    made = graphdiff(
        "plan", tmp_path / "old" / "graph.meta", new_graph, "--checkpoint", ckpt, "-o", plan
    )
    assert made.returncode == 0, made.stderr
    before = snapshot(tmp_path)
    one_line_error(
        graphdiff("apply", plan, "--output", tmp_path / "old" / "graph", "--force"),
        "graph.meta would replace the old graph's file",
    )
    assert snapshot(tmp_path) == before


def test_apply_refuses_the_source_prefix_reached_through_a_link(planned):
    root, ckpt, _, plan = planned
    (root / "alias").symlink_to(root / "old")
    before = snapshot(root / "old")
    one_line_error(
        graphdiff("apply", plan, "--output", root / "alias" / "model.ckpt", "--force"),
        "is the checkpoint the plan restores from",
    )
    assert snapshot(root / "old") == before


# --- 4. directories, devices and pipes as targets ------------------------------------------------


def test_a_directory_as_plan_output_or_report_is_one_line(planned):
    root, ckpt, new_graph, plan = planned
    one_line_error(
        graphdiff("plan", f"{ckpt}.meta", new_graph, "-o", root / "plans"),
        "plans: is a directory",
    )
    one_line_error(
        graphdiff("apply", plan, "--output", root / "o" / "m.ckpt", "--report", root / "old"),
        "old: is a directory",
    )
    assert not (root / "o").exists()


def test_a_pipe_as_plan_output_receives_the_plan_and_stays_a_pipe(tmp_path):
    """A pipe (like /dev/stdout or /dev/null) is written into, never replaced by a file."""
    ckpt, new_graph = project(tmp_path)
    fifo = tmp_path / "plan.fifo"
    os.mkfifo(fifo)
    received = []
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader first: the writer won't block

    def drain():
        os.set_blocking(reader, True)
        with os.fdopen(reader, "rb") as stream:
            received.append(stream.read())

    made = graphdiff("plan", f"{ckpt}.meta", new_graph, "-o", fifo)
    thread = threading.Thread(target=drain)
    thread.start()
    thread.join(timeout=10)
    assert made.returncode == 0, made.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert json.loads(received[0])["format_version"] == 1


# --- 5. modes of written files -----------------------------------------------------------------


def test_plan_and_report_get_the_modes_shell_redirection_gives(planned):
    root, ckpt, new_graph, _ = planned
    mask = os.umask(0o027)
    try:
        fresh = root / "plans" / "fresh.json"
        assert graphdiff("plan", f"{ckpt}.meta", new_graph, "-o", fresh).returncode == 0
        report = root / "report.json"
        applied = graphdiff("apply", fresh, "--report", report, "--quiet")
        assert applied.returncode == 0, applied.stderr
    finally:
        os.umask(mask)
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o640  # 0666 less the umask
    assert stat.S_IMODE(os.stat(report).st_mode) == 0o640
    os.chmod(fresh, 0o604)  # an existing file keeps its mode, as with `>`
    assert graphdiff("plan", f"{ckpt}.meta", new_graph, "-o", fresh).returncode == 0
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o604


# --- 6. SOURCE_DATE_EPOCH ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["yesterday", "-5", "1.5", "99999999999999999999", "٣"])
def test_plan_refuses_a_malformed_source_date_epoch_naming_it(tmp_path, monkeypatch, value):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)  # refused before any input is read
    plan = tmp_path / "plan.json"
    one_line_error(
        graphdiff("plan", tmp_path / "old.meta", tmp_path / "new_graph.py", "-o", plan),
        f"SOURCE_DATE_EPOCH: '{value}' is not a time in seconds",
    )
    assert not plan.exists()


def test_apply_ignores_a_malformed_source_date_epoch_and_empty_means_unset(planned, monkeypatch):
    root, ckpt, new_graph, plan = planned
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    applied = graphdiff("apply", plan, "--quiet")
    assert applied.returncode == 0, applied.stderr
    assert "SOURCE_DATE_EPOCH" not in os.environ  # dropped before numpy could read it
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "")
    again = root / "plans" / "again.json"
    assert graphdiff("plan", f"{ckpt}.meta", new_graph, "-o", again).returncode == 0
    assert not json.loads(again.read_text())["provenance"]["created"].startswith("1970")


# --- 7. rules-file faults name the file ----------------------------------------------------------


@pytest.mark.parametrize(
    "name, text, fault",
    [
        ("graphdiff.toml", "exclude = [", "not valid TOML"),
        ("graphdiff.toml", b"\xff\xfeexclude = []", "not valid TOML: not UTF-8 text"),
        ("graphdiff.toml", 'exclude = ["("]', "exclude: '(' is not a valid regular expression"),
        ("graphdiff.toml", "map = { A = 1 }", "map: expected a table of strings"),
        ("graphdiff.toml", 'map = ["(=B"]', "map: '(' is not a valid regular expression"),
        ("graphdiff.toml", 'exclud = ["^B/"]', "unknown key 'exclud'"),
        ("pyproject.toml", "[tool.graphdiff]\nrequire = '^A/'", "require: expected a list"),
        ("pyproject.toml", "[tool]\ngraphdiff = 5", "[tool.graphdiff] must be a table"),
    ],
)
def test_a_rules_file_fault_is_one_line_naming_the_file(tmp_path, name, text, fault):
    rules = tmp_path / name  # read before the graphs: they need not exist
    rules.write_bytes(text if isinstance(text, bytes) else text.encode())
    result = graphdiff("plan", "old.meta", "new_graph.py", cwd=tmp_path)
    one_line_error(result, str(rules), fault)


def test_a_graphdiff_toml_that_is_no_file_is_named_not_passed_by(tmp_path):
    ckpt, new_graph = project(tmp_path)
    (tmp_path / "graphdiff.toml").symlink_to(tmp_path / "gone.toml")
    one_line_error(
        graphdiff("plan", f"{ckpt}.meta", new_graph, cwd=tmp_path), "graphdiff.toml: is not"
    )
    (tmp_path / "graphdiff.toml").unlink()
    (tmp_path / "graphdiff.toml").mkdir()
    one_line_error(
        graphdiff("plan", f"{ckpt}.meta", new_graph, cwd=tmp_path),
        "graphdiff.toml: is a directory",
    )


def test_a_non_table_tool_in_pyproject_is_passed_by(tmp_path):
    ckpt, new_graph = project(tmp_path)
    (tmp_path / "pyproject.toml").write_text('tool = "graphdiff"\n')
    result = graphdiff("plan", f"{ckpt}.meta", new_graph, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["options"]["rules_file"] is None


# --- 8. the new graph writing to file descriptors 1 and 2 ---------------------------------------

NOISY = (
    SAMPLE_NEW
    + """
import os
os.system("echo from-a-shell; echo shell-error >&2")
os.write(1, b"raw to fd 1\\n")
os.write(2, b"raw to fd 2\\n")
"""
)


def test_output_below_python_while_building_reaches_neither_stdout_nor_stderr(tmp_path, capfd):
    ckpt, _ = project(tmp_path)
    noisy = write_new_graph(tmp_path, NOISY, name="noisy.py")
    capfd.readouterr()
    quiet = graphdiff("plan", f"{ckpt}.meta", noisy)
    below = capfd.readouterr()
    assert quiet.returncode == 0, quiet.stderr
    json.loads(quiet.stdout)
    for text in ("from-a-shell", "shell-error", "raw to fd"):
        assert text not in below.out + below.err + quiet.stderr
    assert "4 warning(s) from building the new graph not shown" in quiet.stderr
    loud = graphdiff("plan", f"{ckpt}.meta", noisy, "--verbose")
    for text in ("from-a-shell", "shell-error", "raw to fd 1", "raw to fd 2"):
        assert f"new graph: printed: {text}" in loud.stderr


# --- 9. unknown URL schemes ----------------------------------------------------------------------


def test_an_unregistered_url_scheme_is_one_line(tmp_path):
    new_graph = write_new_graph(tmp_path, SAMPLE_NEW)
    line = one_line_error(
        graphdiff("plan", "foo://x/model.ckpt.meta", new_graph),
        "no file system is registered for 'foo://'",
    )
    assert line.startswith("graphdiff: foo://x/model.ckpt.meta: "), line  # the file given


def test_an_unregistered_scheme_for_checkpoint_or_output_in_apply_is_one_line(planned):
    root, _, _, plan = planned
    one_line_error(
        graphdiff("apply", plan, "--checkpoint", "foo://x/ckpt"),
        "no file system is registered for 'foo://'",
    )
    one_line_error(
        graphdiff("apply", plan, "--output", "bar://y/model.ckpt"),
        "no file system is registered for 'bar://'",
    )


# --- more: flags pointing at other files ---------------------------------------------------------


def test_apply_checkpoint_flag_naming_another_checkpoint_is_refused_by_fingerprint(planned):
    root, _, _, plan = planned
    other = save_checkpoint(root / "other", old_model, seed=1)  # same keys, other values
    out = root / "out" / "model.ckpt"
    line = one_line_error(
        graphdiff("apply", plan, "--checkpoint", other, "--output", out),
        f"{other}.index: is not the checkpoint the plan was made from",
        "--checkpoint",
    )
    assert "changed since" not in line
    assert not out.parent.exists()


def test_a_library_apply_with_another_checkpoint_raises_bad_input(planned):
    from graphdiff.apply.executor import apply_plan

    root, _, _, plan = planned
    other = save_checkpoint(root / "other", old_model, seed=1)
    with pytest.raises(BadInput, match="is not the checkpoint the plan was made from"):
        apply_plan(read_plan(plan), str(root / "out" / "m.ckpt"), checkpoint=other)


# --- more: reports left behind and plans that cannot be read --------------------------------------


def test_a_report_says_running_while_apply_runs_not_the_last_runs_done(planned):
    """A run killed with SIGKILL cannot write its report: what it leaves must not read done."""
    from graphdiff.apply.apply_report import reporting

    root, _, _, plan = planned
    report = root / "report.json"
    report.write_text('{"status": "done", "exit_status": 0}\n')  # an earlier run's
    with reporting(str(report), str(plan)) as filling:
        filling.begin(read_plan(plan), str(plan), str(root / "out" / "model.ckpt"))
        assert json.loads(report.read_text())["status"] == "running"  # what SIGKILL leaves
        filling.done(read_plan(plan), str(root / "old" / "model.ckpt"), verified=False)
    assert json.loads(report.read_text())["status"] == "done"


def test_a_report_over_a_plan_that_cannot_be_read_is_refused_and_the_file_kept(tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text("{ not json")
    one_line_error(graphdiff("apply", plan, "--report", plan), "is the plan being applied")
    assert plan.read_text() == "{ not json"


def test_a_report_path_ending_in_a_slash_is_one_line(planned):
    root, _, _, plan = planned
    one_line_error(
        graphdiff("apply", plan, "--report", f"{root}/report/"), "report/: is a directory"
    )
    assert not (root / "report").exists()


# --- the second newcomer pass (issue 16) -------------------------------------------------------


def test_same_architecture_on_a_meta_names_the_flag_given(planned):
    """It said '--old-model: is for Keras weights ...', a flag the user never gave."""
    _, ckpt, new_graph, _ = planned
    line = one_line_error(
        graphdiff("plan", f"{ckpt}.meta", new_graph, "--same-architecture"),
        "carries its own graph",
    )
    assert line.startswith("graphdiff: --same-architecture: is for Keras weights"), line
