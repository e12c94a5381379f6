"""Write a tensor bundle (TensorFlow's V2 checkpoint) tensor by tensor, without a session.

As TensorFlow's BundleWriter (`core/util/tensor_bundle/tensor_bundle.cc`) does: tensor bytes
are appended to `.data-*` shards with a masked crc32c per entry, the index table is written
once at `finish()`, keys in byte order, behind the header entry. Bytes carried over from
another bundle keep their crc32c; a sliced (partitioned) tensor gets one entry holding its
slices and one entry per slice under its slice key. Several shards are filled by bytes, each
tensor going to the lightest shard so far.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
from collections.abc import Iterable, Sequence

import numpy as np

from graphdiff import storage
from graphdiff.bundle import slices as slicing
from graphdiff.bundle.reader import DT_STRING, HEADER_KEY, SMALL, data_path, read_local
from graphdiff.bundle.table import crc32c, mask, put_varint, unmask, write_table
from graphdiff.errors import BadInput
from graphdiff.tf_import import tensorflow

BUNDLE_VERSION = 1  # kTensorBundleVersion


class BundleWriter:
    """Fill `prefix.data-*` and `prefix.index`; `finish()` writes the index (call it last).

    >>> with BundleWriter("out/model.ckpt") as writer:  # doctest: +SKIP
    ...     writer.add_array(b"w", np.zeros([2, 3], np.float32), dtype_enum=1)
    ...     writer.finish()
    """

    def __init__(self, prefix: str, shards: int = 1, on_bytes=None):
        tensorflow()  # first: a bare `import tensorflow...` would print its start-up chatter
        from tensorflow.core.protobuf import tensor_bundle_pb2

        self._pb = tensor_bundle_pb2
        self.prefix = prefix
        # The shards stay open while tensors are added; close() (or leaving `with`) closes them.
        self._files = [storage.open_write(data_path(prefix, i, shards)) for i in range(shards)]
        self._sizes = [0] * shards
        self._entries: dict[bytes, object] = {}
        self._on_bytes = on_bytes or (lambda count: None)

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- adding tensors ------------------------------------------------------------------------

    def add_chunks(self, key: bytes, like, chunks: Iterable) -> None:
        """Store stored bytes as they are: `like` is their source entry (dtype, shape, crc32c)."""
        shard = self._lightest()
        entry = self._new_entry(key)
        entry.dtype = like.dtype
        entry.shape.CopyFrom(like.shape)
        entry.crc32c = like.crc32c
        entry.shard_id, entry.offset = shard, self._sizes[shard]
        entry.size = self._write(shard, chunks)

    def add_copy(self, key: bytes, like, source_path: str, name: str) -> bool:
        """Store stored bytes by a copy inside the kernel (`copy_file_range`, as `cp` does),
        from local shard `source_path` at `like`'s offset, then check what was written against
        `like`'s crc32c: the bytes checked are the bytes written. False, with nothing written,
        when this cannot be done (a remote side, a string tensor, whose crc32c is not over its
        stored bytes, a small tensor, a kernel that cannot copy between the two files); the
        caller then carries the bytes through memory (add_chunks)."""
        shard = self._lightest()
        target = self._files[shard]
        if (
            like.dtype == DT_STRING
            or like.size < SMALL
            or storage.is_remote(source_path)
            or storage.is_remote(self.prefix)
        ):
            return False
        offset = self._sizes[shard]
        try:  # not blocking: a FIFO in a shard's place is for add_chunks to report
            source = os.open(storage.local_path(source_path), os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            return False  # missing, unreadable: add_chunks says which
        try:
            status = os.fstat(source)
            if not stat.S_ISREG(status.st_mode) or status.st_size < like.offset + like.size:
                return False  # add_chunks names what it is, or says it is truncated
            if _copy_range(source, target.fileno(), like.offset, like.size, source_path) is None:
                return False
        finally:
            os.close(source)
        self._on_bytes(like.size)
        path = storage.local_path(data_path(self.prefix, shard, len(self._files)))
        crc = 0
        for chunk in read_local(path, offset, like.size):
            crc = crc32c(chunk, crc)
        if crc != unmask(like.crc32c):
            raise BadInput(
                source_path,
                f"tensor {name!r} cannot be read: its bytes do not match their checksum",
            )
        entry = self._new_entry(key)
        entry.dtype = like.dtype
        entry.shape.CopyFrom(like.shape)
        entry.crc32c = like.crc32c
        entry.shard_id, entry.offset, entry.size = shard, offset, like.size
        self._sizes[shard] += like.size
        return True

    def add_array(self, key: bytes, array: np.ndarray, dtype_enum: int) -> None:
        """Store a value computed here (numbers as raw little-endian bytes, strings encoded)."""
        shard = self._lightest()
        entry = self._new_entry(key)
        entry.dtype = dtype_enum
        _set_shape(entry, array.shape)
        strings = array.dtype.kind in "OSU"  # objects, or numpy's fixed-width bytes and text
        data, crc = _string_bytes(array) if strings else _numeric_bytes(array)
        entry.crc32c = mask(crc)
        entry.shard_id, entry.offset = shard, self._sizes[shard]
        entry.size = self._write(shard, (data,))

    def add_stream(
        self, key: bytes, dtype_enum: int, shape: Sequence[int], chunks: Iterable
    ) -> None:
        """Store raw little-endian bytes that arrive in pieces (a re-sliced tensor), their
        crc32c computed on the way."""
        shard = self._lightest()
        entry = self._new_entry(key)
        entry.dtype = dtype_enum
        _set_shape(entry, shape)
        crc = 0

        def checksummed():
            nonlocal crc
            for chunk in chunks:
                crc = crc32c(chunk, crc)
                yield chunk

        entry.shard_id, entry.offset = shard, self._sizes[shard]
        entry.size = self._write(shard, checksummed())
        entry.crc32c = mask(crc)

    def add_sliced(self, key: str, dtype_enum: int, full_shape: Sequence[int], extent) -> bytes:
        """Register one slice of sliced tensor `key`; returns the key to store its bytes under."""
        name = key.encode()
        entry = self._entries.get(name)
        if entry is None:
            entry = self._new_entry(name)
            entry.dtype = dtype_enum
            _set_shape(entry, full_shape)
        slicing.extent_to_proto(extent, entry.slices.add())
        return slicing.slice_key(key, extent)

    # --- finishing -----------------------------------------------------------------------------

    def finish(self) -> None:
        """Close the shards and write the index."""
        self.close()
        header = self._pb.BundleHeaderProto(
            num_shards=len(self._files), endianness=self._pb.BundleHeaderProto.LITTLE
        )
        header.version.producer = BUNDLE_VERSION
        rows = [(HEADER_KEY, header.SerializeToString())]
        rows += [(key, self._entries[key].SerializeToString()) for key in sorted(self._entries)]
        storage.write_bytes(f"{self.prefix}.index", write_table(rows))

    def close(self) -> None:
        for stream in self._files:
            stream.close()

    # --- helpers ---------------------------------------------------------------------------------

    def _new_entry(self, key: bytes):
        if key in self._entries:
            raise ValueError(f"key {key!r} written twice")
        entry = self._pb.BundleEntryProto()
        self._entries[key] = entry
        return entry

    def _lightest(self) -> int:
        return self._sizes.index(min(self._sizes))

    def _write(self, shard: int, chunks: Iterable) -> int:
        stream, written = self._files[shard], 0
        for chunk in chunks:
            storage.write_all(stream, chunk)
            written += len(chunk)
            self._on_bytes(len(chunk))
        self._sizes[shard] += written
        return written


_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EBADF}


def _copy_range(source: int, target: int, offset: int, size: int, path: str) -> int | None:
    """Copy `size` bytes at `offset` of file `source` to `target`'s current position, in the
    kernel; None if the kernel refuses before anything was copied (other file systems, old
    kernels). A failure part-way (no space left) is an OSError, as a write's would be."""
    done = 0
    while done < size:
        try:
            count = os.copy_file_range(source, target, size - done, offset + done)
        except OSError as error:
            if done == 0 and error.errno in _NO_KERNEL_COPY:
                return None
            raise
        if count == 0:
            raise BadInput(path, "truncated: a tensor's bytes end early")
        done += count
    return done


def _set_shape(entry, shape: Sequence[int]) -> None:
    entry.shape.SetInParent()  # a scalar has a shape with no dimensions, not no shape
    for size in shape:
        entry.shape.dim.add().size = int(size)


def _numeric_bytes(array: np.ndarray) -> tuple[memoryview, int]:
    """The array's bytes as stored (little-endian, C order), without a copy when it is so."""
    little = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
    data = memoryview(np.ascontiguousarray(array, dtype=little).reshape(-1).view(np.uint8))
    return data, crc32c(data)


def _string_bytes(array: np.ndarray) -> tuple[bytes, int]:
    """TensorFlow's string tensor layout: varint lengths, their masked crc, then the bytes.

    The entry's crc32c covers the lengths as fixed-width integers (uint32, uint64 past 4 GiB),
    not as the varints stored, then the stored length checksum and the strings, as
    BundleWriter's WriteStringTensor computes it.
    """
    items = [item if isinstance(item, bytes) else str(item).encode() for item in array.flat]
    lengths, crc = bytearray(), 0
    for item in items:
        put_varint(lengths, len(item))
        crc = crc32c(struct.pack("<I" if len(item) <= 0xFFFFFFFF else "<Q", len(item)), crc)
    length_checksum = struct.pack("<I", mask(crc))
    crc = crc32c(length_checksum, crc)
    for item in items:
        crc = crc32c(item, crc)
    return bytes(lengths) + length_checksum + b"".join(items), crc
