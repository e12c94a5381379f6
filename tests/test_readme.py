"""Every code block of the README runs, as written, in the directories the README says.

A newcomer pastes the README top to bottom. Each fenced block is preceded by a comment saying
where it runs or why it does not:

    <!-- runs in: out/first -->                    shell commands (every line must succeed)
    <!-- runs in: out/first, saved as load.py -->   a file written there (python is then run)
    <!-- runs in: out/first, and prints this -->   `$ command`, then exactly what it prints
    <!-- not run: why -->                          installs packages, needs data we lack, ...

`repository` is a copy of the repository's samples: its blocks run first (they make
`out/first` and `out/keras`, as the README tells a newcomer to), then every other block in the
README's order. `graphdiff` and `python3` are this checkout's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO, cli_env

MARKER = re.compile(
    r"<!-- (?:runs in: (?P<where>[^,>]+?)(?:, (?P<how>[^>]+?))?|not run: (?P<why>.+?)) -->"
)
SAVED_AS = re.compile(r"saved as (?P<name>\S+)")


@dataclass
class Block:
    line: int  # where the fence opens, 1-based
    info: str  # the fence's language: python, toml, yaml, text, or "" (shell)
    text: str
    where: str | None  # the directory it runs in; None: not run
    how: str  # "", "saved as NAME", "and prints this"
    why: str  # why it is not run


def readme_blocks(text: str) -> list[Block]:
    blocks, lines, index = [], text.splitlines(), 0
    while index < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[index])
        if not fence:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        before = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        marker = MARKER.fullmatch(before.strip())
        blocks.append(
            Block(
                line=index + 1,
                info=fence.group(1),
                text="\n".join(lines[index + 1 : end]) + "\n",
                where=marker.group("where").strip() if marker and marker.group("where") else None,
                how=(marker.group("how") or "") if marker else "",
                why=(marker.group("why") or "") if marker else "",
            )
        )
        if marker is None:
            blocks[-1].why = ""  # unmarked: the test below names it
        index = end + 1
    return blocks


BLOCKS = readme_blocks((REPO / "README.md").read_text())


def test_every_block_says_where_it_runs_or_why_not():
    unmarked = [b.line for b in BLOCKS if b.where is None and not b.why]
    assert not unmarked, (
        f"README.md blocks at lines {unmarked} have no '<!-- runs in: DIR -->' or "
        "'<!-- not run: why -->' comment before them"
    )
    assert sum(b.where is not None for b in BLOCKS) >= 10


@pytest.fixture(scope="module")
def shell_env(tmp_path_factory) -> dict[str, str]:
    """A user's shell, with this checkout's `graphdiff` and this interpreter as `python3`."""
    bin_dir = tmp_path_factory.mktemp("bin")
    for name, command in (
        ("graphdiff", f'"{sys.executable}" -m graphdiff'),
        ("python3", f'"{sys.executable}"'),
    ):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec {command} "$@"\n')
        shim.chmod(0o755)
    env = cli_env()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"  # what the user's own scripts print is not under test
    return env


def run_block(block: Block, root: Path, env: dict[str, str]) -> str:
    """Run one block; its standard output."""
    directory = root if block.where == "repository" else root / block.where
    where = f"README.md line {block.line} (in {block.where})"
    saved = SAVED_AS.search(block.how)
    if block.info == "python" or saved:
        name = saved.group("name") if saved else f"readme_block_{block.line}.py"
        (directory / name).write_text(block.text)
        if block.info != "python":
            return ""
        command = ["python3", name]
    elif block.info == "":
        command = ["bash", "-euo", "pipefail", "-c", block.text]
    else:
        raise AssertionError(f"{where}: cannot run a '{block.info}' block")
    expected = None
    if "prints this" in block.how:
        first, _, expected = block.text.partition("\n")
        assert first.startswith("$ "), f"{where}: a block that prints starts with '$ command'"
        command = ["bash", "-euo", "pipefail", "-c", first[2:]]
    result = subprocess.run(
        command, cwd=directory, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"{where}: exit {result.returncode}\n{result.stderr[-3000:]}"
    if expected is not None:
        assert result.stdout == expected, f"{where}: prints otherwise:\n{result.stdout}"
    return result.stdout


def test_every_block_runs_as_written(tmp_path, shell_env):
    """The README's blocks, in its order (those of the repository first), each succeeding."""
    root = tmp_path / "clone"
    shutil.copytree(
        REPO / "samples", root / "samples", ignore=shutil.ignore_patterns("__pycache__")
    )
    to_run = [b for b in BLOCKS if b.where is not None]
    printed = {}
    for block in sorted(to_run, key=lambda b: b.where != "repository"):
        printed[block.text] = run_block(block, root, shell_env)
    # The sample's run says how to load what it wrote: new_graph.py cannot be built by plain
    # TensorFlow (it said "restore it with Saver().restore", which fails in the user's script).
    assert "graphdiff.resolved_shapes(plan)" in printed["bash samples/seed/run.sh\n"]
