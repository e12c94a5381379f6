"""Shared fixtures: the seed sample trained for real, and the CLI run as a user runs it.

Every subprocess pays the TensorFlow import (2-3 s), so the expensive things happen once per
session: `seed_checkpoint` trains samples/seed/train_old.py once, `seed_plan` plans it once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "samples" / "seed"
SEED_NEW_GRAPH = SEED / "new_graph.py"

# Variables that would change what the CLI prints on standard error: tests must see exactly
# what a user sees, so TensorFlow's logging knobs are not set here: graphdiff must quiet it.
_NOISY_ENV = ("GRAPHDIFF_DEBUG", "TF_CPP_MIN_LOG_LEVEL", "TF_CPP_MAX_VLOG_LEVEL", "PYTHONWARNINGS")


def cli_env() -> dict[str, str]:
    """The environment of a user's shell, with this checkout first on the import path."""
    env = {k: v for k, v in os.environ.items() if k not in _NOISY_ENV}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_python(*args, cwd=None, timeout=300, env=None, path=None) -> subprocess.CompletedProcess:
    """`python ARGS...` in a subprocess (stdin closed), with output captured as text.

    `env` adds variables to the user-like environment of `cli_env()`; `path` is the
    subprocess's PATH instead of ours (say, a directory without `dot`).
    """
    environment = {**cli_env(), **(env or {})}
    if path is not None:
        environment["PATH"] = str(path)
    return subprocess.run(
        [sys.executable, *map(str, args)],
        cwd=cwd,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


_SUMMARY_KEY = "graphdiff/summary"


def report_in_summary(config, title: str, lines: list[str]) -> None:
    """Lines for a section of pytest's terminal summary, from any process (xdist workers too):
    kept in pytest's cache, printed by the main process at the end of the run."""
    sections = config.cache.get(_SUMMARY_KEY, {})
    sections[title] = {"at": time.time(), "lines": lines}
    config.cache.set(_SUMMARY_KEY, sections)


def pytest_sessionstart(session):
    session.config.stash[_STARTED] = time.time()


def pytest_terminal_summary(terminalreporter, config):
    if hasattr(config, "workerinput"):  # an xdist worker: the main process prints
        return
    started = config.stash.get(_STARTED, time.time())
    for title, section in sorted(config.cache.get(_SUMMARY_KEY, {}).items()):
        if section["at"] >= started:
            terminalreporter.section(title)
            for line in section["lines"]:
                terminalreporter.write_line(line)


_STARTED = pytest.StashKey[float]()


@pytest.fixture(autouse=True)
def _tf2_behaviour_stays_on():
    """A test that turns TF1 behaviour on (`disable_v2_behavior`) in this process would break
    every Keras test after it: such a test must run that code in a process of its own."""
    yield
    if "tensorflow" in sys.modules:
        from tensorflow.python import tf2

        assert tf2.enabled(), "TF1 behaviour was left on in the test process; use a subprocess"


def run_in_process(*args) -> subprocess.CompletedProcess:
    """`graphdiff ARGS...` through `graphdiff.cli.main` in this process: the same parsing, exit
    statuses and messages without paying a TensorFlow import. Standard output and error are
    Python's own; what TensorFlow's C++ side prints is not seen (tests of that use `run_cli`)."""
    import contextlib
    import io

    from graphdiff.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv = [str(arg) for arg in args]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return subprocess.CompletedProcess(["graphdiff", *argv], status, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def run_cli():
    """`run_cli(*args, cwd=None)`: run `python -m graphdiff ARGS...`, return the CompletedProcess.

    >>> result = run_cli("plan", "old.meta", "new_graph.py")  # doctest: +SKIP
    >>> result.returncode, result.stdout, result.stderr.splitlines()  # doctest: +SKIP
    """

    def run(*args, cwd=None, path=None) -> subprocess.CompletedProcess:
        return run_python("-m", "graphdiff", *args, cwd=cwd, path=path)

    return run


@pytest.fixture(scope="session")
def seed_checkpoint(tmp_path_factory) -> str:
    """Prefix of the seed's old checkpoint (`.../old/model.ckpt`), trained once per session."""
    prefix = tmp_path_factory.mktemp("seed") / "old" / "model.ckpt"
    result = run_python(SEED / "train_old.py", prefix)
    assert result.returncode == 0, f"train_old.py failed:\n{result.stderr}"
    assert Path(f"{prefix}.index").is_file() and Path(f"{prefix}.meta").is_file()
    return str(prefix)


@pytest.fixture(scope="session")
def seed_plan_run(seed_checkpoint, run_cli, tmp_path_factory):
    """`graphdiff plan` on the seed, plan to standard output: (CompletedProcess, plan path).

    The plan's output prefix is `<tmp>/new/model.ckpt`, which does not exist yet.
    """
    work = tmp_path_factory.mktemp("seed_plan")
    result = run_cli(
        "plan",
        f"{seed_checkpoint}.meta",
        SEED_NEW_GRAPH,
        "--output-prefix",
        work / "new" / "model.ckpt",
    )
    assert result.returncode == 0, result.stderr
    path = work / "plan.json"
    path.write_text(result.stdout)
    return result, path


@pytest.fixture(scope="session")
def seed_plan(seed_plan_run) -> Path:
    """Path of the seed's plan (JSON), made once per session. Copy it before editing it."""
    return seed_plan_run[1]


@pytest.fixture(scope="session")
def seed_applied(seed_plan, run_cli, tmp_path_factory) -> str:
    """`graphdiff apply` of the seed plan, run once per session: the prefix it printed.
    Read it, never write into it (copy it first)."""
    prefix = tmp_path_factory.mktemp("seed_applied") / "new" / "model.ckpt"
    result = run_cli("apply", seed_plan, "--output", prefix)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(prefix)
    return str(prefix)


@pytest.fixture
def seed_plan_document(seed_plan) -> dict:
    """A fresh, editable copy of the seed plan's JSON document."""
    return json.loads(seed_plan.read_text())


@pytest.fixture(scope="session")
def resnet_plans(tmp_path_factory):
    """tf_slim resnet_v1_50 with Adam planned against resnet_v1_101, a move and two towers
    (tests/resnet_plans.py): `resnet_plans.path("deeper")`, each made once, on first use."""
    from resnet_plans import ResnetPlans

    return ResnetPlans(tmp_path_factory.mktemp("resnet"))


@pytest.fixture(scope="session")
def plan_validator():
    """A Draft 2020-12 validator of schemas/plan.schema.json, read straight from the file."""
    import jsonschema

    schema = json.loads((REPO / "schemas" / "plan.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


@pytest.fixture(scope="session")
def detector_runs(tmp_path_factory):
    """Two training runs and a detector assembled from them (tests/detector_graphs.py):
    `.classifier` and `.detector` (checkpoint prefixes, each with its .meta) and `.new_graph`
    (the detector with a new mask predictor, trained with Momentum), made once."""
    from types import SimpleNamespace

    import detector_graphs as graphs

    root = tmp_path_factory.mktemp("detector")
    return SimpleNamespace(
        classifier=graphs.save_run(root / "classification", graphs.classifier, seed=1),
        detector=graphs.save_run(root / "detection", lambda: graphs.detector(train=True), seed=2),
        new_graph=str(graphs.write_new_detector(root / "new")),
        root=root,
    )
