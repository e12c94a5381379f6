"""apply as it fails in real life: killed with SIGKILL mid-write, out of disk, left behind.

Each test runs `graphdiff apply` as a user does (a subprocess) or through the library, on real
checkpoints, and then looks at the disk: nothing at the output prefix, the source untouched, and
the next apply cleaning up after the one that died.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import cli_env, run_in_process
from graphs import save_checkpoint, v1, write_new_graph

from graphdiff.apply import checkpoint_files
from graphdiff.apply.executor import apply_plan
from graphdiff.errors import BadInput, VerificationFailed
from graphdiff.plan_io import write_plan
from graphdiff.planning import make_plan

BIG = (4096, 4096)  # 64 MiB of float32 per variable


def big_model(count: int):
    for i in range(count):
        v1.get_variable(f"big_{i}", BIG, initializer=v1.zeros_initializer())


NEW_GRAPH = """
from test_apply_safety import big_model
big_model({count})
v1.get_variable("head/w", [16, 4])
"""


@pytest.fixture(scope="module")
def four_big(tmp_path_factory) -> tuple[str, Path]:
    """A 256 MiB checkpoint (four 64 MiB variables) and a new graph with one more variable."""
    directory = tmp_path_factory.mktemp("four_big")
    ckpt = save_checkpoint(directory / "old", lambda: big_model(4))
    return ckpt, write_new_graph(directory, NEW_GRAPH.format(count=4))


def planned(tmp_path: Path, count: int, output: Path) -> tuple[Path, str]:
    """An old checkpoint of `count` big variables, and a plan (on disk) to apply it."""
    ckpt = save_checkpoint(tmp_path / "old", lambda: big_model(count))
    new_graph = write_new_graph(tmp_path, NEW_GRAPH.format(count=count))
    return plan_file(tmp_path, ckpt, new_graph, output), ckpt


def plan_file(directory: Path, ckpt: str, new_graph: Path, output: Path) -> Path:
    plan = make_plan(ckpt + ".meta", new_graph, output_prefix=str(output))
    path = directory / "plan.json"
    write_plan(plan, path)
    return path


def digests(prefix: str) -> dict[str, str]:
    files = sorted(Path(prefix).parent.glob(Path(prefix).name + ".*"))
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def at_prefix(prefix: Path) -> list[str]:
    return (
        sorted(p.name for p in prefix.parent.glob(prefix.name + "*"))
        if prefix.parent.exists()
        else []
    )


def staging_dirs(root: Path) -> list[Path]:
    return [p for p in root.rglob(f"*{checkpoint_files.STAGING}*") if p.is_dir()]


def apply_cli(*args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "graphdiff", "apply", *map(str, args)],
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def kill_mid_write(process: subprocess.Popen, root: Path, total: int) -> int:
    """SIGKILL `process` as soon as its staged data file has bytes; return how many it had."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        for data in root.rglob(f"*{checkpoint_files.STAGING}*/**/*.data-*"):
            size = data.stat().st_size if data.exists() else 0
            if 0 < size < total:
                process.send_signal(signal.SIGKILL)
                process.wait()
                return size
        time.sleep(0.001)
    raise AssertionError(f"apply ended (status {process.poll()}) before it could be killed")


@pytest.mark.parametrize("directory_exists", [False, True], ids=["new-directory", "existing"])
def test_sigkill_mid_write_leaves_nothing_and_the_next_apply_succeeds(
    tmp_path, four_big, directory_exists
):
    output = tmp_path / "out" / "model.ckpt"
    if directory_exists:
        output.parent.mkdir()
    ckpt, new_graph = four_big
    plan = plan_file(tmp_path, ckpt, new_graph, output)
    before = digests(ckpt)
    killed_at = kill_mid_write(apply_cli(plan, "--quiet"), tmp_path, total=4 * 64 << 20)
    assert killed_at > 0
    assert at_prefix(output) == []
    assert (tmp_path / "out").exists() == directory_exists
    assert digests(ckpt) == before
    assert staging_dirs(tmp_path), "the killed apply's staging directory is still there"

    result = apply_cli(plan, "--quiet").communicate(timeout=300)
    assert result == (f"{output}\n", "")
    assert at_prefix(output) == [
        "model.ckpt.data-00000-of-00001",
        "model.ckpt.index",
        "model.ckpt.meta",
    ]
    assert staging_dirs(tmp_path) == []
    assert digests(ckpt) == before


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_publish_killed_between_two_moves_is_undone_by_the_next_apply(tmp_path):
    """The journal of a killed publish: the moved files go, the replaced ones come back."""
    output = tmp_path / "out" / "model.ckpt"
    plan, _ = planned(tmp_path, 1, output)
    assert run_in_process("apply", plan, "--quiet").returncode == 0
    published = digests(str(output))
    # A second, forced apply was killed after moving the old index away and its new data in.
    staging = output.parent / f".model.ckpt{checkpoint_files.STAGING}killed"
    (staging / "replaced").mkdir(parents=True)
    (staging / "owner").write_text(json.dumps({"pid": dead_pid(), "host": os.uname().nodename}))
    os.replace(output.parent / "model.ckpt.index", staging / "replaced" / "model.ckpt.index")
    half = output.parent / "model.ckpt.data-00000-of-00001"
    os.replace(half, staging / "replaced" / half.name)
    half.write_bytes(b"new data, half published")
    journal = {
        "moves": [[str(half), os.stat(half).st_ino], [str(output) + ".index", 0]],
        "replaced": [
            [str(staging / "replaced" / "model.ckpt.index"), str(output) + ".index"],
            [str(staging / "replaced" / half.name), str(half)],
        ],
    }
    (staging / "journal.json").write_text(json.dumps(journal))

    assert checkpoint_files.remove_abandoned_staging(output.parent) == [staging]
    assert digests(str(output)) == published


def test_a_staging_directory_of_a_live_apply_is_left_alone(tmp_path):
    busy = tmp_path / f".model.ckpt{checkpoint_files.STAGING}busy"
    busy.mkdir()
    (busy / "owner").write_text(json.dumps({"pid": os.getpid(), "host": os.uname().nodename}))
    assert checkpoint_files.remove_abandoned_staging(tmp_path) == []
    assert busy.exists()


# --- a full disk ---------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 12 MiB tmpfs: writing a 64 MiB checkpoint there runs out of space (ENOSPC)."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, small_disk):
    output = small_disk / "out" / "model.ckpt"
    plan, ckpt = planned(tmp_path, 1, output)
    before = digests(ckpt)
    result = run_in_process("apply", plan, "--quiet")
    out, err = result.stdout, result.stderr
    assert out == "" and result.returncode == 2
    assert err.count("\n") == 1 and err.startswith(f"graphdiff: {output}: cannot be written: ")
    assert "No space left on device" in err
    assert list(small_disk.iterdir()) == []
    assert digests(ckpt) == before
    existing = small_disk / "there"
    existing.mkdir()
    plan, _ = planned(tmp_path / "again", 1, existing / "model.ckpt")
    assert run_in_process("apply", plan, "--quiet").returncode == 2
    assert list(existing.iterdir()) == []


# --- refusals and --verify -----------------------------------------------------------------------


def test_the_source_checkpoint_is_never_the_output(tmp_path):
    ckpt = save_checkpoint(tmp_path / "old", lambda: v1.get_variable("w", [2]))
    new_graph = write_new_graph(tmp_path, 'v1.get_variable("w", [2])')
    plan = make_plan(ckpt + ".meta", new_graph)
    before = digests(ckpt)
    with pytest.raises(BadInput, match="is the checkpoint the plan restores from"):
        apply_plan(plan, ckpt, force=True)
    assert digests(ckpt) == before


def test_verify_reads_back_every_tensor(tmp_path, monkeypatch):
    output = tmp_path / "out" / "model.ckpt"
    plan_path, ckpt = planned(tmp_path, 1, output)
    from graphdiff.plan_io import read_plan

    plan = read_plan(plan_path)
    assert apply_plan(plan, verify=True) == str(output)

    # A writer that flips a bit of what it copies: verify must catch it before publishing.
    from graphdiff.bundle import writer as bundle_writer

    real = bundle_writer.BundleWriter.add_chunks

    def corrupting(self, key, like, chunks):
        def flipped():
            for i, chunk in enumerate(chunks):
                yield bytes([chunk[0] ^ 1]) + chunk[1:] if i == 0 else chunk

        real(self, key, like, flipped())

    monkeypatch.setattr(bundle_writer.BundleWriter, "add_chunks", corrupting)
    monkeypatch.setattr(bundle_writer.BundleWriter, "add_copy", lambda *args: False)  # via memory
    elsewhere = tmp_path / "elsewhere" / "model.ckpt"
    with pytest.raises(VerificationFailed, match="big_0: .*checksum"):
        apply_plan(plan, str(elsewhere), verify=True)
    assert not elsewhere.parent.exists()
