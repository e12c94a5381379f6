"""graphdiff in a pipeline: plans that travel, rules kept in the repository, remote storage,
reproducible output, quiet building, and a report a machine can read.

The CLI runs as a user's pipeline would (subprocesses, real files, a real tf_slim net); remote
storage runs through the library in one process on TensorFlow's in-memory `ram://` file system.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import run_in_process, run_python
from graphs import adam, dense, inputs, save_checkpoint, tf, v1, write_new_graph

from graphdiff.apply.executor import apply_plan
from graphdiff.errors import BadInput
from graphdiff.planning import make_plan

SAMPLE_NEW = """
x = inputs()
a = dense(x, 8, "A")
b = dense(a, 2, "B")
c = dense(a, 3, "C")
"""


def old_model():
    dense(dense(inputs(), 8, "A"), 2, "B")


def project(root: Path) -> tuple[Path, Path]:
    """A project directory: old/model.ckpt, new_graph.py, plans/ (where plans are written)."""
    ckpt = save_checkpoint(root / "old", old_model)
    new_graph = write_new_graph(root, SAMPLE_NEW)
    (root / "plans").mkdir()
    return Path(ckpt), new_graph


def graphdiff(*args, cwd=None):
    """The CLI in this process (a TensorFlow import per command would dominate these tests)."""
    here = os.getcwd()
    os.chdir(cwd or here)
    try:
        return run_in_process(*args)
    finally:
        os.chdir(here)


def one_line_error(result, *words) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("graphdiff: "), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def values(prefix: str) -> dict[str, np.ndarray]:
    reader = v1.train.NewCheckpointReader(prefix)
    return {key: reader.get_tensor(key) for key in reader.get_variable_to_shape_map()}


# --- portable plans --------------------------------------------------------------------------


def test_a_plan_applies_after_its_whole_project_moved(tmp_path):
    ckpt, new_graph = project(tmp_path / "here")
    plan = tmp_path / "here" / "plans" / "plan.json"
    made = graphdiff(
        "plan",
        f"{ckpt}.meta",
        new_graph,
        "-o",
        plan,
        "--output-prefix",
        tmp_path / "here" / "new" / "model.ckpt",
    )
    assert made.returncode == 0, made.stderr
    document = json.loads(plan.read_text())
    assert document["provenance"]["new_graph"]["path"] == "../new_graph.py"
    assert document["provenance"]["checkpoint_prefix"] == "../old/model.ckpt"
    assert document["output_prefix"] == "../new/model.ckpt"

    shutil.move(tmp_path / "here", tmp_path / "there")
    moved_plan = tmp_path / "there" / "plans" / "plan.json"
    applied = graphdiff("apply", moved_plan, "--quiet")
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout == f"{tmp_path / 'there' / 'new' / 'model.ckpt'}\n"
    old = values(str(tmp_path / "there" / "old" / "model.ckpt"))
    assert values(applied.stdout.strip())["A/w"].tobytes() == old["A/w"].tobytes()


def test_moved_inputs_are_found_with_flags_and_still_checked(tmp_path):
    ckpt, new_graph = project(tmp_path / "project")
    plan = tmp_path / "plan.json"
    assert graphdiff("plan", f"{ckpt}.meta", new_graph, "-o", plan).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    shutil.move(ckpt.parent, elsewhere)
    out = tmp_path / "out" / "model.ckpt"
    one_line_error(
        graphdiff("apply", plan, "--output", out),
        "model.ckpt.index: no such file (the plan was made from it)",
        "--checkpoint PREFIX",
    )
    applied = graphdiff(
        "apply", plan, "--output", out, "--checkpoint", elsewhere / "model.ckpt", "--quiet"
    )
    assert applied.returncode == 0, applied.stderr

    other_graph = tmp_path / "other_graph.py"
    other_graph.write_text(new_graph.read_text() + "\n# edited\n")
    one_line_error(
        graphdiff(
            "apply",
            plan,
            "--output",
            tmp_path / "o2" / "model.ckpt",
            "--checkpoint",
            elsewhere / "model.ckpt",
            "--new-graph",
            other_graph,
        ),
        str(other_graph),
        "is not the new-graph file the plan was made from",
    )
    assert not (tmp_path / "o2").exists()


def test_render_finds_moved_inputs_with_the_flags_apply_takes(tmp_path):
    """render reads the plan's graphs for its edges: when they moved, the same --checkpoint
    and --new-graph as apply's say where (render had neither)."""
    ckpt, new_graph = project(tmp_path / "project")
    plan = tmp_path / "plan.json"
    assert graphdiff("plan", f"{ckpt}.meta", new_graph, "-o", plan).returncode == 0
    shutil.move(tmp_path / "project", tmp_path / "moved")
    old, graph = tmp_path / "moved" / "old" / "model.ckpt", tmp_path / "moved" / "new_graph.py"
    lost = graphdiff("render", plan, "-o", tmp_path / "lost.dot")
    assert lost.returncode == 0 and "no data-flow edges" in lost.stderr, lost.stderr
    found = graphdiff(
        "render", plan, "-o", tmp_path / "found.dot", "--checkpoint", old, "--new-graph", graph
    )
    assert found.returncode == 0 and found.stderr == "", found.stderr
    dot = (tmp_path / "found.dot").read_text()
    assert 'id="flow:old:A->old:B"' in dot and 'id="flow:new:A->new:C"' in dot
    other = tmp_path / "other.py"
    other.write_text(graph.read_text() + "# edited\n")
    one_line_error(
        graphdiff("render", plan, "-o", tmp_path / "x.dot", "--new-graph", other),
        str(other),
        "is not the new-graph file the plan was made from",
    )


# --- reproducible plans --------------------------------------------------------------------------

TOWERS = """
x = inputs()
for tower in ("tower_0", "tower_1"):
    with v1.variable_scope(tower):
        dense(dense(x, 8, "A"), 2, "B")
"""


def test_planning_twice_gives_the_same_bytes_under_source_date_epoch(tmp_path):
    ckpt, _ = project(tmp_path)
    new_graph = write_new_graph(tmp_path, TOWERS, name="towers.py")
    plans = []
    for seed in ("1", "2"):  # another hash seed: set orders differ between the two runs
        plan = tmp_path / f"plan_{seed}.json"
        env = {"SOURCE_DATE_EPOCH": "1700000000", "PYTHONHASHSEED": seed}
        result = run_python(
            "-m", "graphdiff", "plan", f"{ckpt}.meta", new_graph, "-o", plan, env=env
        )
        assert result.returncode == 0, result.stderr
        plans.append(plan.read_bytes())
    assert plans[0] == plans[1]
    assert json.loads(plans[0])["provenance"]["created"] == "2023-11-14T22:13:20+00:00"


def test_a_bad_source_date_epoch_is_bad_input(tmp_path, monkeypatch):
    ckpt, new_graph = project(tmp_path)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(BadInput, match="SOURCE_DATE_EPOCH: 'yesterday' is not a time"):
        make_plan(f"{ckpt}.meta", new_graph)


# --- rules kept in the repository ----------------------------------------------------------------

RULES = """
[project]
name = "my-model"

[tool.graphdiff]
exclude = ["^B/"]
require = ["^A/"]
"""


def test_rules_in_pyproject_are_found_from_a_subdirectory_and_recorded(tmp_path):
    ckpt, new_graph = project(tmp_path)
    (tmp_path / "pyproject.toml").write_text(RULES)
    work = tmp_path / "plans"
    result = graphdiff(
        "plan", f"{ckpt}.meta", new_graph, "--map", "A=A", "-o", "plan.json", cwd=work
    )
    assert result.returncode == 0, result.stderr
    document = json.loads((work / "plan.json").read_text())
    assert document["options"]["rules_file"] == "../pyproject.toml"
    assert document["options"]["excludes"] == ["^B/"]
    assert document["options"]["maps"] == ["A=A"]  # the command line adds to the file
    actions = {v["name"]: v["action"] for v in document["variables"]}
    assert actions["B/w"] == "initialize" and actions["A/w"] == "restore"

    ignored = graphdiff("plan", f"{ckpt}.meta", new_graph, "--no-config", "-o", "p2.json", cwd=work)
    assert json.loads((work / "p2.json").read_text())["options"]["rules_file"] is None
    assert ignored.returncode == 0


def test_an_unknown_key_in_graphdiff_toml_is_one_line(tmp_path):
    ckpt, new_graph = project(tmp_path)
    (tmp_path / "graphdiff.toml").write_text('exclude = ["^B/"]\nmaps = ["A=B"]\n')
    one_line_error(
        graphdiff("plan", f"{ckpt}.meta", new_graph, cwd=tmp_path),
        "graphdiff.toml: unknown key 'maps'",
    )


ADAM_RULES = """
[tool.graphdiff]
map = ["encoder=tower/encoder"]
exclude = ["^head/"]
require = ["^tower/encoder/"]
reset-optimizer = true
"""


def test_required_layers_trained_with_adam_pass_when_the_optimizer_is_reset(tmp_path):
    """require and reset-optimizer together: the Adam slots of a required layer are initialized
    on the user's own word, which is no failure of the requirement (it was exit 3)."""

    def trained(scope: str):
        def build():
            x = inputs()
            with v1.variable_scope(scope):
                hidden = dense(x, 8, "encoder")
            adam(tf.reduce_mean(dense(hidden, 2, "head")))

        return build

    ckpt = save_checkpoint(tmp_path / "old", trained(""))
    new_graph = write_new_graph(
        tmp_path,
        """
        x = inputs()
        with v1.variable_scope("tower"):
            hidden = dense(x, 8, "encoder")
        adam(tf.reduce_mean(dense(hidden, 2, "head")))
        """,
    )
    (tmp_path / "pyproject.toml").write_text(ADAM_RULES)
    result = graphdiff("plan", f"{ckpt}.meta", new_graph, "-o", "plan.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    actions = {
        v["name"]: v["action"]
        for v in json.loads((tmp_path / "plan.json").read_text())["variables"]
    }
    assert actions["tower/encoder/w"] == "restore" and actions["head/w"] == "initialize"
    assert actions["tower/encoder/w/Adam"] == "initialize"  # reset, as asked


def test_a_rule_from_the_file_is_named_by_its_file_and_key_when_it_fails(tmp_path):
    ckpt, new_graph = project(tmp_path)
    rules = tmp_path / "pyproject.toml"
    rules.write_text('[tool.graphdiff]\nexclude = ["^nohead/"]\n')
    one_line_error(
        graphdiff("plan", f"{ckpt}.meta", new_graph, cwd=tmp_path),
        f"graphdiff: {rules}: [tool.graphdiff] exclude: '^nohead/' matches no variable",
    )
    rules.write_text('[tool.graphdiff]\nmap = ["Typo=A"]\n')
    one_line_error(
        graphdiff("plan", f"{ckpt}.meta", new_graph, cwd=tmp_path),
        f"graphdiff: {rules}: [tool.graphdiff] map: 'Typo=A' matches no checkpoint key",
    )
    (tmp_path / "graphdiff.toml").write_text('require = ["^C/"]\n')  # wins in its directory
    failed = graphdiff("plan", f"{ckpt}.meta", new_graph, cwd=tmp_path)
    assert failed.returncode == 3
    assert failed.stderr.splitlines()[-1] == (
        f"graphdiff: {tmp_path / 'graphdiff.toml'}: require failed: 2 variable(s) would be "
        "initialized: C/w, C/b"
    )
    flag = graphdiff("plan", f"{ckpt}.meta", new_graph, "--no-config", "--exclude", "^nohead/")
    one_line_error(flag, "graphdiff: --exclude: '^nohead/' matches no variable")


# --- quiet by default ----------------------------------------------------------------------------

SLIM_NET = """
import tf_slim as slim
images = v1.placeholder(tf.float32, [None, 32, 32, 3], name="images")
net = slim.conv2d(images, 8, [3, 3], scope="conv1")
net = slim.conv2d(net, 8, [3, 3], scope="conv2")
print("building the net")
"""


def test_building_a_tf_slim_net_prints_no_warning_lines_unless_verbose(tmp_path):
    def slim_old():
        import tf_slim as slim

        images = v1.placeholder(tf.float32, [None, 32, 32, 3], name="images")
        slim.conv2d(images, 8, [3, 3], scope="conv1")

    ckpt = save_checkpoint(tmp_path / "old", slim_old)
    new_graph = write_new_graph(tmp_path, SLIM_NET)
    quiet = run_python("-m", "graphdiff", "plan", f"{ckpt}.meta", new_graph)  # a real process
    assert quiet.returncode == 0, quiet.stderr
    json.loads(quiet.stdout)  # the net's print did not get into the plan
    assert "deprecated" not in quiet.stderr and "building the net" not in quiet.stderr
    assert "warning(s) from building the new graph not shown (--verbose)" in quiet.stderr
    # --verbose shows what was kept back: through main in this process (no second import).
    loud = graphdiff("plan", f"{ckpt}.meta", new_graph, "--verbose")
    assert loud.returncode == 0, loud.stderr
    assert "`layer.apply` is deprecated" in loud.stderr
    assert "printed: building the net" in loud.stderr


# --- a report for machines -----------------------------------------------------------------------


def test_apply_report_says_what_was_done_or_why_not(tmp_path):
    ckpt, new_graph = project(tmp_path)
    plan = tmp_path / "plans" / "plan.json"
    assert graphdiff("plan", f"{ckpt}.meta", new_graph, "-o", plan).returncode == 0
    report = tmp_path / "report.json"
    out = tmp_path / "out" / "model.ckpt"
    done = graphdiff("apply", plan, "--output", out, "--verify", "--report", report, "--quiet")
    assert done.returncode == 0, done.stderr
    document = json.loads(report.read_text())
    assert document["status"] == "done" and document["prefix"] == str(out)
    assert document["variables"] == {"total": 6, "restored": 4, "initialized": 2}
    assert document["verified"] is True
    assert sorted(Path(f["path"]).name for f in document["files"]) == [
        "model.ckpt.data-00000-of-00001",
        "model.ckpt.index",
        "model.ckpt.meta",
    ]
    assert document["bytes"] == sum(os.path.getsize(f["path"]) for f in document["files"])

    refused = graphdiff("apply", plan, "--output", out, "--report", report)
    line = one_line_error(refused, "a checkpoint exists here")
    failed = json.loads(report.read_text())
    assert failed["status"] == "failed" and failed["exit_status"] == 2
    assert f"graphdiff: {failed['error']}" == line


def test_a_report_to_standard_output_is_all_that_goes_there(tmp_path):
    """`--report /dev/stdout`: appended (`>>`) to a file or piped, standard output holds the
    report alone, written once in place; the prefix line is not printed beside it."""
    import subprocess
    import sys

    from conftest import cli_env

    ckpt, new_graph = project(tmp_path)
    plan = tmp_path / "plans" / "plan.json"
    assert graphdiff("plan", f"{ckpt}.meta", new_graph, "-o", plan).returncode == 0
    log = tmp_path / "log.txt"
    log.write_text("earlier line\n")
    command = [sys.executable, "-m", "graphdiff", "apply", str(plan), "--report", "/dev/stdout"]
    with open(log, "a") as appended:
        subprocess.run(
            [*command, "--output", str(tmp_path / "o1" / "model.ckpt")],
            stdout=appended,
            env=cli_env(),
            check=True,
        )
    earlier, report = log.read_text().split("\n", 1)
    assert earlier == "earlier line"
    assert json.loads(report)["status"] == "done"
    piped = subprocess.run(
        [*command, "--output", str(tmp_path / "o2" / "model.ckpt")],
        capture_output=True,
        text=True,
        env=cli_env(),
    )
    assert piped.returncode == 0, piped.stderr
    document = json.loads(piped.stdout)  # the report alone: no prefix line after it
    assert document["status"] == "done" and document["prefix"] == str(
        tmp_path / "o2" / "model.ckpt"
    )


# --- remote storage, on TensorFlow's in-memory file system ---------------------------------------


def ram_checkpoint(name: str) -> str:
    graph = tf.Graph()
    with graph.as_default():
        old_model()
        saver = v1.train.Saver()
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            return saver.save(session, f"ram://{name}/old/model.ckpt")


def test_plan_apply_and_restore_on_ram_paths(tmp_path):
    ckpt = ram_checkpoint("pipeline")
    new_graph = write_new_graph(tmp_path, SAMPLE_NEW)
    plan = make_plan(f"{ckpt}.meta", new_graph, output_prefix="ram://pipeline/new/model.ckpt")
    assert plan.provenance.checkpoint_prefix == ckpt
    prefix = apply_plan(plan, verify=True)
    assert prefix == "ram://pipeline/new/model.ckpt"
    assert sorted(tf.io.gfile.listdir("ram://pipeline/new")) == [
        "checkpoint",
        "model.ckpt.data-00000-of-00001",
        "model.ckpt.index",
        "model.ckpt.meta",
    ]
    assert tf.train.latest_checkpoint("ram://pipeline/new") == prefix
    with tf.Graph().as_default(), v1.Session() as session:
        v1.train.import_meta_graph(prefix + ".meta").restore(session, prefix)
        (w,) = [v for v in v1.global_variables() if v.op.name == "A/w"]
        assert session.run(w).tobytes() == values(ckpt)["A/w"].tobytes()


def test_a_failure_in_the_middle_leaves_nothing_on_a_ram_path(tmp_path):
    ckpt = ram_checkpoint("broken")
    new_graph = write_new_graph(tmp_path, SAMPLE_NEW)
    plan = make_plan(f"{ckpt}.meta", new_graph, output_prefix="ram://broken/new/model.ckpt")
    data = f"{ckpt}.data-00000-of-00001"
    content = bytearray(tf.io.gfile.GFile(data, "rb").read())
    content[-1] ^= 0xFF  # the last tensor's bytes no longer match their checksum
    tf.io.gfile.remove(data)  # ram:// appends to a file opened for writing
    with tf.io.gfile.GFile(data, "wb") as stream:
        stream.write(bytes(content))
    with pytest.raises(BadInput, match="do not match their checksum"):
        apply_plan(plan)
    assert tf.io.gfile.glob("ram://broken/new/*") == []
    assert tf.io.gfile.glob("ram://broken/new/.*") == []


def test_plan_apply_with_every_check_and_verify_end_to_end_on_ram_paths(tmp_path):
    """The README's pipeline on a remote store: plan, apply --verify --verify-outputs
    --report, then verify, the checkpoints on ram:// (which lives only in this process)."""
    ckpt = ram_checkpoint("e2e")
    new_graph = write_new_graph(tmp_path, SAMPLE_NEW)
    plan, report, out = tmp_path / "plan.json", tmp_path / "report.json", "ram://e2e/new/model.ckpt"
    made = graphdiff("plan", f"{ckpt}.meta", new_graph, "-o", plan, "--output-prefix", out)
    assert made.returncode == 0, made.stderr
    applied = graphdiff(
        "apply", plan, "--verify", "--verify-outputs", "--report", report, "--quiet"
    )
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout == f"{out}\n"
    document = json.loads(report.read_text())  # reports are written locally
    assert document["status"] == "done" and document["prefix"] == out
    assert document["verified"] is True
    verified = graphdiff("verify", plan, "--format", "json")
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["checkpoint"] == out
    again = graphdiff("verify", plan, "--checkpoint", out)
    assert again.returncode == 0 and "identical" in again.stdout, again.stderr


UNREACHABLE = """
import contextlib, io, json, sys
from graphdiff.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(argv)
    results.append([status, err.getvalue()])
print(json.dumps(results))
"""


def test_an_unreachable_store_is_bad_input_naming_the_url_in_every_command(tmp_path):
    """No network (here: a proxy whose name does not resolve) is the user's environment, not a
    bug: exit 2, one line naming the URL and what failed, in the report too.
    One process for all the commands: each TensorFlow import costs seconds."""
    ckpt, new_graph = project(tmp_path)
    plan = tmp_path / "plan.json"
    assert graphdiff("plan", f"{ckpt}.meta", new_graph, "-o", plan).returncode == 0
    report = tmp_path / "report.json"
    commands = [
        ["plan", "gs://graphdiff-nobucket/run7/model.ckpt.meta", str(new_graph)],
        ["apply", str(plan), "--output", "gs://graphdiff-nobucket/run8/model.ckpt",
         "--report", str(report), "--quiet"],
        ["verify", str(plan), "--checkpoint", "gs://graphdiff-nobucket/run8/model.ckpt"],
    ]  # fmt: skip
    proxy = "http://graphdiff-proxy.invalid:1"  # .invalid never resolves (RFC 6761)
    env = {"https_proxy": proxy, "HTTPS_PROXY": proxy, "NO_PROXY": "", "no_proxy": ""}
    env["GCS_RETRY_CONFIG_MAX_RETRIES"] = "0"  # fail at once, not after minutes of retries
    ran = run_python("-c", UNREACHABLE, json.dumps(commands), env=env)
    assert ran.returncode == 0, ran.stderr
    results = json.loads(ran.stdout.splitlines()[-1])
    (plan_status, plan_err), (apply_status, apply_err), (verify_status, verify_err) = results
    for status, err, url in (
        (plan_status, plan_err, "gs://graphdiff-nobucket/run7/model.ckpt.meta"),
        (apply_status, apply_err, "gs://graphdiff-nobucket/run8/model.ckpt"),
        (verify_status, verify_err, "gs://graphdiff-nobucket/run8/model.ckpt"),
    ):
        assert status == 2, err
        assert len(err.splitlines()) == 1 and err.startswith(f"graphdiff: {url}"), err
        assert "cannot reach the store: could not resolve" in err, err
        assert "(graphdiff-proxy.invalid)" in err, err
    failed = json.loads(report.read_text())
    assert failed["status"] == "failed" and failed["exit_status"] == 2
    assert f"graphdiff: {failed['error']}\n" == apply_err


@pytest.mark.parametrize(
    "error, fault",
    [
        (
            tf.errors.PermissionDeniedError(None, None, "HTTP response code 403 with body '{}'"),
            "permission denied by the store",
        ),
        (
            tf.errors.FailedPreconditionError(
                None, None, "Error executing an HTTP request: HTTP response code 401 with body"
            ),
            "permission denied by the store",
        ),
        (
            tf.errors.FailedPreconditionError(
                None,
                None,
                "Error executing an HTTP request: libcurl code 6 meaning 'Could not resolve "
                "hostname', error details: Could not resolve host: www.googleapis.com",
            ),
            "cannot reach the store: could not resolve hostname (www.googleapis.com)",
        ),
        (tf.errors.UnavailableError(None, None, "HTTP response code 503"), "answered HTTP 503"),
    ],
)
def test_what_a_store_fault_says(error, fault):
    """TensorFlow's own error classes, as its GCS file system raises them (a 403 cannot be
    provoked here without a real bucket and credentials)."""
    from graphdiff.storage import store_fault

    assert fault in store_fault(error)
