"""Checkpoint files on disk: a new checkpoint appears at its prefix whole, or not at all.

A checkpoint is several files (`.data-*`, `.index`, `.meta`, the directory's `checkpoint`
state file). `write_atomically` lets the writer fill a staging directory and then publishes:

- when the output's directory does not exist yet, the staging directory holds that directory,
  built whole, and one rename publishes it: at no moment is part of it visible;
- otherwise the files are moved into the existing directory one by one (data, index, meta,
  then the state file), under a journal. A failure undoes every move and puts back what
  `--force` replaced; a `kill -9` between two moves leaves the journal, and the next
  `write_atomically` beside it (the next apply) undoes those moves before doing anything.

A staging directory is named `.<name>.graphdiff-staging-*` and records its owner's pid and host;
one whose owner is gone (a killed apply) is removed by the next apply. Stores without renames
of directories (`gs://`, `s3://`, ...) publish differently: remote_files.py.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from graphdiff import storage
from graphdiff.errors import BadInput

STATE_FILE = "checkpoint"
STAGING = ".graphdiff-staging-"
_OWNER, _JOURNAL, _REPLACED = "owner", "journal.json", "replaced"
_ORPHAN_AGE = 60.0  # seconds: a staging directory without an owner file is then abandoned


def checked_prefix(text: str) -> str:
    # A remote store may call any prefix of its objects a directory: trust only a final "/".
    if text.endswith(("/", os.sep)) or (not storage.is_remote(text) and storage.isdir(text)):
        raise BadInput(text, "names a directory; give a checkpoint prefix such as DIR/model.ckpt")
    return storage.absolute(text)


def existing_files(prefix: str) -> list[str]:
    """The files of a checkpoint at `prefix` (not the directory's state file)."""
    found = [prefix + suffix for suffix in (".index", ".meta")]
    directory = storage.split(prefix)[0]
    if not storage.isdir(directory):
        return []
    shards = storage.glob(storage.escape(prefix) + ".data-*")
    return [path for path in found if storage.exists(path)] + shards


def state_text(name: str) -> str:
    """The `checkpoint` state file naming checkpoint `name` of its directory (as Saver writes)."""
    quoted = json.dumps(name, ensure_ascii=False)
    return f"model_checkpoint_path: {quoted}\nall_model_checkpoint_paths: {quoted}\n"


def write_atomically(prefix: str, write: Callable[[str], None]) -> None:
    """Let `write(staging_prefix)` write the bundle and `.meta`, then publish them with the
    directory's `checkpoint` state file (module docstring).

    On any failure, KeyboardInterrupt included, nothing new is left at the prefix, a checkpoint
    that --force was replacing is put back, and the staging directory is removed. An OSError
    while writing or publishing (a full disk) becomes a BadInput naming the prefix.
    """
    if storage.is_remote(prefix):
        from graphdiff.remote_files import write_remote

        write_remote(prefix, write)
        return
    directory = Path(prefix).parent
    existing = _nearest_existing(directory)
    remove_abandoned_staging(existing)
    if existing != directory:
        relative = directory.relative_to(existing)
        staging = _make_staging(existing, relative.parts[0])
        try:
            _write_and_publish_tree(staging, existing, relative, prefix, write)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return
    staging = _make_staging(directory, Path(prefix).name)
    try:
        _guarded(prefix, lambda: _write_with_state(write, staging / Path(prefix).name))
        _guarded(prefix, lambda: _publish_files(staging, Path(prefix)))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_and_publish_tree(staging: Path, parent: Path, relative: Path, prefix: str, write):
    """Build the missing directories with the checkpoint inside, then rename them into place."""
    inside = staging / "tree" / relative
    inside.mkdir(parents=True)
    _guarded(prefix, lambda: _write_with_state(write, inside / Path(prefix).name))
    top = parent / relative.parts[0]
    try:
        os.rename(staging / "tree" / relative.parts[0], top)
    except OSError as error:
        raise BadInput(top, f"cannot be created: {error.strerror}") from None


def _write_with_state(write: Callable[[str], None], staging_prefix: Path) -> None:
    write(str(staging_prefix))
    (staging_prefix.parent / STATE_FILE).write_text(state_text(staging_prefix.name))


def _guarded(prefix: str, action: Callable[[], None]) -> None:
    try:
        action()
    except OSError as error:
        raise BadInput(prefix, f"cannot be written: {error.strerror or error}") from None


# --- publishing into an existing directory, under a journal ----------------------------------


def _publish_files(staging: Path, prefix: Path) -> None:
    base, directory = prefix.name, prefix.parent
    new_files = sorted(staging.glob(glob.escape(base) + ".data-*"))
    new_files += [staging / f"{base}.index"]
    new_files += [staging / f"{base}.meta"] if (staging / f"{base}.meta").exists() else []
    new_files += [staging / STATE_FILE]  # a tf.Module's checkpoint has no .meta
    backup = staging / _REPLACED
    backup.mkdir()
    replaced = [(backup / Path(old).name, Path(old)) for old in existing_files(str(prefix))]
    state = directory / STATE_FILE
    if state.exists():
        replaced.append((backup / STATE_FILE, state))
    journal = {
        "moves": [[str(directory / f.name), os.stat(f).st_ino] for f in new_files],
        "replaced": [[str(saved), str(original)] for saved, original in replaced],
    }
    _write_json(staging / _JOURNAL, journal)
    try:
        for saved, original in replaced:
            if original.name == STATE_FILE:
                shutil.copy2(original, saved)  # the state file is overwritten, not moved away
            else:
                _move(original, saved)
        for source in new_files:
            _move(source, directory / source.name)
    except BaseException:
        _undo(journal)
        raise
    (staging / _JOURNAL).unlink()  # published: from here on there is nothing to undo


def _move(source: Path, destination: Path) -> None:
    os.replace(source, destination)


def _undo(journal: dict) -> None:
    """Remove what a publish moved into place (if still ours) and put back what it replaced."""
    for destination, inode in reversed(journal["moves"]):
        try:
            if os.stat(destination).st_ino == inode:
                os.unlink(destination)
        except FileNotFoundError:
            pass
    for saved, original in reversed(journal["replaced"]):
        if os.path.exists(saved):
            os.replace(saved, original)


# --- staging directories --------------------------------------------------------------------


def _make_staging(directory: Path, name: str) -> Path:
    staging = Path(tempfile.mkdtemp(prefix=f".{name}{STAGING}", dir=directory))
    _write_json(staging / _OWNER, owner_record())
    return staging


def remove_abandoned_staging(directory: Path) -> list[Path]:
    """Remove the staging directories in `directory` whose apply is gone; undo half publishes."""
    removed = []
    for staging in sorted(directory.glob(f".*{STAGING}*")):
        if staging.is_dir() and _abandoned(staging):
            journal = staging / _JOURNAL
            if journal.exists():
                _undo(json.loads(journal.read_text()))
            shutil.rmtree(staging, ignore_errors=True)
            removed.append(staging)
    return removed


def _abandoned(staging: Path) -> bool:
    try:
        owner = json.loads((staging / _OWNER).read_text())
    except (OSError, ValueError):
        return time.time() - staging.stat().st_mtime > _ORPHAN_AGE
    return owner_gone(owner)


def owner_record() -> dict:
    """Who is writing: enough for a later apply to tell whether the writer is still alive."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


def owner_gone(owner: dict) -> bool:
    """The writer ran on this machine and its process has ended (killed, most likely).

    Another machine's writer (a shared disk) is not ours to judge: it counts as alive.
    """
    if not isinstance(owner, dict) or owner.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(owner["pid"]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError, KeyError, TypeError):
        return False
    return False


def _nearest_existing(directory: Path) -> Path:
    path = directory
    while not path.exists():
        path = path.parent
    if not path.is_dir():
        raise BadInput(path, "is a file, so no checkpoint directory can be made under it")
    return path


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data))
