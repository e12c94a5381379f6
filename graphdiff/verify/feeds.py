"""The values fed to both graphs: deterministic, the same array for an input and its old pair.

Takes the inputs each graph needs (sources upstream of the compared tensors), their pairing,
both Sides (their tf.Graphs give static shapes) and the user's `--feed` arrays; gives one feed
dict per graph and a line per fed tensor for the report. A cut (cuts.py) is fed the value its
old tensor had in the old graph's run.

Generated values, from a generator seeded by the input's name: floats uniform in [0, 1);
booleans False (a training flag off: inference mode); strings b"graphdiff"; integers in
[0, bound), where bound is the smallest index range the input reaches within a few ops — the
rows of an embedding it gathers from, a one-hot depth, a class count of the labels it feeds —
and 4 when none is found. Unknown dimensions: 2 for the first (the batch), 32 for the others.
"""

from __future__ import annotations

import tokenize
import zlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from graphdiff.errors import BadInput
from graphdiff.tf_import import tensorflow
from graphdiff.verify.report import CUT_ORIGIN

BATCH, OTHER_DIMENSION, DEFAULT_BOUND = 2, 32, 4
_PASS_INDICES = frozenset(
    {
        "Identity",
        "Reshape",
        "Cast",
        "ExpandDims",
        "Squeeze",
        "StridedSlice",
        "Slice",
        "Transpose",
        "Tile",
        "ConcatV2",
        "Pack",
        "Unpack",
        "Split",
        "SplitV",
        "FloorDiv",
        "FloorMod",
        "DynamicPartition",
        "Unique",
        "Select",  # picks one of its inputs: Keras's take() wraps negative indices so
        "SelectV2",
    }
)
_WALK_DEPTH = 8


@dataclass(frozen=True)
class FedInput:
    """One fed tensor, as the report shows it."""

    new: str | None
    old: str | None
    dtype: str
    shape: tuple[int, ...]
    origin: str  # "generated", "False (inference mode)", the .npy file, or a cut's old tensor


def load_array(name: str, value) -> tuple[np.ndarray, str]:
    """An array given for `--feed NAME`: as is, or read from a .npy file (BadInput naming it).

    The header is read first, and the file's size checked against it, so that a header that
    claims a huge array (or a truncated file) is refused before anything is allocated.
    """
    if isinstance(value, np.ndarray):
        return value, "array"
    path = Path(value)
    if not path.is_file():
        raise BadInput(path, "no such file" if not path.exists() else "is not a file")
    try:
        with open(path, "rb") as stream:
            shape, dtype, offset = _header(stream, path, name)
        size = path.stat().st_size
    except OSError as error:
        raise BadInput(path, f"cannot be read: {error.strerror or error}") from None
    if dtype.hasobject:
        raise BadInput(
            path, f"holds Python objects (a pickle), not an array of numbers for --feed {name}"
        )
    expected = offset + int(np.prod(shape, dtype=object)) * dtype.itemsize
    if size != expected or any(d < 0 for d in shape):
        raise BadInput(
            path,
            f"holds {size} bytes, but its header says {dtype} {list(shape)} ({expected} bytes): "
            f"truncated or not a .npy array for --feed {name}",
        )
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, MemoryError) as error:
        reason = str(error).split(". ")[0].rstrip(".") or type(error).__name__
        raise BadInput(path, f"not a .npy array for --feed {name}: {reason}") from None
    return array, str(path)


def _header(stream, path: Path, name: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, where the data starts) from a .npy header; BadInput if it is none."""
    if stream.read(6) != b"\x93NUMPY":
        raise BadInput(path, f"not a .npy array for --feed {name} (save one with numpy.save)")
    stream.seek(0)
    try:
        version = np.lib.format.read_magic(stream)
        read = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, _, dtype = read(stream)
    except (ValueError, SyntaxError, TypeError, EOFError, tokenize.TokenError) as error:
        reason = str(error).split(". ")[0].rstrip(".") if isinstance(error, ValueError) else ""
        reason = reason or "its header cannot be read"
        raise BadInput(path, f"not a .npy array for --feed {name}: {reason}") from None
    return tuple(shape), np.dtype(dtype), stream.tell()


class FeedBuilder:
    """Feeds for both sides, keyed by tensor names of their views; `for_new`/`for_old` add
    the outputs of one source op, `cut` records a new tensor fed an old tensor's value.

    An old input and every new input paired with it get one array, made from all their static
    shapes and index ranges (or the one --feed array given for any of them).
    """

    def __init__(self, new, old, pairs: dict[str, str], given: dict):
        self.new, self.old = new, old  # Sides
        self.pairs = pairs  # new source op -> old source op
        self.partners: dict[str, list[str]] = {}  # old source op -> new source ops
        for new_op, old_op in pairs.items():
            self.partners.setdefault(old_op, []).append(new_op)
        self.given = given  # new tensor name -> (array, origin)
        self.new_feed: dict[str, np.ndarray] = {}
        self.old_feed: dict[str, np.ndarray] = {}
        self.fed: dict[tuple, FedInput] = {}
        self._arrays: dict[tuple, np.ndarray] = {}

    def for_new(self, op: str) -> None:
        old = self.pairs.get(op)
        for port in range(len(self.new.operation(op).outputs)):
            key = ("old", f"{old}:{port}") if old else ("new", f"{op}:{port}")
            self.new_feed[f"{op}:{port}"] = self._array(key)

    def for_old(self, op: str) -> None:
        for port in range(len(self.old.operation(op).outputs)):
            self.old_feed[f"{op}:{port}"] = self._array(("old", f"{op}:{port}"))

    def cut(self, new: str, old: str, value: np.ndarray) -> np.ndarray:
        """New tensor `new` is to be fed `value`, what old tensor `old` had in the old graph's
        run (recorded for the report; the caller feeds it with the frontier's pairs only)."""
        dtype = self.new.tensor(new).dtype.name
        origin = f"{CUT_ORIGIN} {old}"
        self.fed[(new, old)] = FedInput(new, old, dtype, np.shape(value), origin)
        return value

    def _array(self, key: tuple[str, str]) -> np.ndarray:
        if key not in self._arrays:
            side, name = key
            if side == "new":
                news, old = [(name, self.new.tensor(name))], None
            else:
                op, port = name.rsplit(":", 1)
                news = [
                    (f"{new}:{port}", self.new.tensor(f"{new}:{port}"))
                    for new in self.partners.get(op, ())
                ]
                old = (name, self.old.tensor(name))
            self._arrays[key] = self._make(news, old)
        return self._arrays[key]

    def _make(self, news: list, old) -> np.ndarray:
        tensors = [tensor for _, tensor in news] + ([old[1]] if old is not None else [])
        given = [name for name, _ in news if name in self.given]
        old_name = old[0] if old is not None else None
        if len(given) > 1:
            raise BadInput(
                "--feed",
                f"{given[0]} and {given[1]} stand for the same old input {old_name}: "
                "give an array for one of them",
            )
        if given:
            array, origin = self.given[given[0]]
            check_given(array, origin, tensors)
        else:
            array, origin = _generate(tensors, old_name or news[0][0])
        label = ", ".join(name for name, _ in news) or None
        self.fed[(label, old_name)] = FedInput(
            label, old_name, tensors[0].dtype.name, array.shape, origin
        )
        return array


def check_given(array: np.ndarray, origin: str, tensors) -> None:
    """A --feed array fits every input it is fed to (new ones first, then their old pair)."""
    tf = tensorflow()
    first = tensors[0]
    if first.dtype == tf.string:
        fits = array.dtype.kind in "OSU"
    else:
        fits = array.dtype == np.dtype(first.dtype.as_numpy_dtype)
    if not fits:
        raise BadInput(
            origin, f"holds {array.dtype}, but input '{first.name}' takes {first.dtype.name}"
        )
    for tensor in tensors:
        if not tensor.shape.is_compatible_with(array.shape):
            side = "new" if tensor.graph is first.graph else "old"
            raise BadInput(
                origin,
                f"has shape {list(array.shape)}, but input '{tensor.name}' of the {side} graph "
                f"takes {_shape_text(tensor.shape)}",
            )


def _generate(tensors, seed_name: str) -> tuple[np.ndarray, str]:
    tf = tensorflow()
    dtype = tensors[0].dtype
    shape = _concrete_shape(tensors)
    rng = np.random.default_rng(zlib.crc32(seed_name.encode()))
    if dtype == tf.bool:
        return np.zeros(shape, bool), "False (inference mode)"
    if dtype == tf.string:
        return np.full(shape, b"graphdiff", dtype=object), "generated"
    numpy_type = np.dtype(dtype.as_numpy_dtype)
    if dtype.is_integer:
        bounds = [bound for bound in map(_index_bound, tensors) if bound is not None]
        high = min(min(bounds, default=DEFAULT_BOUND), int(dtype.max))
        return rng.integers(0, max(high, 1), shape).astype(numpy_type), "generated"
    if dtype.is_complex:
        return (rng.random(shape) + 1j * rng.random(shape)).astype(numpy_type), "generated"
    return rng.random(shape).astype(numpy_type), "generated"


def _concrete_shape(tensors) -> tuple[int, ...]:
    shape = tensors[0].shape
    for tensor in tensors[1:]:
        shape = shape.merge_with(tensor.shape)
    if shape.rank is None:
        name = tensors[0].name
        raise BadInput(
            "--feed",
            f"input '{name}' has an unknown rank: give its value with --feed {name}=FILE.npy",
        )
    return tuple(
        d if d is not None else (BATCH if i == 0 else OTHER_DIMENSION)
        for i, d in enumerate(shape.as_list())
    )


def _index_bound(tensor) -> int | None:
    """The smallest index range `tensor` reaches through index-preserving ops, if any."""
    bounds, seen = [], {tensor.name}
    queue = deque([(tensor, 0)])
    while queue:
        current, depth = queue.popleft()
        for consumer in current.consumers():
            for port, value in enumerate(consumer.inputs):
                if value is not current:
                    continue
                bound = _bound_at(consumer, port)
                if bound is not None:
                    bounds.append(bound)
                elif consumer.type in _PASS_INDICES and depth < _WALK_DEPTH:
                    for output in consumer.outputs:
                        if output.name not in seen and output.dtype.is_integer:
                            seen.add(output.name)
                            queue.append((output, depth + 1))
    return min(bounds) if bounds else None


def _bound_at(op, port: int) -> int | None:
    """How many values index input `port` of `op` may take, when `op` says."""
    tf = tensorflow()
    static = tf.get_static_value
    if op.type in ("Gather", "GatherV2", "ResourceGather") and port == 1:
        params = op.inputs[0]
        axis = static(op.inputs[2]) if op.type == "GatherV2" else 0
        if op.type == "ResourceGather":
            shape = _handle_shape(params)
        else:
            shape = params.shape.as_list() if params.shape.rank else None
        if shape and axis is not None and -len(shape) <= int(axis) < len(shape):
            return shape[int(axis)]
    if op.type == "OneHot" and port == 0:
        depth = static(op.inputs[1])
        return int(depth) if depth is not None else None
    if op.type == "SparseSoftmaxCrossEntropyWithLogits" and port == 1:
        classes = op.inputs[0].shape
        return classes[-1] if classes.rank else None
    return None


def _handle_shape(handle) -> list | None:
    """The shape of the variable behind a resource handle: a VarHandleOp's, or what a traced
    function's captured handle says of its variable."""
    tf = tensorflow()
    op = handle.op
    while op.type in ("Identity",) and op.inputs:
        handle, op = op.inputs[0], op.inputs[0].op
    if op.type == "VarHandleOp":
        shape = tf.TensorShape(op.get_attr("shape"))
    else:
        data = getattr(handle, "_handle_data", None)
        if data is None or not data.is_set or not data.shape_and_type:
            return None
        shape = tf.TensorShape(data.shape_and_type[0].shape)
    return shape.as_list() if shape.rank else None


def _shape_text(shape) -> str:
    if shape.rank is None:
        return "any shape"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape.as_list()) + "]"
