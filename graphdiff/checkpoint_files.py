"""Checkpoint files on disk: a new checkpoint appears at its prefix all at once, or not at all.

TensorFlow's Saver writes several files (`.data-*`, `.index`, `.meta`, the directory's
`checkpoint` state file); a failure between them would leave a checkpoint that half exists.
`write_atomically` lets the writer fill a staging directory beside the output and then moves
the files into place, undoing every move on any failure, KeyboardInterrupt included.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from graphdiff.errors import BadInput

STATE_FILE = "checkpoint"


def checked_prefix(text: str) -> str:
    if text.endswith(("/", os.sep)) or Path(text).is_dir():
        raise BadInput(text, "names a directory; give a checkpoint prefix such as DIR/model.ckpt")
    return os.path.abspath(text)


def existing_files(prefix: str) -> list[Path]:
    """The files of a checkpoint at `prefix` (not the directory's state file)."""
    found = [Path(prefix + suffix) for suffix in (".index", ".meta")]
    parent, base = Path(prefix).parent, Path(prefix).name
    shards = sorted(parent.glob(glob.escape(base) + ".data-*")) if parent.is_dir() else []
    return [path for path in found if path.exists()] + shards


def write_atomically(prefix: str, write: Callable[[str], None]) -> None:
    """Let `write` fill a staging directory beside the output, then move the files into place.

    Order: data, index, meta, then the `checkpoint` state file. On any failure, including
    KeyboardInterrupt, what was moved is removed, a replaced checkpoint (--force) and state file
    are put back, and the staging directory and any directory made for the output go.
    """
    directory, base = os.path.split(prefix)
    created = _make_directories(Path(directory))
    staging = Path(tempfile.mkdtemp(prefix=f".{base}.graphdiff-", dir=directory))
    moved: list[Path] = []
    set_aside: list[tuple[Path, Path]] = []
    try:
        write(str(staging / base))
        _commit(staging, Path(prefix), moved, set_aside)
    except BaseException:
        _roll_back(moved, set_aside)
        shutil.rmtree(staging, ignore_errors=True)
        _remove_directories(created)
        raise
    shutil.rmtree(staging, ignore_errors=True)


def _commit(staging: Path, prefix: Path, moved: list, set_aside: list) -> None:
    backup = staging / "replaced"
    backup.mkdir()
    for old in existing_files(str(prefix)):  # only there with --force
        set_aside.append((backup / old.name, old))
        _move(old, backup / old.name)
    state = prefix.parent / STATE_FILE
    if state.exists():
        shutil.copy2(state, backup / STATE_FILE)
        set_aside.append((backup / STATE_FILE, state))
    base = prefix.name
    new_files = sorted(staging.glob(glob.escape(base) + ".data-*"))
    new_files += [staging / f"{base}.index", staging / f"{base}.meta", staging / STATE_FILE]
    for source in new_files:
        destination = prefix.parent / source.name
        moved.append(destination)  # before the move: an interrupt right after it is covered
        _move(source, destination)


def _move(source: Path, destination: Path) -> None:
    os.replace(source, destination)


def _roll_back(moved: list[Path], set_aside: list[tuple[Path, Path]]) -> None:
    for path in reversed(moved):
        if path.exists():
            path.unlink()
    for saved, original in reversed(set_aside):
        if saved.exists():
            os.replace(saved, original)


def _make_directories(directory: Path) -> list[Path]:
    """Create `directory` and its missing parents; return the ones created, deepest first."""
    created = []
    path = directory
    while not path.exists():
        created.append(path)
        path = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    return created


def _remove_directories(created: list[Path]) -> None:
    for path in created:
        try:
            path.rmdir()
        except OSError:
            return
