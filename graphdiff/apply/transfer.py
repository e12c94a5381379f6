"""Carry restored tensors from the source checkpoint into the one being written.

When the source stores a tensor the way the target needs it — whole into a plain variable, or
in the same slices into a variable partitioned the same way — its bytes are copied as they
are, crc32c checked, never decoded: between local files by the kernel (`copy_file_range`, as
`cp` copies), the copy then checked; otherwise through memory, 8 MiB at a time. When the
layout changes (3 parts into 2, parts into a plain variable, a plain tensor into parts) and
both layouts cut the tensor along its first dimension only, as TensorFlow's partitioners do,
the stored bytes are read in row order and cut at the new parts' boundaries: still never
decoded nor whole in memory, each new part getting its own crc32c. Other cuts (and strings)
are assembled whole and sliced again: memory then follows that one tensor.
"""

from __future__ import annotations

import math

from graphdiff.apply.targets import Target
from graphdiff.bundle import slices as slicing
from graphdiff.bundle.byte_stream import ByteStream
from graphdiff.bundle.reader import BundleReader
from graphdiff.bundle.writer import BundleWriter
from graphdiff.dtypes import itemsize
from graphdiff.transforms import restored_value


def carry_entry(writer: BundleWriter, source, entry, target: Target) -> None:
    """Write a restore entry: its stored bytes as they are when the value is not changed on
    its way (no transform, a tensor bundle as source), else its transformed value."""
    if not entry.transforms and isinstance(source, BundleReader):
        carry_over(writer, source, entry.stored_key, target)
    else:
        write_parts(writer, target, restored_value(source, entry))


def carry_over(writer: BundleWriter, source: BundleReader, key: str, target: Target) -> None:
    """Write the tensor stored under `key` in `source` as `target` (restored bytes unchanged)."""
    stored = source.entry(key)
    if not target.partitioned and not stored.slices:
        _carry(writer, target.name.encode(), stored, source, key)
        return
    pieces = {piece.extent: piece.entry for piece in source.stored_slices(key)}
    extents = [extent for _, extent in target.parts]
    if target.partitioned and set(pieces) == set(extents):
        for extent in extents:
            slice_key = writer.add_sliced(target.name, stored.dtype, target.shape, extent)
            _carry(writer, slice_key, pieces[extent], source, key)
        return
    if not _reslice_rows(writer, source, key, target):
        write_parts(writer, target, source.array(key))


def _carry(writer: BundleWriter, key: bytes, stored, source: BundleReader, name: str) -> None:
    """One stored entry's bytes as they are: copied by the kernel between local files, else
    through memory; checked against their crc32c either way."""
    if not writer.add_copy(key, stored, source.data_file(stored), name):
        writer.add_chunks(key, stored, source.chunks(stored, name))


def _reslice_rows(writer: BundleWriter, source: BundleReader, key: str, target: Target) -> bool:
    """Cut the stored bytes in row order at the target's part boundaries (a plain target takes
    them all); False when either layout is not a cut along the first dimension (nothing
    written then)."""
    shape = tuple(d.size for d in source.entry(key).shape.dim)  # the target's, when no transform
    rows = None
    if target.partitioned:
        rows = slicing.rows_in_order([extent for _, extent in target.parts], shape)
        if rows is None:
            return False
    chunks = source.tensor_chunks(key)
    if chunks is None:
        return False
    stream, size = ByteStream(chunks), itemsize(target.dtype)
    if rows is None:
        writer.add_stream(
            target.name.encode(), target.dtype_enum, shape, stream.take(math.prod(shape) * size)
        )
    for start, stop, extent in rows or ():
        slice_key = writer.add_sliced(target.name, target.dtype_enum, shape, extent)
        part_shape = (stop - start, *shape[1:])
        writer.add_stream(
            slice_key, target.dtype_enum, part_shape, stream.take(math.prod(part_shape) * size)
        )
    stream.finish()
    return True


def write_parts(writer: BundleWriter, target: Target, value) -> None:
    """Write a whole value into `target`: as it is, or cut into the target's slices."""
    if not target.partitioned:
        writer.add_array(target.name.encode(), value, target.dtype_enum)
        return
    for _, extent in target.parts:
        write_part(writer, target, extent, value[slicing.region(extent, target.shape)])


def write_part(writer: BundleWriter, target: Target, extent, value) -> None:
    """Write the value of one part (`extent` None: the whole of a plain target)."""
    if extent is None:
        writer.add_array(target.name.encode(), value, target.dtype_enum)
        return
    slice_key = writer.add_sliced(target.name, target.dtype_enum, target.shape, extent)
    writer.add_array(slice_key, value, target.dtype_enum)
