"""Keep what user code says while graphdiff runs it: warnings, log lines, prints.

Building a new graph runs the user's `.py` (and the libraries it calls: tf_slim warns that
`layer.apply` is deprecated). Those lines would land between graphdiff's own on standard error,
and prints would corrupt a plan written to standard output. `collected(messages)` gathers them
into a list instead; the CLI counts them and shows them with --verbose. Output written below
Python — `os.system`, a subprocess, C code, `os.write(1, ...)` — is caught too: file
descriptors 1 and 2 point to a temporary file while the user's code runs.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import warnings

_LOGGERS = ("", "tensorflow", "absl")  # the root logger, and the two TensorFlow writes to


class _Keeper(logging.Handler):
    def __init__(self, messages: list[str]):
        super().__init__(logging.DEBUG)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.levelname.lower()}: {record.getMessage()}")


@contextlib.contextmanager
def collected(messages: list[str]):
    """Within the block, warnings, log records and prints are appended to `messages`."""
    keeper = _Keeper(messages)
    saved = []
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.propagate))
        logger.handlers = [keeper]
        logger.propagate = False
    printed = io.StringIO()
    with (
        warnings.catch_warnings(record=True) as caught,
        contextlib.redirect_stdout(printed),
        _descriptors_caught(messages),
    ):
        warnings.simplefilter("always")
        try:
            yield messages
        finally:
            for logger, handlers, propagate in saved:
                logger.handlers = handlers
                logger.propagate = propagate
            messages.extend(
                f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught
            )
            messages.extend(f"printed: {line}" for line in printed.getvalue().splitlines())


@contextlib.contextmanager
def _descriptors_caught(messages: list[str]):
    """File descriptors 1 and 2 go to a temporary file within the block; its lines are kept."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(Exception):
            stream.flush()
    with tempfile.TemporaryFile() as sink:
        saved = [_dup(1), _dup(2)]
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            yield
        finally:
            for stream in (sys.__stdout__, sys.__stderr__):  # what Python buffered meanwhile
                with contextlib.suppress(Exception):
                    stream.flush()
            for descriptor, copy in ((1, saved[0]), (2, saved[1])):
                if copy is None:  # it was closed: closed again
                    os.close(descriptor)
                else:
                    os.dup2(copy, descriptor)
                    os.close(copy)
            sink.seek(0)
            text = sink.read().decode(errors="replace")
            messages.extend(f"printed: {line}" for line in text.splitlines() if line.strip())


def _dup(descriptor: int) -> int | None:
    try:
        return os.dup(descriptor)
    except OSError:  # closed (`graphdiff plan ... >&-`)
        return None
