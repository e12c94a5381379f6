"""Re-slicing streamed by rows, and local shards read through mmap, attacked.

Tables are built by `table_graph(specs)` (one spec: name, full shape, dtype, how it is
partitioned) with known values (`value_of`), saved by TensorFlow's Saver, planned into a new
graph that cuts them otherwise, applied through the CLI with --verify, and read back through
TensorFlow's own `Saver.restore` in the new graph, bit for bit.

A docstring that begins "Regression" names a fault the attack found (and what went wrong then).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import run_in_process
from graphs import tf, v1, write_new_graph

from graphdiff.apply.executor import restore_into_session
from graphdiff.apply.written import holds_source_value
from graphdiff.bundle.reader import BundleReader
from graphdiff.bundle.table import crc32c, mask, read_table, write_table
from graphdiff.bundle.writer import BundleWriter
from graphdiff.new_graph import build_new_graph
from graphdiff.plan import Options
from graphdiff.plan_io import write_plan
from graphdiff.planning import make_plan


def partitioner(how):
    """None: a plain variable; ("fixed", parts, axis); ("size", max bytes, axis);
    ("minmax", max parts, min slice bytes)."""
    if how is None:
        return None
    kind, a, b = how
    if kind == "fixed":
        return v1.fixed_size_partitioner(a, b)
    if kind == "size":
        return v1.variable_axis_size_partitioner(a, axis=b)
    return v1.min_max_variable_partitioner(max_partitions=a, min_slice_size=b)


def table_graph(specs):
    """Variables per spec (name, shape, dtype name, partitioner spec), zeros at first."""
    for name, shape, dtype, how in specs:
        v1.get_variable(
            name,
            shape,
            getattr(tf, dtype),
            v1.zeros_initializer(),
            partitioner=partitioner(how),
            use_resource=False,
        )


def value_of(name: str, shape, dtype: str) -> np.ndarray:
    """A value with a different bit pattern at every element (strings of varied lengths)."""
    count = int(np.prod(shape, dtype=np.int64))
    seed = sum(name.encode())
    index = np.arange(count, dtype=np.int64) + seed
    if dtype == "string":
        flat = np.array([(f"s{i}" * (i % 4)).encode() for i in index], object)
    elif dtype == "bool":
        flat = index * 7 % 3 == 0
    elif dtype.startswith("complex"):
        flat = (index * 1.25 + 1j * (index - 0.5)).astype(
            np.dtype(tf.as_dtype(dtype).as_numpy_dtype)
        )
    else:
        numpy_dtype = np.dtype(tf.as_dtype(dtype).as_numpy_dtype)
        flat = (index * 3 - 17).astype(np.float64) * (
            0.37 if numpy_dtype.kind == "f" or dtype == "bfloat16" else 1
        )
        flat = flat.astype(numpy_dtype)
    return flat.reshape(shape)


def variables_by_name(graph):
    """Full name -> [(region, variable)] (one whole region for a plain variable)."""
    found = {}
    for variable in graph.get_collection("variables"):
        info = variable._save_slice_info
        if info is None:
            found[variable.op.name] = [(Ellipsis, variable)]
        else:
            region = tuple(
                slice(o, o + s) for o, s in zip(info.var_offset, info.var_shape, strict=True)
            )
            found.setdefault(info.full_name, []).append((region, variable))
    return found


def save_tables(directory: Path, specs, **saver_options) -> str:
    graph = tf.Graph()
    with graph.as_default():
        table_graph(specs)
        saver = v1.train.Saver(**saver_options)
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            by_name = variables_by_name(graph)
            for name, shape, dtype, _ in specs:
                full = value_of(name, shape, dtype)
                for region, variable in by_name[name]:
                    variable.load(full[region], session)
            directory.mkdir(parents=True, exist_ok=True)
            return saver.save(session, str(directory / "model.ckpt"))


def restored(graph, prefix: str, specs) -> dict:
    """Saver.restore in `graph`, each table put together from its parts."""
    with graph.as_default(), v1.Session() as session:
        v1.train.Saver().restore(session, str(prefix))
        by_name = variables_by_name(graph)
        values = {}
        for name, shape, dtype, _ in specs:
            whole = np.empty(
                shape, object if dtype == "string" else tf.as_dtype(dtype).as_numpy_dtype
            )
            for region, variable in by_name[name]:
                whole[region] = session.run(variable)
            values[name] = whole
        return values


def same(a, b) -> bool:
    if a.dtype == object or b.dtype == object:
        return a.shape == b.shape and a.tolist() == b.tolist()
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


NEW = "from test_apply_streaming_attacks import table_graph\ntable_graph({specs!r})\n"


def apply_tables(tmp_path, old_specs, new_specs, *args, maps=(), **saver_options):
    ckpt = save_tables(tmp_path / "old", old_specs, **saver_options)
    new_graph = write_new_graph(tmp_path, NEW.format(specs=new_specs))
    plan = make_plan(
        ckpt + ".meta",
        new_graph,
        output_prefix=str(tmp_path / "new" / "model.ckpt"),
        options=Options(maps=tuple(maps)),
    )
    write_plan(plan, tmp_path / "plan.json")
    result = run_in_process("apply", tmp_path / "plan.json", "--quiet", "--verify", *args)
    return ckpt, plan, result


def check_restored(tmp_path, old_specs, new_specs, *args, maps=(), **saver_options):
    ckpt, plan, result = apply_tables(
        tmp_path, old_specs, new_specs, *args, maps=maps, **saver_options
    )
    assert result.returncode == 0, result.stderr
    graph = build_new_graph(plan.provenance.new_graph.path).graph
    values = restored(graph, plan.output_prefix, new_specs)
    renamed = dict(rule.split("=")[::-1] for rule in maps)
    for name, shape, dtype, _ in new_specs:
        expected = value_of(renamed.get(name, name), shape, dtype)
        assert same(values[name], expected), name
    return ckpt, plan


def assert_one_line_bad_input(result, names: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("graphdiff: "), result.stderr
    assert names in result.stderr, result.stderr
    return result.stderr


def row_cut(parts):
    return ("fixed", parts, 0)


# --- re-slicing along rows ---------------------------------------------------------------------

# (old spec, new spec) per table: every table of one group is applied in one run.
LAYOUTS = {
    "odd_rows_3_into_2": ([7, 3], "float32", row_cut(3), row_cut(2)),
    "odd_rows_plain_into_3": ([7, 3], "float32", None, row_cut(3)),
    "odd_rows_3_into_plain": ([7, 3], "float32", row_cut(3), None),
    "one_row_into_a_part": ([1, 3], "float32", None, row_cut(1)),
    "one_dimension_4_into_2": ([9], "int8", row_cut(4), row_cut(2)),
    "one_dimension_3_into_plain": ([11], "int64", row_cut(3), None),
    "three_dimensions_rows": ([5, 2, 3], "float32", row_cut(3), row_cut(2)),
    "three_dimensions_axis1_into_rows": ([5, 2, 3], "float32", ("fixed", 2, 1), row_cut(2)),
    "three_dimensions_plain_into_axis2": ([5, 2, 3], "float32", None, ("fixed", 3, 2)),
    "three_dimensions_axis2_into_plain": ([5, 2, 3], "float32", ("fixed", 3, 2), None),
    "axis_size_into_min_max": ([13, 4], "float32", ("size", 64, 0), ("minmax", 4, 48)),
    "zero_size_plain": ([0, 4], "float32", None, None),
    "float16": ([7, 3], "float16", row_cut(3), row_cut(2)),
    "bfloat16": ([7, 3], "bfloat16", row_cut(3), row_cut(2)),
    "int64": ([7, 3], "int64", row_cut(3), row_cut(2)),
    "bool": ([7, 3], "bool", row_cut(3), row_cut(2)),
    "complex64": ([7, 3], "complex64", row_cut(3), row_cut(2)),
    "uint16": ([7, 3], "uint16", row_cut(3), row_cut(2)),
    "strings_3_into_2": ([7, 3], "string", row_cut(3), row_cut(2)),
    "strings_plain_into_3": ([7], "string", None, row_cut(3)),
    "strings_3_into_plain": ([7, 2], "string", row_cut(3), None),
}


def layout_specs(names):
    old = [(name, *LAYOUTS[name][:3]) for name in names]
    new = [(name, *LAYOUTS[name][:2], LAYOUTS[name][3]) for name in names]
    return old, new


@pytest.fixture(scope="module")
def layouts_applied(tmp_path_factory):
    """Every table of LAYOUTS saved in one checkpoint, applied with --verify in one run."""
    tmp_path = tmp_path_factory.mktemp("layouts")
    old, new = layout_specs(LAYOUTS)
    ckpt, plan = check_restored(tmp_path, old, new)
    return ckpt, plan, new


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_a_table_cut_otherwise_reads_back_bit_for_bit(layouts_applied, name):
    """Saver.restore in the new graph (check_restored) and TensorFlow's checkpoint reader, where
    it can put slices together (not float16, uint16 or strings), see the source's value."""
    ckpt, plan, _ = layouts_applied
    shape, dtype, old, new = LAYOUTS[name]
    expected = value_of(name, shape, dtype)
    written = BundleReader(plan.output_prefix)
    whole = written.array(name)
    assert same(whole.astype(expected.dtype) if dtype != "string" else whole, expected)
    assert len(written.entry(name).slices) == len(plan.entry(name).partitions or ())
    if new is None or dtype not in ("float16", "uint16", "string"):
        assert same(tf.train.load_checkpoint(plan.output_prefix).get_tensor(name), expected)


def test_strings_are_assembled_not_streamed(layouts_applied):
    """Strings have no fixed row width: no stream of rows is offered for them, numbers have one."""
    _, plan, _ = layouts_applied
    written = BundleReader(plan.output_prefix)
    assert written.tensor_chunks("strings_3_into_2") is None
    assert written.tensor_chunks("odd_rows_3_into_2") is not None
    extents = [piece.extent for piece in written.stored_slices("odd_rows_3_into_2")]
    assert sorted(extents) == [((0, 4), (0, 3)), ((4, 3), (0, 3))]


def sharded_save(directory: Path, specs) -> str:
    """A checkpoint in two data shards, as a sharded Saver writes one for two devices."""
    graph = tf.Graph()
    with graph.as_default():
        for index, spec in enumerate(specs):
            with tf.device(f"/cpu:{index % 2}"):
                table_graph([spec])
        saver = v1.train.Saver(sharded=True)
        with v1.Session(config=v1.ConfigProto(device_count={"CPU": 2})) as session:
            session.run(v1.global_variables_initializer())
            by_name = variables_by_name(graph)
            for name, shape, dtype, _ in specs:
                for region, variable in by_name[name]:
                    variable.load(value_of(name, shape, dtype)[region], session)
            directory.mkdir(parents=True)
            return saver.save(session, str(directory / "model.ckpt"))


def test_a_sharded_source_resliced_into_three_output_shards(tmp_path):
    old, new = layout_specs(["odd_rows_3_into_2", "odd_rows_plain_into_3", "strings_3_into_2"])
    ckpt = sharded_save(tmp_path / "old", old)
    assert BundleReader(ckpt).num_shards == 2
    graph_file = write_new_graph(tmp_path, NEW.format(specs=new))
    plan = make_plan(ckpt + ".meta", graph_file, output_prefix=str(tmp_path / "new" / "model.ckpt"))
    write_plan(plan, tmp_path / "plan.json")
    result = run_in_process("apply", tmp_path / "plan.json", "--quiet", "--verify", "--shards", "3")
    assert result.returncode == 0, result.stderr
    assert BundleReader(plan.output_prefix).num_shards == 3
    values = restored(build_new_graph(str(graph_file)).graph, plan.output_prefix, new)
    for name, shape, dtype, _ in new:
        assert same(values[name], value_of(name, shape, dtype)), name


def test_map_onto_a_partitioned_table_of_another_name(tmp_path):
    old = [("emb", [7, 3], "float32", row_cut(3))]
    new = [("other/table", [7, 3], "float32", row_cut(2))]
    check_restored(tmp_path, old, new, maps=["emb=other/table"])


def test_restore_into_session_with_odd_rows_cut_otherwise_than_planned(tmp_path):
    old = [("emb", [7, 3], "float16", row_cut(3))]
    ckpt = save_tables(tmp_path / "old", old)
    graph_file = write_new_graph(tmp_path, NEW.format(specs=[("emb", [7, 3], "float16", None)]))
    plan = make_plan(ckpt + ".meta", graph_file)
    graph = tf.Graph()
    with graph.as_default():
        table_graph([("emb", [7, 3], "float16", row_cut(4))])
        with v1.Session() as session:
            assert restore_into_session(plan, session)["restored"] == ["emb"]
            whole = np.empty([7, 3], np.float16)
            for region, variable in variables_by_name(graph)["emb"]:
                whole[region] = session.run(variable)
    assert same(whole, value_of("emb", [7, 3], "float16"))


# --- local shards read through mmap ------------------------------------------------------------

MIXED = [
    ("a_plain", [3, 5], "float32", None),
    ("b_strings", [3], "string", None),
    ("c_table", [7, 3], "float32", row_cut(3)),
    ("d_empty", [0, 4], "float32", None),
    ("e_scalar", [], "int8", None),
    ("f_half", [5], "float16", None),
]
MIXED_NEW = [(n, s, d, row_cut(2) if n == "c_table" else how) for n, s, d, how in MIXED]


def planned_mixed(tmp_path):
    ckpt = save_tables(tmp_path / "old", MIXED)
    graph_file = write_new_graph(tmp_path, NEW.format(specs=MIXED_NEW))
    plan = make_plan(ckpt + ".meta", graph_file, output_prefix=str(tmp_path / "new" / "model.ckpt"))
    write_plan(plan, tmp_path / "plan.json")
    return ckpt, plan, Path(ckpt + ".data-00000-of-00001")


def assert_restored(plan, prefix=None):
    graph = build_new_graph(plan.provenance.new_graph.path).graph
    values = restored(graph, prefix or plan.output_prefix, MIXED_NEW)
    for name, shape, dtype, _ in MIXED_NEW:
        assert same(values[name], value_of(name, shape, dtype)), name


def test_tensors_at_odd_offsets_and_of_zero_bytes_are_carried(tmp_path):
    ckpt, plan, _ = planned_mixed(tmp_path)
    source = BundleReader(ckpt)
    offsets = [source.entry(name).offset for name in ("b_strings", "e_scalar", "f_half")]
    assert all(offset % 4096 for offset in offsets) and source.entry("d_empty").size == 0
    result = run_in_process("apply", tmp_path / "plan.json", "--quiet", "--verify")
    assert result.returncode == 0, result.stderr
    assert_restored(plan)


def test_a_checkpoint_given_as_a_file_url_is_read(tmp_path):
    ckpt, plan, _ = planned_mixed(tmp_path)
    result = run_in_process(
        "apply", tmp_path / "plan.json", "--quiet", "--verify", "--checkpoint", "file://" + ckpt
    )
    assert result.returncode == 0, result.stderr
    assert_restored(plan)


def test_bytes_after_the_last_tensor_do_not_matter(tmp_path):
    _, plan, data = planned_mixed(tmp_path)
    data.write_bytes(data.read_bytes() + b"\xff" * 70000)
    result = run_in_process("apply", tmp_path / "plan.json", "--quiet", "--verify")
    assert result.returncode == 0, result.stderr
    assert_restored(plan)


def test_a_fifo_in_place_of_a_data_file_is_one_line_not_a_hang(tmp_path):
    """Regression (hang): apply waited forever, opening the FIFO for a writer that never came.
    Expected: exit 2 naming the file and what it is, nothing written."""
    _, plan, data = planned_mixed(tmp_path)
    data.unlink()
    os.mkfifo(data)
    result = run_in_process("apply", tmp_path / "plan.json", "--quiet")
    assert "a FIFO" in assert_one_line_bad_input(result, str(data))
    assert not (tmp_path / "new").exists()


def test_a_data_file_linked_to_dev_zero_is_named_for_what_it_is(tmp_path):
    """Regression (minor): "truncated: a tensor's bytes end early" of /dev/zero, whose size
    reads as 0. Expected: the file named as a character device."""
    _, plan, data = planned_mixed(tmp_path)
    data.unlink()
    data.symlink_to("/dev/zero")
    result = run_in_process("apply", tmp_path / "plan.json", "--quiet")
    assert "a character device" in assert_one_line_bad_input(result, str(data))
    assert not (tmp_path / "new").exists()


def test_an_empty_data_file_is_truncated(tmp_path):
    _, plan, data = planned_mixed(tmp_path)
    data.write_bytes(b"")
    result = run_in_process("apply", tmp_path / "plan.json", "--quiet")
    assert "truncated" in assert_one_line_bad_input(result, str(data))
    assert not (tmp_path / "new").exists()


def test_an_index_whose_size_disagrees_with_its_shape_is_one_line(tmp_path):
    """Regression (exit 1): "internal error: ValueError: the stream ended 4 bytes early" when a
    plain table is streamed into parts and its index entry (crc32c made to match) says 4 bytes
    fewer than its shape needs. Expected: exit 2 naming the data file."""
    from tensorflow.core.protobuf import tensor_bundle_pb2

    ckpt = save_tables(tmp_path / "old", [("t", [7, 3], "float32", None)])
    data = Path(ckpt + ".data-00000-of-00001").read_bytes()
    rows = []
    for key, value in read_table(Path(ckpt + ".index").read_bytes()):
        if key == b"t":
            entry = tensor_bundle_pb2.BundleEntryProto.FromString(value)
            entry.size -= 4
            entry.crc32c = mask(crc32c(data[entry.offset : entry.offset + entry.size]))
            value = entry.SerializeToString()
        rows.append((key, value))
    Path(ckpt + ".index").write_bytes(write_table(rows))
    _, _, result = apply_tables_from(tmp_path, ckpt, [("t", [7, 3], "float32", row_cut(3))])
    assert "80 bytes stored for 84" in assert_one_line_bad_input(result, ckpt + ".data-00000")
    assert not (tmp_path / "new").exists()


def apply_tables_from(tmp_path, ckpt, new_specs, *args):
    new_graph = write_new_graph(tmp_path, NEW.format(specs=new_specs))
    plan = make_plan(ckpt + ".meta", new_graph, output_prefix=str(tmp_path / "new" / "model.ckpt"))
    write_plan(plan, tmp_path / "plan.json")
    return ckpt, plan, run_in_process("apply", tmp_path / "plan.json", "--quiet", *args)


def test_the_source_as_output_through_a_file_url_is_refused(tmp_path):
    ckpt, _, data = planned_mixed(tmp_path)
    before = data.read_bytes()
    result = run_in_process(
        "apply", tmp_path / "plan.json", "--quiet", "--force", "--output", "file://" + ckpt
    )
    assert "is the checkpoint the plan restores from" in assert_one_line_bad_input(result, ckpt)
    assert data.read_bytes() == before


def test_a_source_data_file_linked_into_the_output_is_not_replaced(tmp_path):
    """Regression (data loss): the source's data shard a symbolic link to the data file of a
    checkpoint at the output prefix; `--force` replaced that file with the new data, and the
    source's index then described bytes that were gone. Expected: exit 2, both untouched."""
    ckpt = save_tables(tmp_path / "old", [("t", [7, 3], "float32", None)])
    data = Path(ckpt + ".data-00000-of-00001")
    (tmp_path / "new").mkdir()
    target = tmp_path / "new" / "model.ckpt.data-00000-of-00001"
    data.rename(target)
    data.symlink_to(target)
    (tmp_path / "new" / "model.ckpt.index").write_bytes(b"an older checkpoint")
    before = target.read_bytes()
    new = [("a_first", [2], "float32", None), ("t", [7, 3], "float32", row_cut(3))]
    _, _, result = apply_tables_from(tmp_path, ckpt, new, "--force")
    assert "a data file of the source" in assert_one_line_bad_input(result, "model.ckpt")
    assert target.read_bytes() == before
    assert same(tf.train.load_checkpoint(ckpt).get_tensor("t"), value_of("t", [7, 3], "float32"))


def test_verify_sees_parts_whose_bytes_were_swapped(tmp_path):
    """Regression (a check that could pass a wrong restore): --verify (and `graphdiff verify`)
    took two parts lists as equal when their crc32c matched pairwise in the order each index
    lists them, whatever extent each piece lies at: a table whose two halves were written
    swapped, each listed under the other's place, passed. Expected: it differs."""
    old = [("t", [8, 3], "float32", row_cut(2))]
    ckpt, plan, result = apply_tables(tmp_path, old, old)
    assert result.returncode == 0, result.stderr
    source, entry = BundleReader(ckpt), plan.entry("t")
    assert holds_source_value(BundleReader(plan.output_prefix), source, entry)
    first, second = source.stored_slices("t")
    (tmp_path / "swapped").mkdir()
    swapped = str(tmp_path / "swapped" / "model.ckpt")
    with BundleWriter(swapped) as writer:
        for extent, piece in ((second.extent, first.entry), (first.extent, second.entry)):
            key = writer.add_sliced("t", piece.dtype, [8, 3], extent)
            writer.add_chunks(key, piece, source.chunks(piece, "t"))
        writer.finish()
    assert not holds_source_value(BundleReader(swapped), source, entry)


def _big_and_small(tmp_path):
    """A checkpoint whose big tensors (over reader.SMALL, so mapped) start at offsets that are
    not page-aligned, behind small ones (read with pread); the new graph adds a head."""
    from graphs import save_checkpoint

    def old():
        v1.get_variable("a/small", [3], initializer=v1.random_normal_initializer())
        v1.get_variable("a/big", [700, 600], initializer=v1.random_normal_initializer())
        v1.get_variable("b/big", [600, 700], initializer=v1.random_normal_initializer())

    ckpt = save_checkpoint(tmp_path / "old", old)
    graph = (
        "v1.get_variable('a/small', [3])\n"
        "v1.get_variable('a/big', [700, 600])\n"
        "v1.get_variable('b/big', [600, 700])\n"
        "v1.get_variable('head/w', [5])\n"
    )
    plan = make_plan(
        ckpt + ".meta", write_new_graph(tmp_path, graph), output_prefix=str(tmp_path / "new/m")
    )
    return ckpt, plan


def _carried_exactly(ckpt, prefix):
    source, written = tf.train.load_checkpoint(ckpt), tf.train.load_checkpoint(prefix)
    for key in ("a/small", "a/big", "b/big"):
        assert written.get_tensor(key).tobytes() == source.get_tensor(key).tobytes(), key


def test_mapped_and_read_tensors_are_carried_exactly(tmp_path):
    from graphdiff.apply.executor import apply_plan
    from graphdiff.bundle import reader

    ckpt, plan = _big_and_small(tmp_path)
    offsets = {k: BundleReader(ckpt).entry(k).offset for k in ("a/big", "b/big")}
    assert any(offset % 4096 for offset in offsets.values())
    assert BundleReader(ckpt).entry("a/big").size > reader.SMALL
    _carried_exactly(ckpt, apply_plan(plan, verify=True))


def test_a_file_system_that_cannot_map_files_is_read_instead(tmp_path, monkeypatch):
    """Some FUSE mounts refuse mmap (ENODEV); such a refusal cannot be provoked on this
    machine's file systems, hence the patched mmap."""
    import errno
    import mmap

    from graphdiff.apply.executor import apply_plan

    def refuse(*args, **kwargs):
        raise OSError(errno.ENODEV, "No such device")

    ckpt, plan = _big_and_small(tmp_path)
    monkeypatch.setattr(mmap, "mmap", refuse)
    _carried_exactly(ckpt, apply_plan(plan, verify=True))


def test_a_damaged_big_tensor_is_caught_after_the_kernel_copy(tmp_path):
    """Big tensors are copied by the kernel, then the copy is checked: a flipped byte in the
    source is a one-line BadInput naming its data file, and nothing is published."""
    from graphdiff.apply.executor import apply_plan
    from graphdiff.errors import BadInput

    ckpt, plan = _big_and_small(tmp_path)
    entry = BundleReader(ckpt).entry("b/big")
    data = Path(BundleReader(ckpt).data_file(entry))
    damaged = bytearray(data.read_bytes())
    damaged[entry.offset + entry.size // 2] ^= 0x08
    data.write_bytes(bytes(damaged))
    with pytest.raises(BadInput, match="'b/big' cannot be read: its bytes do not match") as caught:
        apply_plan(plan)
    assert caught.value.path == str(data)
    assert not (tmp_path / "new").exists()


def test_a_source_on_another_file_system_is_carried_through_memory(tmp_path):
    """The kernel will not copy from tmpfs to the disk (EXDEV): the bytes go through memory."""
    import shutil
    import tempfile

    from graphdiff.apply.executor import apply_plan

    ckpt, plan = _big_and_small(tmp_path)
    elsewhere = Path(tempfile.mkdtemp(dir="/dev/shm"))
    try:
        for path in Path(ckpt).parent.iterdir():
            shutil.copy(path, elsewhere / path.name)
        moved = str(elsewhere / Path(ckpt).name)
        assert os.stat(elsewhere).st_dev != os.stat(tmp_path).st_dev
        prefix = apply_plan(plan, checkpoint=moved, verify=True)
        _carried_exactly(moved, prefix)
    finally:
        shutil.rmtree(elsewhere)
