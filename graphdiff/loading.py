"""Read the inputs: an old MetaGraphDef, a checkpoint's index, and a file's fingerprint.

Every failure becomes a BadInput that names the file and the fault, so that the CLI can
print one line and exit 2.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from graphdiff import storage
from graphdiff.errors import BadInput
from graphdiff.tf_import import tensorflow


@dataclass(frozen=True)
class TensorSpec:
    """What a checkpoint's index says of one key (no tensor data is read)."""

    dtype: str
    shape: tuple[int, ...]


def read_meta_graph(path: str | os.PathLike):
    """Parse a `.meta` file into a MetaGraphDef; refuse what is not one."""
    data = _read_bytes(path)
    tensorflow()
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import meta_graph_pb2

    meta = meta_graph_pb2.MetaGraphDef()
    try:
        meta.ParseFromString(data)
    except (DecodeError, RuntimeWarning, ValueError):
        raise BadInput(
            path,
            "not a meta graph: its bytes are not a whole MetaGraphDef "
            "(truncated, or another kind of file)",
        ) from None
    if not meta.graph_def.node:
        raise BadInput(path, "not a meta graph: it holds no graph nodes")
    return meta


def _read_bytes(path) -> bytes:
    try:
        if not storage.exists(path):
            raise BadInput(path, "no such file")
        if storage.isdir(path):
            raise BadInput(path, "is a directory, not a file")
        return storage.read_bytes(path)
    except OSError as error:
        raise BadInput(path, f"cannot be read: {error.strerror or error}") from None


def checkpoint_prefix_for(meta_path: str | os.PathLike) -> str:
    """The checkpoint prefix that TensorFlow's Saver writes beside `model.ckpt.meta`."""
    text = str(meta_path)
    return text[: -len(".meta")] if text.endswith(".meta") else text


def index_path(prefix: str) -> str:
    return f"{prefix}.index"


def read_checkpoint_index(prefix: str) -> dict[str, TensorSpec]:
    """Names, dtypes and shapes of a checkpoint's tensors, from its index alone."""
    tf = tensorflow()
    index = index_path(prefix)
    if not storage.exists(index):
        raise BadInput(index, "no checkpoint index here (is the checkpoint prefix right?)")
    try:
        reader = tf.compat.v1.train.NewCheckpointReader(prefix)
    except Exception as error:  # TF raises a zoo of error types for bad bundles
        raise BadInput(index, f"cannot be read as a checkpoint: {_first_line(error)}") from None
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    return {
        key: TensorSpec(dtype=dtypes[key].name, shape=tuple(shapes[key])) for key in sorted(shapes)
    }


def sha256_of(path: str | os.PathLike) -> str:
    try:
        return storage.sha256(os.fspath(path))
    except OSError as error:
        raise BadInput(path, f"cannot be read: {error.strerror or error}") from None


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
