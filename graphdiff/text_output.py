"""Text files graphdiff writes for the user (`plan -o`, `apply --report`): written as `>` would.

A regular file (new or existing) is replaced whole through a temporary file beside it, so a
failure leaves the old file or nothing; it gets the mode `>` would give it (an existing file's
own mode, else 0666 less the umask), not tempfile's 0600. A symbolic link is written through,
like `>`, and stays a link. A character device or a FIFO (`/dev/null`, `/dev/stdout`, a pipe)
is written into directly: it is never replaced by a regular file. This process's own standard
output or error (`/dev/stdout` whatever it is redirected to, a file, a pipe, `>>` a log) is
written through its descriptor, in place, at its position; the CLI then prints nothing else
there (`reserved_stream`). A directory, a block device
or a socket, a remote path, or a path whose directory does not exist is BadInput (exit 2)
before anything is written.
"""

from __future__ import annotations

import os
import stat
import tempfile

from graphdiff import storage
from graphdiff.errors import BadInput


def check_text_target(path: str | os.PathLike) -> str:
    """The path to write at (a regular file's real path: links followed); BadInput when
    `path` cannot be written as text."""
    text = os.fspath(path)
    if storage.is_remote(text):
        raise BadInput(text, "is not a local file: plans and reports are written locally")
    if not text:
        raise BadInput("--output", "an empty file name")
    mode = _mode(text)
    if text.endswith(("/", os.sep)) or (mode is not None and stat.S_ISDIR(mode)):
        raise BadInput(text, "is a directory; give a file name")
    if mode is not None and not stat.S_ISREG(mode):
        # /dev/stdout is a link to /proc/self/fd/1, whose "target" (pipe:[...]) is no path.
        if not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
            raise BadInput(text, "is not a regular file, a character device or a pipe")
        if not os.access(text, os.W_OK):
            raise BadInput(text, "cannot be written: permission denied")
        return text
    real = os.path.realpath(text)
    directory = os.path.dirname(real)
    if not os.path.isdir(directory):
        raise BadInput(text, f"its directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise BadInput(text, f"cannot be written: its directory {directory} is not writable")
    return real


def standard_stream(path: str | os.PathLike | None) -> int | None:
    """1 or 2 when `path` is this process's standard output or error (`/dev/stdout`, or the
    very file or pipe it goes to); None otherwise."""
    if path is None or storage.is_remote(path):
        return None
    text = os.fspath(path)
    try:
        target = os.stat(text)
    except (OSError, ValueError):
        return None
    named = os.path.basename(text)
    for descriptor in (2, 1) if named in ("stderr", "2") else (1, 2):
        try:
            status = os.fstat(descriptor)
        except OSError:
            continue
        if (status.st_dev, status.st_ino) == (target.st_dev, target.st_ino):
            return descriptor
    return None


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` at `path` whole, as described above."""
    target = check_text_target(path)
    mode = _mode(target)
    descriptor = standard_stream(path)
    try:
        if descriptor is not None:
            _write_descriptor(descriptor, text.encode())
        elif mode is not None and not stat.S_ISREG(mode):  # a device or a pipe: straight into it
            with open(target, "w") as stream:
                stream.write(text)
        else:
            _replace(target, text, mode)
    except OSError as error:
        raise BadInput(path, f"cannot be written: {error.strerror or error}") from None


def _write_descriptor(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _replace(real: str, text: str, mode: int | None) -> None:
    directory, name = os.path.split(real)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.chmod(temporary, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
        os.replace(temporary, real)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def _mode(path: str) -> int | None:
    try:
        return os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
