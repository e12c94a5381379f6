"""Publishing a checkpoint on a store without atomic renames (`gs://`, `s3://`, `hdfs://`, ...).

Such stores have no directory to rename into place and move files by copying them. The bundle
and `.meta` are written under a temporary prefix beside the output (`.graphdiff-tmp-<token>.*`,
with an `.owner` file naming the writing process), then moved to their names:
the data shards first, then the `.meta`, then the `.index` — TensorFlow's readers open a
checkpoint by its index, so they find it only once its data is whole — and the directory's
`checkpoint` state file is written last. On failure everything written or moved is deleted.

`--force` on such a store deletes the old checkpoint's files just before its replacement is
moved in: a failure after that point leaves no checkpoint at the prefix, neither old nor new.
The next apply beside a killed one deletes its temporary files.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Callable

from graphdiff import storage
from graphdiff.apply.checkpoint_files import (
    EXISTS,
    STATE_FILE,
    existing_files,
    owner_gone,
    owner_record,
    state_text,
)
from graphdiff.errors import BadInput

TEMPORARY = ".graphdiff-tmp-"  # short: the checkpoint's own name may be long


def write_remote(prefix: str, write: Callable[[str], None], force: bool = False) -> None:

    directory, base = storage.split(prefix)
    temporary = storage.join(directory, f"{TEMPORARY}{secrets.token_hex(6)}")
    moved: list[str] = []
    try:
        storage.makedirs(directory)
        remove_abandoned_temporaries(directory)
        storage.write_bytes(temporary + ".owner", json.dumps(owner_record()).encode())
        write(temporary)
        replaced = existing_files(prefix)
        if replaced and not force:  # appeared while we were writing
            raise BadInput(prefix, EXISTS)
        for old in sorted(replaced, key=lambda p: not p.endswith(".index")):
            storage.remove(old)  # only there with --force; the index first: it goes unreadable
        for path in _published_order(temporary):
            destination = prefix + path[len(temporary) :]
            storage.rename(path, destination)
            moved.append(destination)
        state_file = storage.join(directory, STATE_FILE)
        old_state = storage.read_bytes(state_file).decode() if storage.exists(state_file) else None
        state = state_text(storage.split(prefix)[1], old_state)
        storage.write_bytes(state_file, state.encode())
    except BaseException as error:
        for path in moved + _written(temporary):
            _try(storage.remove, path)
        if isinstance(error, OSError):
            raise BadInput(prefix, f"cannot be written: {error.strerror or error}") from None
        raise
    finally:
        _try(storage.remove, temporary + ".owner")


def _published_order(temporary: str) -> list[str]:
    data = storage.glob(storage.escape(temporary) + ".data-*")
    return data + [temporary + ".meta", temporary + ".index"]


def remove_abandoned_temporaries(directory: str) -> list[str]:
    """Delete the temporary files of applies on this machine that are gone (killed)."""
    removed = []
    for owner_file in storage.glob(storage.join(directory, f"{TEMPORARY}*.owner")):
        try:
            owner = json.loads(storage.read_bytes(owner_file))
        except (OSError, ValueError):
            continue
        if not owner_gone(owner):
            continue
        temporary = owner_file[: -len(".owner")]
        for path in storage.glob(storage.escape(temporary) + ".*"):
            _try(storage.remove, path)
            removed.append(path)
    return removed


def _written(temporary: str) -> list[str]:
    """The temporary files to delete after a failure; none found when the store is out of
    reach (the failure being reported is then that one)."""
    try:
        return storage.glob(storage.escape(temporary) + ".*")
    except OSError:
        return []


def _try(action, path: str) -> None:
    with contextlib.suppress(OSError):
        action(path)
