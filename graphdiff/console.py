"""Standard output and error as a command line needs them, whatever is at their other end.

`guarded(stream, name)` wraps a text stream so that every command of the CLI meets the same
faults the same way: a reader that went away (`graphdiff show plan.json | head -1`) raises
`Closed`, which the CLI turns into a quiet exit 141 (as a shell expects of SIGPIPE); a stream
that cannot take the text (`> /dev/full`, an I/O error) raises BadInput naming the stream; a
stream whose encoding lacks a character (PYTHONIOENCODING=ascii) gets ASCII for the
typographic marks graphdiff prints (`→` as `->`) and backslash escapes for other characters.
"""

from __future__ import annotations

import codecs
import os
import sys

from graphdiff.errors import BadInput

# Marks graphdiff itself prints, as ASCII for a stream that cannot encode them.
ASCII_MARKS = str.maketrans(
    {
        "\u2192": "->",
        "\u2190": "<-",
        "\u2193": "v",
        "\u2026": "...",
        "\u00b7": "-",
        "\u25ad": "[]",
        "\u2236": ":",
    }
)


MARKS = "".join(chr(c) for c in ASCII_MARKS)


def can_print(text: str, stream=None) -> bool:
    """Standard output (or `stream`) can encode every character of `text`."""
    encoding = getattr(stream or sys.stdout, "encoding", None)
    if not encoding:
        return True
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


class Closed(Exception):
    """The reader of standard output or error went away (EPIPE)."""


class GuardedStream:
    """A text stream whose write faults become Closed or BadInput; other attributes pass."""

    def __init__(self, stream, name: str):
        self._stream = stream
        self._name = name

    def write(self, text: str) -> int:
        text = encodable(text, getattr(self._stream, "encoding", None))
        return self._guard(lambda: self._stream.write(text))

    def flush(self) -> None:
        self._guard(self._stream.flush)

    def _guard(self, action):
        try:
            return action()
        except BrokenPipeError:
            _point_at_devnull(self._stream)
            raise Closed(self._name) from None
        except OSError as error:
            raise BadInput(self._name, f"cannot be written: {error.strerror or error}") from None

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def encodable(text: str, encoding: str | None) -> str:
    """`text` unchanged when `encoding` can hold it; else marks as ASCII, the rest escaped."""
    if not encoding:
        return text
    try:
        text.encode(encoding)
        return text
    except UnicodeEncodeError:
        pass
    except LookupError:  # an encoding Python does not know: leave the stream to complain
        return text
    codec = codecs.lookup(encoding).name
    return text.translate(ASCII_MARKS).encode(codec, "backslashreplace").decode(codec)


def _point_at_devnull(stream) -> None:
    """After EPIPE: point the stream's file descriptor at /dev/null, so that Python's last
    flush at exit finds no closed pipe (else it prints 'Exception ignored ... BrokenPipe')."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass  # no file descriptor (a StringIO in a test): nothing will flush it at exit
