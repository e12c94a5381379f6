"""Checkpoint files on disk: a new checkpoint appears at its prefix whole, or not at all.

A checkpoint is several files (`.data-*`, `.index`, `.meta`, the directory's `checkpoint`
state file). `write_atomically` lets the writer fill a staging directory and then publishes:

- when the output's directory does not exist yet, the staging directory holds that directory,
  built whole, and one rename publishes it: at no moment is part of it visible;
- otherwise the files are moved into the existing directory one by one (data, index, meta,
  then the state file), under a journal. A failure undoes every move and puts back what
  `--force` replaced; a `kill -9` between two moves leaves the journal, and the next
  `write_atomically` beside it (the next apply) undoes those moves before doing anything.

A staging directory is named `.graphdiff-staging-*` and records its owner's pid and host;
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
from graphdiff.tf_import import tensorflow

STATE_FILE = "checkpoint"
EXISTS = "a checkpoint exists here; pass --force to replace it"
STAGING = ".graphdiff-staging-"
_OWNER, _JOURNAL, _REPLACED = "owner", "journal.json", "replaced"
_ORPHAN_AGE = 60.0  # seconds: a staging directory without an owner file is then abandoned


_LONGEST_SUFFIX = len(".data-00000-of-00001")
_NAME_MAX = 255  # bytes in a file name, on every common file system


def checked_prefix(text: str) -> str:
    """The prefix made absolute; BadInput for an empty one, a directory, a name too long."""
    if not text:
        raise BadInput("--output", "an empty checkpoint prefix; give one such as DIR/model.ckpt")
    # A remote store may call any prefix of its objects a directory: trust only a final "/".
    if text.endswith(("/", os.sep)) or (not storage.is_remote(text) and storage.isdir(text)):
        raise BadInput(text, "names a directory; give a checkpoint prefix such as DIR/model.ckpt")
    name = storage.split(text)[1]
    if len(name.encode()) + _LONGEST_SUFFIX > _NAME_MAX:
        raise BadInput(
            text,
            f"the name is too long: its data files' names would pass {_NAME_MAX} bytes",
        )
    return storage.absolute(text)


def existing_files(prefix: str) -> list[str]:
    """The files of a checkpoint at `prefix` (not the directory's state file)."""
    found = [prefix + suffix for suffix in (".index", ".meta")]
    directory = storage.split(prefix)[0]
    if not storage.isdir(directory):
        return []
    shards = storage.glob(storage.escape(prefix) + ".data-*")
    return [path for path in found if storage.exists(path)] + shards


def state_text(name: str, existing: str | None = None) -> str:
    """The `checkpoint` state file of a directory where checkpoint `name` was just written.

    Like Saver, it makes `name` the latest and keeps the checkpoints the directory's state file
    already listed (`existing`, its text), so that writing beside a training run's checkpoints
    does not lose them.
    """
    tensorflow()  # first: a bare `import tensorflow...` would print its start-up chatter
    from google.protobuf import text_format
    from tensorflow.python.training import checkpoint_state_pb2

    state = checkpoint_state_pb2.CheckpointState()
    if existing:
        try:
            text_format.Parse(existing, state)
        except text_format.ParseError:
            state = checkpoint_state_pb2.CheckpointState()  # unreadable: TF would ignore it too
    kept = [path for path in state.all_model_checkpoint_paths if path != name]
    del state.all_model_checkpoint_paths[:]
    state.all_model_checkpoint_paths.extend([*kept, name])
    state.model_checkpoint_path = name
    return text_format.MessageToString(state)


def write_atomically(prefix: str, write: Callable[[str], None], force: bool = False) -> None:
    """Let `write(staging_prefix)` write the bundle and `.meta`, then publish them with the
    directory's `checkpoint` state file (module docstring).

    On any failure, KeyboardInterrupt included, nothing new is left at the prefix, a checkpoint
    that --force was replacing is put back, and the staging directory is removed. An OSError
    while writing or publishing (a full disk, a read-only directory) becomes a BadInput naming
    the prefix; so does a checkpoint that appeared at the prefix meanwhile, unless `force`.
    """
    if storage.is_remote(prefix):
        from graphdiff.apply.remote_files import write_remote

        write_remote(prefix, write, force)
        return
    directory = Path(prefix).parent
    existing = _nearest_existing(directory)
    remove_abandoned_staging(existing)
    staging = _guarded(prefix, lambda: make_staging(existing))
    try:
        if existing != directory:
            _write_and_publish_tree(
                staging, existing, directory.relative_to(existing), prefix, write
            )
        else:
            staged = staging / Path(prefix).name
            _guarded(prefix, lambda: _write_with_state(write, staged, directory / STATE_FILE))
            _guarded(prefix, lambda: _publish_files(staging, Path(prefix), force))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_and_publish_tree(staging: Path, parent: Path, relative: Path, prefix: str, write):
    """Build the missing directories with the checkpoint inside, then rename them into place."""
    inside = staging / "tree" / relative
    inside.mkdir(parents=True)
    _guarded(prefix, lambda: _write_with_state(write, inside / Path(prefix).name, None))
    top = parent / relative.parts[0]
    try:
        os.rename(staging / "tree" / relative.parts[0], top)
    except OSError as error:
        raise BadInput(top, f"cannot be created: {error.strerror}") from None


def _write_with_state(write: Callable[[str], None], staged: Path, state: Path | None) -> None:
    """Write the checkpoint, and the state file it will publish with (keeping `state`'s list)."""
    write(str(staged))
    existing = state.read_text() if state is not None and state.is_file() else None
    (staged.parent / STATE_FILE).write_text(state_text(staged.name, existing))


def _guarded(prefix: str, action: Callable[[], object]):
    """`action()`; an OSError (no space, read-only, ...) as a BadInput naming the prefix."""
    try:
        return action()
    except OSError as error:
        raise BadInput(prefix, f"cannot be written: {error.strerror or error}") from None


# --- publishing into an existing directory, under a journal ----------------------------------


def _publish_files(staging: Path, prefix: Path, force: bool) -> None:
    base, directory = prefix.name, prefix.parent
    if existing_files(str(prefix)) and not force:  # appeared while we were writing
        raise BadInput(prefix, EXISTS)
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


def make_staging(directory: Path) -> Path:
    """A new staging directory (short-named: the checkpoint's own name may be long), with its
    owner recorded, so that the next writer beside it removes it once its owner is gone."""
    staging = Path(tempfile.mkdtemp(prefix=STAGING, dir=directory))
    _write_json(staging / _OWNER, owner_record())
    return staging


def remove_abandoned_staging(directory: Path) -> list[Path]:
    """Remove the staging directories in `directory` whose apply is gone; undo half publishes."""
    removed = []
    for staging in sorted(directory.glob(f"*{STAGING}*")):
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
