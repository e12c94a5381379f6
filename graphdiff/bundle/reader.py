"""Read a tensor bundle (TensorFlow's V2 checkpoint) entry by entry, without a session.

The index is parsed here (`table.read_table` + `BundleEntryProto`), so that a tensor's bytes
can be located in its `.data-*` shard and carried over as they are, their crc32c checked on
the way, or decoded into numpy (`BundleReader.array`), slices put together.
"""

from __future__ import annotations

import itertools
import math
import mmap
import os
import stat
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from graphdiff import storage
from graphdiff.bundle import slices as slicing
from graphdiff.bundle.table import TableError, crc32c, get_varint, read_table, unmask
from graphdiff.errors import BadInput
from graphdiff.tf_import import tensorflow

HEADER_KEY = b""
DT_STRING = 7
CHUNK = 8 << 20  # bytes per read when carrying a tensor over


def data_path(prefix: str, shard: int, shards: int) -> str:
    return f"{prefix}.data-{shard:05d}-of-{shards:05d}"


@dataclass(frozen=True)
class StoredSlice:
    """One stored piece of a sliced tensor: where it lies in the full tensor, and its entry."""

    extent: slicing.Extent
    entry: object  # BundleEntryProto


class BundleReader:
    """The index of the checkpoint at `prefix`; raises BadInput naming the file at fault."""

    def __init__(self, prefix: str):
        tensorflow()  # first: a bare `import tensorflow...` would print its start-up chatter
        from tensorflow.core.protobuf import tensor_bundle_pb2

        self.prefix = prefix
        self.index_path = f"{prefix}.index"
        try:
            rows = read_table(storage.read_bytes(self.index_path))
        except FileNotFoundError:
            raise BadInput(self.index_path, "no such file") from None
        except OSError as error:
            raise BadInput(self.index_path, f"cannot be read: {error.strerror or error}") from None
        except TableError as error:
            raise BadInput(
                self.index_path, f"cannot be read as a checkpoint index: {error}"
            ) from None
        if not rows or rows[0][0] != HEADER_KEY:
            raise BadInput(self.index_path, "cannot be read as a checkpoint index: no header")
        header = tensor_bundle_pb2.BundleHeaderProto()
        header.ParseFromString(rows[0][1])
        if header.endianness != tensor_bundle_pb2.BundleHeaderProto.LITTLE:
            raise BadInput(
                self.index_path, "a big-endian checkpoint; graphdiff reads little-endian"
            )
        self.num_shards = header.num_shards
        self._entries = {}
        for key, value in rows[1:]:
            entry = tensor_bundle_pb2.BundleEntryProto()
            entry.ParseFromString(value)
            self._entries[key] = entry

    def names(self) -> Iterator[str]:
        """The tensors' names (slice keys left out: they belong to their full tensor)."""
        for key in self._entries:
            if not key.startswith(b"\0"):
                yield key.decode()

    def specs(self) -> dict:
        """Key -> TensorSpec (dtype name, full shape) of every tensor, as the index says."""
        from graphdiff.loading import TensorSpec

        tf = tensorflow()
        return {
            key: TensorSpec(
                tf.dtypes.as_dtype(entry.dtype).name, tuple(d.size for d in entry.shape.dim)
            )
            for key, entry in ((k, self.entry(k)) for k in self.names())
        }

    def entry(self, key: str):
        """The BundleEntryProto of tensor `key`, or None."""
        return self._entries.get(key.encode())

    def stored_slices(self, key: str) -> list[StoredSlice]:
        """The pieces a sliced tensor is stored in (empty for a tensor stored whole)."""
        pieces = []
        for proto in self.entry(key).slices:
            extent = slicing.extent_from_proto(proto)
            entry = self._entries.get(slicing.slice_key(key, extent))
            if entry is None:
                raise BadInput(self.index_path, f"slice {extent} of {key!r} is listed but missing")
            pieces.append(StoredSlice(extent, entry))
        return pieces

    def tensor_chunks(self, key: str) -> Iterator[memoryview] | None:
        """The whole tensor's bytes in C order, in pieces, without assembling it: possible when
        it is stored whole or in slices along its first dimension (as TensorFlow's partitioners
        cut variables), None otherwise (other cuts, strings). Every stored piece is checked
        against its crc32c once the stream has passed it."""
        entry = self.entry(key)
        dtype = tensorflow().dtypes.as_dtype(entry.dtype)
        if dtype.name in ("string", "variant", "resource"):
            return None
        shape = tuple(d.size for d in entry.shape.dim)
        if not entry.slices:  # sizes checked: a crc32c may match an index made so by hand
            self._check_size(entry, key, dtype.size * math.prod(shape))
            return self.chunks(entry, key)
        pieces = {piece.extent: piece.entry for piece in self.stored_slices(key)}
        rows = slicing.rows_in_order(list(pieces), shape)
        if rows is None:
            return None
        row_bytes = dtype.size * math.prod(shape[1:])
        for start, stop, extent in rows:
            self._check_size(pieces[extent], key, (stop - start) * row_bytes, f"slice {extent}: ")
        return itertools.chain.from_iterable(
            self.chunks(pieces[extent], key) for _, _, extent in rows
        )

    def data_file(self, entry) -> str:
        return data_path(self.prefix, entry.shard_id, self.num_shards)

    def chunks(self, entry, name: str) -> Iterator[memoryview]:
        """The stored bytes of `entry` (of tensor `name`) in pieces, checked against its crc32c.

        Each piece is a view of a reused buffer or of a mapped window of the file: valid
        until the next piece is read.
        """
        path = self.data_file(entry)
        crc = 0
        for chunk in self._read(path, entry.offset, entry.size):
            crc = crc32c(chunk, crc)
            yield chunk
        if entry.dtype == DT_STRING:  # its crc covers the lengths as integers, not as stored
            whole = b"".join(bytes(c) for c in self._read(path, entry.offset, entry.size))
            crc = string_crc(whole, entry)
        if crc != unmask(entry.crc32c):
            raise BadInput(
                path, f"tensor {name!r} cannot be read: its bytes do not match their checksum"
            )

    @staticmethod
    def _read(path: str, offset: int, size: int) -> Iterator[memoryview]:
        try:
            if storage.is_remote(path):
                yield from _read_stream(path, offset, size)
            else:
                yield from read_local(storage.local_path(path), offset, size)
        except FileNotFoundError:
            raise BadInput(
                path, "no such file: a shard of the checkpoint's data is missing"
            ) from None
        except OSError as error:
            raise BadInput(path, f"cannot be read: {error.strerror or error}") from None

    def array(self, key: str) -> np.ndarray:
        """The whole value of tensor `key` as numpy, its slices put together, crc32c checked.

        Decoded here rather than by TensorFlow's reader, which cannot assemble slices of
        float16, string or unsigned tensors. Memory: the tensor, once.
        """
        entry = self.entry(key)
        dtype = tensorflow().dtypes.as_dtype(entry.dtype)
        shape = tuple(d.size for d in entry.shape.dim)
        if not entry.slices:
            return self._decode(entry, key, dtype, shape)
        whole = np.empty(shape, object if dtype.name == "string" else dtype.as_numpy_dtype)
        for piece in self.stored_slices(key):
            region = slicing.region(piece.extent, shape)
            part_shape = tuple(s.stop - s.start for s in region)
            whole[region] = self._decode(piece.entry, key, dtype, part_shape)
        return whole

    def _check_size(self, entry, key: str, expected: int, part: str = "") -> None:
        """BadInput unless `entry` stores the `expected` bytes its dtype and shape take."""
        if entry.size != expected:
            raise BadInput(
                self.data_file(entry),
                f"tensor {key!r} cannot be read: {part}{entry.size} bytes stored for {expected}",
            )

    def _decode(self, entry, key: str, dtype, shape: tuple[int, ...]) -> np.ndarray:
        if dtype.name == "string":
            data = b"".join(bytes(chunk) for chunk in self.chunks(entry, key))
            return _strings(data, shape, self.data_file(entry), key)
        if dtype.name in ("variant", "resource"):
            raise BadInput(self.data_file(entry), f"tensor {key!r}: {dtype.name} cannot be copied")
        numpy_dtype = np.dtype(dtype.as_numpy_dtype)
        expected = math.prod(shape) * numpy_dtype.itemsize
        self._check_size(entry, key, expected)
        out, position = np.empty(expected, np.uint8), 0
        for chunk in self.chunks(entry, key):
            out[position : position + len(chunk)] = chunk
            position += len(chunk)
        return out.view(numpy_dtype).reshape(shape)


def _read_stream(path: str, offset: int, size: int) -> Iterator[memoryview]:
    """`size` bytes at `offset`, read into one reused buffer (remote stores)."""
    buffer = memoryview(bytearray(min(CHUNK, size)))
    with storage.open_read(path) as stream:
        stream.seek(offset)
        while size:
            count = stream.readinto(buffer[: min(CHUNK, size)])
            if not count:
                raise BadInput(path, "truncated: a tensor's bytes end early")
            size -= count
            yield buffer[:count]


def read_local(path: str, offset: int, size: int) -> Iterator[memoryview]:
    """`size` bytes at `offset` of a local file, as views of the file mapped CHUNK at a time:
    the bytes go from the page cache to the crc32c (and the output) without first being
    copied into a buffer (2 GiB read, checked and written in the time `cp` takes, against
    twice that through a buffer).
    A window is unmapped once its view is dropped, so at most two are mapped at a time. Small
    tensors (under SMALL bytes) are read with pread, which costs less than a mapping. The
    file's length is checked first; a file cut shorter by another process while it is being
    read would end this one (SIGBUS): nothing is published then, and the next apply removes
    the staging directory."""
    # Not blocking: a FIFO in a shard's place would otherwise wait for a writer forever.
    with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as stream:
        status = os.fstat(stream.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise BadInput(path, f"is {not_a_file(status.st_mode)}, not a shard of checkpoint data")
        if status.st_size < offset + size:
            raise BadInput(path, "truncated: a tensor's bytes end early")
        position, end, mappable = offset, offset + size, True
        while position < end:
            if end - position < SMALL or not mappable:  # pread: cheaper than a mapping
                count = min(CHUNK, end - position)
                data = os.pread(stream.fileno(), count, position)
                if len(data) < count:
                    raise BadInput(path, "truncated: a tensor's bytes end early")
                position += count
                yield memoryview(data)
                continue
            start = position - position % mmap.ALLOCATIONGRANULARITY
            stop = min(end, start + CHUNK)
            try:
                window = mmap.mmap(
                    stream.fileno(),
                    stop - start,
                    flags=_MAP_FLAGS,
                    prot=mmap.PROT_READ,
                    offset=start,
                )
            except OSError:  # a file system that cannot map files (some FUSE mounts): read it
                mappable = False
                continue
            view = memoryview(window)[position - start :]
            del window  # the view keeps it mapped as long as someone holds it
            yield view
            position = stop


def not_a_file(mode: int) -> str:
    """What a path that is not a regular file is, in words."""
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"))
    kinds += ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
    return next((words for test, words in kinds if test(mode)), "not a regular file")


SMALL = 1 << 20  # bytes left below which a tensor is read, not mapped
_MAP_FLAGS = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)  # pages read in at once


def _strings(data: bytes, shape, path: str, key: str) -> np.ndarray:
    """A string tensor from its stored layout: varint lengths, a checksum, then the bytes."""
    count = int(np.prod(shape, dtype=np.int64))
    lengths, position = [], 0
    for _ in range(count):
        length, position = get_varint(data, position)
        lengths.append(length)
    position += 4  # the lengths' checksum, already checked with the rest
    items = np.empty(count, object)
    for i, length in enumerate(lengths):
        items[i] = data[position : position + length]
        position += length
    if position != len(data):
        raise BadInput(path, f"tensor {key!r} cannot be read: its strings do not fill it")
    return items.reshape(shape)


def string_crc(data: bytes, entry) -> int:
    """The crc32c TensorFlow keeps for a string tensor's stored bytes (see writer.string_bytes)."""
    count = 1
    for dim in entry.shape.dim:
        count *= dim.size
    position, crc, total = 0, 0, 0
    try:
        for _ in range(count):
            length, position = get_varint(data, position)
            total += length
            crc = crc32c(struct.pack("<I" if length <= 0xFFFFFFFF else "<Q", length), crc)
    except TableError:
        return -1
    crc = crc32c(data[position : position + 4], crc)
    return crc32c(data[position + 4 :], crc) if len(data) == position + 4 + total else -1
