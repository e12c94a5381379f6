"""Slices of partitioned variables as a tensor bundle stores them.

A partitioned variable is saved as one key: its entry holds the full dtype and shape and a list
of `TensorSliceProto`, and each slice's bytes sit under a key of its own made by TensorFlow's
`checkpoint::EncodeTensorNameSlice` (`core/util/saved_tensor_slice_util.cc`): OrderedCode of
0, the name, the rank, then start and length of every dimension (length -1 for a whole one).

An `Extent` here is `(start, length)` per dimension, `length` None for "the whole dimension".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

Extent = tuple[tuple[int, int | None], ...]


# --- OrderedCode (tensorflow/core/lib/strings/ordered_code.cc) -----------------------------------


def _num_increasing(value: int) -> bytes:
    body = value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""
    return bytes([len(body)]) + body


_ESCAPES = {b"\x00": b"\x00\xff", b"\xff": b"\xff\x00"}


def _string(text: bytes) -> bytes:
    return re.sub(rb"[\x00\xff]", lambda m: _ESCAPES[m.group()], text) + b"\x00\x01"


def _signed_num_increasing(value: int) -> bytes:
    magnitude = ~value if value < 0 else value
    if magnitude < 64:
        return bytes([(0x80 ^ value) & 0xFF])
    length = _signed_length(magnitude)
    raw = (value & ((1 << 80) - 1)).to_bytes(10, "big")  # sign-extended to 10 bytes
    encoded = bytearray(raw[10 - length :])
    header = _HEADER_BITS[length]
    encoded[0] ^= header[0]
    encoded[1] ^= header[1]
    return bytes(encoded)


_HEADER_BITS = {
    2: (0xC0, 0),
    3: (0xE0, 0),
    4: (0xF0, 0),
    5: (0xF8, 0),
    6: (0xFC, 0),
    7: (0xFE, 0),
    8: (0xFF, 0),
    9: (0xFF, 0x80),
    10: (0xFF, 0xC0),
}


def _signed_length(magnitude: int) -> int:
    """Bytes OrderedCode uses for a number whose magnitude (n, or ~n if negative) is given."""
    return 1 + magnitude.bit_length() // 7


def slice_key(name: str, extent: Extent) -> bytes:
    """The bundle key under which the bytes of `extent` of tensor `name` are stored."""
    key = _num_increasing(0) + _string(name.encode()) + _num_increasing(len(extent))
    for start, length in extent:
        if length is None:  # TensorSlice's kFullExtent
            length = -1
        key += _signed_num_increasing(start) + _signed_num_increasing(length)
    return key


# --- extents ---------------------------------------------------------------------------------


def extent_from_proto(proto) -> Extent:
    """A TensorSliceProto as an Extent (an extent without a length is a whole dimension)."""
    return tuple((e.start, e.length if e.HasField("length") else None) for e in proto.extent)


def extent_to_proto(extent: Extent, proto) -> None:
    """Fill a TensorSliceProto as TensorFlow's TensorSlice::AsProto does."""
    for start, length in extent:
        dimension = proto.extent.add()
        if length is not None:
            dimension.start = start
            dimension.length = length


def partition_extent(offset: Sequence[int], shape: Sequence[int]) -> Extent:
    """The extent a part saved by TensorFlow's Saver has (every dimension explicit)."""
    return tuple((int(o), int(s)) for o, s in zip(offset, shape, strict=True))


def bounds(extent: Extent, full_shape: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """(start, stop) per dimension, whole dimensions resolved against `full_shape`."""
    return tuple(
        (0, size) if length is None else (start, start + length)
        for (start, length), size in zip(extent, full_shape, strict=True)
    )


def region(extent: Extent, full_shape: Sequence[int]) -> tuple[slice, ...]:
    """The numpy index of `extent` in a full tensor."""
    return tuple(slice(start, stop) for start, stop in bounds(extent, full_shape))


def row_range(extent: Extent, full_shape: Sequence[int]) -> tuple[int, int] | None:
    """(start, stop) along the first dimension when `extent` takes every other dimension whole
    (as TensorFlow's partitioners cut variables), else None. Such a slice is one contiguous run
    of the full tensor's bytes."""
    if not extent:
        return None
    ranges = bounds(extent, full_shape)
    if any(r != (0, size) for r, size in zip(ranges[1:], full_shape[1:], strict=True)):
        return None
    return ranges[0]


def rows_in_order(extents: Sequence[Extent], full_shape: Sequence[int]) -> list | None:
    """`extents` sorted by first row when they cut the tensor into consecutive row ranges that
    cover it exactly; else None. Returns [(start, stop, extent), ...]."""
    ranges = [row_range(extent, full_shape) for extent in extents]
    if None in ranges:
        return None
    rows = [(start, stop, extent) for (start, stop), extent in zip(ranges, extents, strict=True)]
    ordered = sorted(rows, key=lambda row: row[:2])
    position = 0
    for start, stop, _ in ordered:
        if start != position or stop < start:
            return None
        position = stop
    return ordered if position == full_shape[0] else None
