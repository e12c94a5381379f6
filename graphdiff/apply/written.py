"""`apply --verify`: read back the checkpoint just written, before it is published.

TensorFlow's own reader must open it and see every target with its dtype and full shape; every
stored piece must match its crc32c; every restored tensor must hold its source's bytes (same
crc32c when the layout is the same, the same assembled value when it was re-sliced); every
initialized one must have its planned dtype and shape.
"""

from __future__ import annotations

import numpy as np

from graphdiff.apply.targets import Target, text
from graphdiff.bundle.byte_stream import same_bytes
from graphdiff.bundle.reader import BundleReader
from graphdiff.errors import BadInput, VerificationFailed
from graphdiff.plan import RESTORE, Plan
from graphdiff.tf_import import tensorflow
from graphdiff.transforms import grows, restored_value


def check_written(prefix: str, plan: Plan, values, targets: dict[str, Target]):
    """Raise VerificationFailed naming the first tensor that is not as planned (`values`:
    apply's OldValues, the readers of the sources)."""
    tf = tensorflow()
    try:
        written = BundleReader(prefix)
        shapes = tf.compat.v1.train.NewCheckpointReader(prefix).get_variable_to_shape_map()
    except (BadInput, tf.errors.OpError) as error:
        raise VerificationFailed(f"the written checkpoint cannot be read: {error}") from None
    for entry in plan.variables:
        target = targets[entry.name]
        stored = written.entry(entry.name)
        if stored is None or entry.name not in shapes:
            raise VerificationFailed(f"{entry.name}: not in the written checkpoint")
        shape = tuple(d.size for d in stored.shape.dim)
        if stored.dtype != target.dtype_enum or tuple(shapes[entry.name]) != shape:
            raise VerificationFailed(f"{entry.name}: written with another dtype or shape")
        if entry.shape is not None and shape != tuple(entry.shape):
            raise VerificationFailed(
                f"{entry.name}: written as {text(shape)}, planned as {text(entry.shape)}"
            )
        pieces = _pieces(written, entry.name)
        try:
            for piece in pieces:
                for _ in written.chunks(piece, entry.name):
                    pass
        except BadInput as error:
            raise VerificationFailed(f"{entry.name}: {error.fault}") from None
        if entry.action == RESTORE and not holds_source_value(written, values.of(entry), entry):
            where = f"{entry.source_name} " if entry.source_name else ""
            raise VerificationFailed(
                f"{entry.name}: differs from its source {where}{entry.source!r}"
            )


def _pieces(bundle: BundleReader, key: str) -> list:
    stored = bundle.entry(key)
    return [p.entry for p in bundle.stored_slices(key)] if stored.slices else [stored]


def _layout(bundle: BundleReader, key: str) -> dict:
    """Where each stored piece lies and its crc32c and size: equal layouts hold equal bytes
    (the extents count, not the order the pieces are listed in)."""
    stored = bundle.entry(key)
    if not stored.slices:
        return {None: (stored.crc32c, stored.size)}
    return {p.extent: (p.entry.crc32c, p.entry.size) for p in bundle.stored_slices(key)}


def holds_source_value(written: BundleReader, source, entry) -> bool:
    """Tensor `entry.name` of `written` holds what the plan puts there: its source's value,
    transformed (for grow, the copied block)."""
    if grows(entry):  # the block copied in, the rest initialized
        ours, theirs = written.array(entry.name), source.array(entry.stored_key)
        block = tuple(slice(0, min(a, b)) for a, b in zip(ours.shape, theirs.shape, strict=True))
        return ours[block].tobytes() == theirs[block].astype(ours.dtype).tobytes()
    if not entry.transforms and isinstance(source, BundleReader):
        if _layout(source, entry.stored_key) == _layout(written, entry.name):
            return True
        ours, theirs = written.tensor_chunks(entry.name), source.tensor_chunks(entry.stored_key)
        if ours is not None and theirs is not None:  # re-sliced by rows: compared as streams
            return same_bytes(ours, theirs)
    ours, theirs = written.array(entry.name), restored_value(source, entry)
    if ours.dtype != theirs.dtype or ours.shape != theirs.shape:
        return False
    if ours.dtype == object:  # strings: compare the values, not the pointers
        return bool(np.array_equal(ours, theirs))
    return ours.tobytes() == theirs.tobytes()  # bit for bit, NaNs included
