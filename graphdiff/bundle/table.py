"""The sorted string table of a checkpoint's `.index`, read and written without TensorFlow.

A tensor bundle's index is a LevelDB-style table (TensorFlow's `core/lib/io/table_builder.cc`):
data blocks of prefix-compressed key/value entries with restart points, an empty metaindex
block, an index block mapping a separator key to each data block, and a 48-byte footer. Every
block ends with a type byte (0: uncompressed) and the masked crc32c of block and type, which
TensorFlow always verifies. `write_table` lays blocks out exactly as TensorFlow's TableBuilder
does with the options BundleWriter uses (256 KiB blocks, a restart every 16 keys, no
compression), so an index written here is byte for byte the one TensorFlow would write.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import crc32c as _crc32c

BLOCK_SIZE = 262144
RESTART_INTERVAL = 16
MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
TRAILER_SIZE = 5
UNCOMPRESSED = 0


class TableError(ValueError):
    """The bytes are not a table this module can read (damaged, compressed, not a table)."""


# --- crc32c as LevelDB and TensorFlow store it ------------------------------------------------

_MASK_DELTA = 0xA282EAD8


def crc32c(data, crc: int = 0) -> int:
    """crc32c of `data` (any bytes-like object: bytes, bytearray, memoryview), extending `crc`."""
    return _crc32c.crc32c(data, crc)


def mask(crc: int) -> int:
    """The stored form of a crc: rotated and offset, so that a crc of crcs is not trivial."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def unmask(masked: int) -> int:
    rot = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


# --- varints -------------------------------------------------------------------------------------


def put_varint(out: bytearray, value: int) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def get_varint(data, position: int) -> tuple[int, int]:
    """(value, position after it); TableError when the bytes end inside it."""
    result, shift = 0, 0
    while position < len(data) and shift <= 63:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, position
        shift += 7
    raise TableError("truncated varint")


# --- writing -------------------------------------------------------------------------------------


class _Block:
    def __init__(self, restart_interval: int):
        self.interval = restart_interval
        self.reset()

    def reset(self) -> None:
        self.buffer = bytearray()
        self.restarts = [0]
        self.counter = 0
        self.last_key = b""

    def empty(self) -> bool:
        return not self.buffer

    def size_estimate(self) -> int:
        return len(self.buffer) + 4 * len(self.restarts) + 4

    def add(self, key: bytes, value: bytes) -> None:
        shared = 0
        if self.counter < self.interval:
            limit = min(len(key), len(self.last_key))
            while shared < limit and key[shared] == self.last_key[shared]:
                shared += 1
        else:
            self.restarts.append(len(self.buffer))
            self.counter = 0
        for number in (shared, len(key) - shared, len(value)):
            put_varint(self.buffer, number)
        self.buffer += key[shared:]
        self.buffer += value
        self.last_key = key
        self.counter += 1

    def finish(self) -> bytes:
        tail = struct.pack(f"<{len(self.restarts) + 1}I", *self.restarts, len(self.restarts))
        return bytes(self.buffer) + tail


def _shortest_separator(start: bytes, limit: bytes) -> bytes:
    common = 0
    while common < min(len(start), len(limit)) and start[common] == limit[common]:
        common += 1
    if common >= min(len(start), len(limit)):
        return start
    byte = start[common]
    if byte < 0xFF and byte + 1 < limit[common]:
        return start[:common] + bytes([byte + 1])
    return start


def _short_successor(key: bytes) -> bytes:
    for i, byte in enumerate(key):
        if byte != 0xFF:
            return key[:i] + bytes([byte + 1])
    return key


def _encode_handle(offset: int, size: int) -> bytes:
    out = bytearray()
    put_varint(out, offset)
    put_varint(out, size)
    return bytes(out)


def write_table(entries: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The table holding `entries` (keys strictly increasing), as TensorFlow would write it."""
    out = bytearray()
    data, index = _Block(RESTART_INTERVAL), _Block(1)
    pending: tuple[int, int] | None = None
    last_key = None

    def flush() -> None:
        nonlocal pending
        if not data.empty():
            pending = _write_block(out, data.finish())
            data.reset()

    for key, value in entries:
        if last_key is not None:
            if key <= last_key:
                raise ValueError(f"table keys out of order: {key!r} after {last_key!r}")
            if len(key) + len(value) >= 2 * BLOCK_SIZE:
                flush()
        if pending is not None:
            index.add(_shortest_separator(last_key, key), _encode_handle(*pending))
            pending = None
        data.add(key, value)
        last_key = key
        if data.size_estimate() >= BLOCK_SIZE:
            flush()
    flush()
    metaindex = _write_block(out, _Block(RESTART_INTERVAL).finish())
    if pending is not None:
        index.add(_short_successor(last_key), _encode_handle(*pending))
    index_handle = _write_block(out, index.finish())
    footer = _encode_handle(*metaindex) + _encode_handle(*index_handle)
    out += footer.ljust(40, b"\0") + struct.pack("<Q", MAGIC)
    return bytes(out)


def _write_block(out: bytearray, contents: bytes) -> tuple[int, int]:
    handle = (len(out), len(contents))
    crc = crc32c(bytes([UNCOMPRESSED]), crc32c(contents))
    out += contents
    out += struct.pack("<BI", UNCOMPRESSED, mask(crc))
    return handle


# --- reading -------------------------------------------------------------------------------------


def read_table(data: bytes) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of a table, in key order; TableError when it cannot be read."""
    if len(data) < FOOTER_SIZE:
        raise TableError("too short to be a checkpoint index")
    (magic,) = struct.unpack_from("<Q", data, len(data) - 8)
    if magic != MAGIC:
        raise TableError("not a checkpoint index (bad magic number)")
    footer = data[len(data) - FOOTER_SIZE :]
    _, position = _decode_handle(footer, 0)
    index_handle, _ = _decode_handle(footer, position)
    entries = []
    for _, handle_bytes in _read_block(data, index_handle):
        handle, _ = _decode_handle(handle_bytes, 0)
        entries += _read_block(data, handle)
    return entries


def _decode_handle(data, position: int) -> tuple[tuple[int, int], int]:
    offset, position = get_varint(data, position)
    size, position = get_varint(data, position)
    return (offset, size), position


def _read_block(data: bytes, handle: tuple[int, int]) -> list[tuple[bytes, bytes]]:
    offset, size = handle
    if offset + size + TRAILER_SIZE > len(data):
        raise TableError("truncated block")
    contents = data[offset : offset + size]
    kind, stored = struct.unpack_from("<BI", data, offset + size)
    if crc32c(bytes([kind]), crc32c(contents)) != unmask(stored):
        raise TableError("block checksum mismatch")
    if kind != UNCOMPRESSED:
        raise TableError("compressed index blocks (written by TensorFlow 1.0) are not supported")
    if size < 4:
        raise TableError("block too short")
    (restarts,) = struct.unpack_from("<I", contents, size - 4)
    end = size - 4 - 4 * restarts
    if end < 0:
        raise TableError("bad restart array")
    entries, position, key = [], 0, b""
    while position < end:
        shared, position = get_varint(contents, position)
        unshared, position = get_varint(contents, position)
        length, position = get_varint(contents, position)
        if shared > len(key) or position + unshared + length > end:
            raise TableError("bad block entry")
        key = key[:shared] + contents[position : position + unshared]
        position += unshared
        entries.append((key, contents[position : position + length]))
        position += length
    return entries
