"""Cut one stream of byte chunks into consecutive runs of given lengths.

A re-sliced tensor's stored bytes (3 parts read in row order) become the bytes of other parts
(2 written) without the tensor ever being whole in memory: each written part takes its length
from the stream. Chunks may be views of a buffer the source reuses, so a chunk is handed on
before the next one is read, and only a view of its rest is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator


class ByteStream:
    """>>> stream = ByteStream([b"abc", b"defg"]); [bytes(c) for c in stream.take(4)]
    [b'abc', b'd']
    """

    def __init__(self, chunks: Iterable):
        self._chunks = iter(chunks)
        self._rest = memoryview(b"")

    def take(self, count: int) -> Iterator[memoryview]:
        """The next `count` bytes, in pieces; ValueError if the stream ends first."""
        while count:
            if not self._rest:
                chunk = next(self._chunks, None)
                if chunk is None:
                    raise ValueError(f"the stream ended {count} bytes early")
                self._rest = memoryview(chunk).cast("B")
            piece, self._rest = self._rest[:count], self._rest[count:]
            count -= len(piece)
            yield piece

    def finish(self) -> None:
        """Read the stream to its end (its last checks run there); ValueError if bytes are left."""
        left = len(self._rest) + sum(len(chunk) for chunk in self._chunks)
        if left:
            raise ValueError(f"{left} bytes left over")


def same_bytes(first: Iterable, second: Iterable) -> bool:
    """Whether two chunk streams hold the same bytes, however each is cut; read side by side,
    so that neither is ever whole in memory."""
    other = ByteStream(second)
    try:
        for chunk in first:
            chunk, position = memoryview(chunk).cast("B"), 0
            for piece in other.take(len(chunk)):
                if bytes(piece) != bytes(chunk[position : position + len(piece)]):
                    return False
                position += len(piece)
        other.finish()
    except ValueError:  # one is longer than the other
        return False
    return True
