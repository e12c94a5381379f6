"""Carry restored tensors from the source checkpoint into the one being written.

When the source stores a tensor the way the target needs it — whole into a plain variable, or
in the same slices into a variable partitioned the same way — its bytes are copied as they
are, crc32c checked, never decoded. Otherwise (3 parts into 2, parts into a plain variable, a
plain tensor into parts) TensorFlow's reader assembles the whole tensor and the target's
slices are cut from it: memory then follows that one tensor.
"""

from __future__ import annotations

from graphdiff.apply.targets import Target
from graphdiff.bundle import slices as slicing
from graphdiff.bundle.reader import BundleReader
from graphdiff.bundle.writer import BundleWriter
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
    if not target.partitioned:
        if not stored.slices:
            writer.add_chunks(target.name.encode(), stored, source.chunks(stored, key))
        else:
            writer.add_array(target.name.encode(), source.array(key), target.dtype_enum)
        return
    pieces = {piece.extent: piece.entry for piece in source.stored_slices(key)}
    extents = [extent for _, extent in target.parts]
    if set(pieces) == set(extents):
        for extent in extents:
            slice_key = writer.add_sliced(target.name, stored.dtype, target.shape, extent)
            writer.add_chunks(slice_key, pieces[extent], source.chunks(pieces[extent], key))
        return
    write_parts(writer, target, source.array(key))


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
