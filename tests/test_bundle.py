"""The tensor bundle reader and writer against bundles TensorFlow itself wrote.

A bundle re-written here from another one must have the very index bytes TensorFlow wrote
(blocks, restart points, separators, crc32c), whatever the number of keys, and TensorFlow's
reader must read back every value written from numpy, strings included.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from graphs import tf, v1

from graphdiff.bundle import slices as slicing
from graphdiff.bundle.byte_stream import ByteStream, same_bytes
from graphdiff.bundle.reader import BundleReader
from graphdiff.bundle.table import read_table, write_table
from graphdiff.bundle.writer import BundleWriter
from graphdiff.errors import BadInput


def save_v2(prefix: Path, tensors: dict[str, np.ndarray], specs: dict[str, str] | None = None):
    """Write `tensors` with TensorFlow's SaveV2 op; `specs` gives shape-and-slice strings."""
    specs = specs or {}
    names = sorted(tensors)
    graph = tf.Graph()
    with graph.as_default(), v1.Session() as session:
        op = tf.raw_ops.SaveV2(
            prefix=str(prefix),
            tensor_names=names,
            shape_and_slices=[specs.get(n, "") for n in names],
            tensors=[tf.constant(tensors[n]) for n in names],
        )
        session.run(op)
    return str(prefix)


def rewrite(source_prefix: str, prefix: Path) -> str:
    """Copy every tensor of a bundle, bytes as they are, into a new one."""
    source = BundleReader(source_prefix)
    prefix.parent.mkdir(parents=True)
    with BundleWriter(str(prefix)) as writer:
        for key in source.names():
            entry = source.entry(key)
            if not entry.slices:
                writer.add_chunks(key.encode(), entry, source.chunks(entry, key))
                continue
            shape = [d.size for d in entry.shape.dim]
            for piece in source.stored_slices(key):
                slice_key = writer.add_sliced(key, entry.dtype, shape, piece.extent)
                writer.add_chunks(slice_key, piece.entry, source.chunks(piece.entry, key))
        writer.finish()
    return str(prefix)


def index_bytes(prefix: str) -> bytes:
    return Path(prefix + ".index").read_bytes()


def test_index_of_many_keys_is_byte_identical_to_tensorflows(tmp_path):
    """Over 256 KiB of keys: several data blocks, an index block with shortened separators."""
    names = [
        f"{hashlib.md5(str(i).encode()).hexdigest()}/layer_{i}/" + "x" * (i % 50)
        for i in range(6000)
    ]
    tensors = {name: np.full([2], i, np.float32) for i, name in enumerate(names)}
    theirs = save_v2(tmp_path / "tf" / "model.ckpt", tensors)
    assert len(index_bytes(theirs)) > 2 * 262144
    ours = rewrite(theirs, tmp_path / "ours" / "model.ckpt")
    assert index_bytes(ours) == index_bytes(theirs)
    assert len(read_table(index_bytes(ours))) == len(names) + 1  # and the header


def test_slice_keys_match_tensorflows_for_explicit_and_whole_extents(tmp_path):
    value = np.arange(48, dtype=np.float32).reshape(8, 6)
    specs = {"a": "8 6 -:0,3", "b": "8 6 2,4:-", "c": "8 6 0,8:0,6"}
    tensors = {"a": value[:, :3], "b": value[2:6, :], "c": value}
    theirs = save_v2(tmp_path / "tf" / "model.ckpt", tensors, specs)
    source = BundleReader(theirs)
    assert [p.extent for p in source.stored_slices("a")] == [((0, None), (0, 3))]
    assert [p.extent for p in source.stored_slices("b")] == [((2, 4), (0, None))]
    ours = rewrite(theirs, tmp_path / "ours" / "model.ckpt")
    assert index_bytes(ours) == index_bytes(theirs)
    reader = tf.train.load_checkpoint(ours)
    assert np.array_equal(reader.get_tensor("c"), value)


def test_signed_numbers_in_slice_keys_follow_ordered_code(tmp_path):
    """Starts and lengths past one OrderedCode byte (64, 8191, 2**20) still give TF's keys."""
    value = np.ones([70000, 1], np.float32)
    specs = {"t": "70000 1 8191,61809:-", "u": "70000 1 64,1048:-"}
    tensors = {"t": value[8191:], "u": value[64:1112]}
    theirs = save_v2(tmp_path / "tf" / "model.ckpt", tensors, specs)
    ours = rewrite(theirs, tmp_path / "ours" / "model.ckpt")
    assert index_bytes(ours) == index_bytes(theirs)
    assert slicing.slice_key("t", ((8191, 61809), (0, None))) in dict(read_table(index_bytes(ours)))


def test_values_written_from_numpy_read_back_in_tensorflow(tmp_path):
    values = {
        b"f": (np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4), tf.float32),
        b"i": (np.array(7, np.int64), tf.int64),
        b"h": (np.ones([5], np.float16), tf.float16),
        b"b": (np.array([True, False]), tf.bool),
        b"s": (np.array([b"ab", b"", b"\x00\xff" * 300], object), tf.string),
        b"bf": (np.array([1.5, -2.0], tf.bfloat16.as_numpy_dtype), tf.bfloat16),
        b"c": (np.array([[1 + 2j, -3j]], np.complex64), tf.complex64),
        b"i8": (np.array([-128, 127], np.int8), tf.int8),
        b"empty": (np.zeros([0, 4], np.float32), tf.float32),
    }
    prefix = str(tmp_path / "model.ckpt")
    with BundleWriter(prefix) as writer:
        for key, (value, dtype) in values.items():
            writer.add_array(key, value, dtype.as_datatype_enum)
        writer.finish()
    reader = tf.train.load_checkpoint(prefix)
    for key, (value, _) in values.items():
        assert np.array_equal(reader.get_tensor(key.decode()), value), key
    assert list(BundleReader(prefix).chunks(BundleReader(prefix).entry("s"), "s"))  # crc holds


def test_a_damaged_index_is_bad_input(tmp_path):
    prefix = save_v2(tmp_path / "model.ckpt", {"w": np.zeros([3], np.float32)})
    index = Path(prefix + ".index")
    data = bytearray(index.read_bytes())
    data[10] ^= 0xFF
    index.write_bytes(bytes(data))
    with pytest.raises(BadInput, match="cannot be read as a checkpoint index: block checksum"):
        BundleReader(prefix)
    index.write_bytes(b"not an index at all, but long enough to hold a footer" * 2)
    with pytest.raises(BadInput, match="bad magic number"):
        BundleReader(prefix)


def test_a_big_endian_bundle_is_refused(tmp_path):
    from tensorflow.core.protobuf import tensor_bundle_pb2

    prefix = save_v2(tmp_path / "model.ckpt", {"w": np.zeros([3], np.float32)})
    rows = read_table(index_bytes(prefix))
    header = tensor_bundle_pb2.BundleHeaderProto()
    header.ParseFromString(rows[0][1])
    header.endianness = tensor_bundle_pb2.BundleHeaderProto.BIG
    rows[0] = (b"", header.SerializeToString())
    Path(prefix + ".index").write_bytes(write_table(rows))
    with pytest.raises(BadInput, match="big-endian"):
        BundleReader(prefix)


def test_row_ranges_are_found_only_for_cuts_along_the_first_dimension():
    shape = (10, 4)
    rows = slicing.rows_in_order([((5, 5), (0, 4)), ((0, 5), (0, None))], shape)
    assert [(start, stop) for start, stop, _ in rows] == [(0, 5), (5, 10)]
    assert slicing.rows_in_order([((0, 10), (0, 2)), ((0, 10), (2, 2))], shape) is None  # columns
    assert slicing.rows_in_order([((0, 4), (0, 4)), ((5, 5), (0, 4))], shape) is None  # a gap
    assert slicing.rows_in_order([((0, 6), (0, 4)), ((5, 5), (0, 4))], shape) is None  # overlap


def test_byte_stream_cuts_runs_across_chunks_and_notices_what_is_left():
    stream = ByteStream([b"abc", b"defg", b"h"])
    assert [bytes(piece) for piece in stream.take(4)] == [b"abc", b"d"]
    assert b"".join(stream.take(3)) == b"efg"
    with pytest.raises(ValueError, match="1 bytes left over"):
        stream.finish()
    with pytest.raises(ValueError, match="ended 2 bytes early"):
        list(ByteStream([b"a"]).take(3))
    assert same_bytes([b"abc", b"def"], [b"a", b"bcdef"])
    assert not same_bytes([b"abc"], [b"abcd"]) and not same_bytes([b"abx"], [b"ab", b"c"])
