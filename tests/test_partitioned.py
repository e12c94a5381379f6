"""Partitioned variables and sharded checkpoints, planned and applied for real.

Old checkpoints are written by TensorFlow's Saver; the planner makes the plan; apply writes the
new checkpoint; TensorFlow's own readers (`tf.train.load_checkpoint`, `Saver.restore` in the new
graph, `import_meta_graph` + restore) must then see every restored tensor bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from graphs import save_checkpoint, tf, v1, write_new_graph

from graphdiff.apply.executor import apply_plan
from graphdiff.bundle.reader import BundleReader
from graphdiff.errors import BadInput
from graphdiff.new_graph import build_new_graph
from graphdiff.plan import Options
from graphdiff.planning import make_plan

TABLE = (40, 6)


def embedding(parts: int, scope="scope", name="emb", use_resource=False, axis=0):
    """An embedding table in `parts` parts (1: a plain variable) and a lookup of it."""
    ids = v1.placeholder(tf.int64, [None], name="ids")
    with v1.variable_scope(scope):
        split = {"partitioner": v1.fixed_size_partitioner(parts, axis)} if parts > 1 else {}
        table = v1.get_variable(
            name,
            TABLE,
            initializer=v1.random_normal_initializer(),
            use_resource=use_resource,
            **split,
        )
    if axis:  # embedding_lookup reads parts as row ranges: take the table whole
        return tf.gather(tf.concat(list(table), axis, name="whole_table"), ids)
    return v1.nn.embedding_lookup(table, ids)


NEW_GRAPH = """
from test_partitioned import embedding
features = embedding(
    {parts}, scope={scope!r}, name={name!r}, use_resource={use_resource}, axis={axis}
)
with v1.variable_scope("head"):
    w = v1.get_variable("w", [6, 3])
logits = tf.matmul(features, w)
"""


def old_checkpoint(tmp_path: Path, parts: int, use_resource=False, axis=0) -> str:
    return save_checkpoint(
        tmp_path / "old", lambda: embedding(parts, use_resource=use_resource, axis=axis)
    )


def plan_and_apply(
    tmp_path, ckpt, parts, scope="scope", name="emb", use_resource=False, axis=0, **kw
):
    new_graph = write_new_graph(
        tmp_path,
        NEW_GRAPH.format(parts=parts, scope=scope, name=name, use_resource=use_resource, axis=axis),
    )
    plan = make_plan(
        ckpt + ".meta",
        new_graph,
        output_prefix=str(tmp_path / "new" / "model.ckpt"),
        options=kw.pop("options", None),
    )
    return plan, apply_plan(plan, **kw)


def full_tensor(prefix: str, key: str) -> np.ndarray:
    return tf.train.load_checkpoint(prefix).get_tensor(key)


def restored_in_new_graph(plan, prefix: str, name: str) -> np.ndarray:
    """`Saver().restore` in the new graph, then the parts put together by their offsets."""
    graph = build_new_graph(plan.provenance.new_graph.path).graph
    with graph.as_default(), v1.Session() as session:
        v1.train.Saver().restore(session, prefix)
        entry = plan.entry(name)
        whole = np.zeros(entry.shape, np.float32)
        parts = entry.partitions or [None]
        variables = {v.op.name: v for v in v1.global_variables()}
        for part in parts:
            if part is None:
                return session.run(variables[name])
            index = tuple(slice(o, o + s) for o, s in zip(part.offset, part.shape, strict=True))
            whole[index] = session.run(variables[part.name])
        return whole


def same_bytes(a, b) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize(
    ("old_parts", "new_parts", "use_resource"),
    [(3, 2, False), (1, 4, False), (4, 1, True), (3, 3, True)],
    ids=["3->2", "plain->4", "4->plain", "3->3"],
)
def test_partitioned_tables_restore_bit_for_bit(tmp_path, old_parts, new_parts, use_resource):
    ckpt = old_checkpoint(tmp_path, old_parts, use_resource)
    plan, prefix = plan_and_apply(tmp_path, ckpt, new_parts, use_resource=use_resource)
    entry = plan.entry("scope/emb")
    assert entry.action == "restore" and entry.source == "scope/emb"
    assert entry.shape == TABLE and len(entry.partitions) == (new_parts if new_parts > 1 else 0)
    assert [e.name for e in plan.variables if e.name.startswith("scope/emb")] == ["scope/emb"]
    old = full_tensor(ckpt, "scope/emb")
    assert same_bytes(full_tensor(prefix, "scope/emb"), old)
    assert same_bytes(restored_in_new_graph(plan, prefix, "scope/emb"), old)
    with tf.Graph().as_default(), v1.Session() as session:
        v1.train.import_meta_graph(prefix + ".meta").restore(session, prefix)


@pytest.mark.parametrize(
    ("old_axis", "new_axis"), [(1, 0), (0, 1)], ids=["columns->rows", "rows->columns"]
)
def test_tables_cut_along_other_dimensions_restore_bit_for_bit(tmp_path, old_axis, new_axis):
    """Parts cut along columns cannot be streamed row by row; the table is put together and
    cut again, with the same bytes in the end, checked by --verify too."""
    ckpt = old_checkpoint(tmp_path, 3, axis=old_axis)
    _, prefix = plan_and_apply(tmp_path, ckpt, 2, axis=new_axis, verify=True)
    assert same_bytes(full_tensor(prefix, "scope/emb"), full_tensor(ckpt, "scope/emb"))
    assert len(BundleReader(prefix).stored_slices("scope/emb")) == 2


def test_row_parts_are_resliced_as_streams_with_fresh_checksums(tmp_path):
    """3 -> 2 along rows: the written slices have the new boundaries and their own crc32c, the
    bytes read back in row order are the source's, and --verify compares them as streams."""
    ckpt = old_checkpoint(tmp_path, 3)
    _, prefix = plan_and_apply(tmp_path, ckpt, 2, verify=True)
    written, source = BundleReader(prefix), BundleReader(ckpt)
    assert [p.extent for p in written.stored_slices("scope/emb")] == [
        ((0, 20), (0, 6)),
        ((20, 20), (0, 6)),
    ]
    ours = b"".join(bytes(c) for c in written.tensor_chunks("scope/emb"))
    theirs = b"".join(bytes(c) for c in source.tensor_chunks("scope/emb"))
    assert ours == theirs == full_tensor(ckpt, "scope/emb").tobytes()


def test_same_parts_are_copied_without_decoding(tmp_path):
    """3 -> 3: each stored slice keeps its bytes and crc32c, as the source stored them."""
    ckpt = old_checkpoint(tmp_path, 3)
    _, prefix = plan_and_apply(tmp_path, ckpt, 3)
    source, written = BundleReader(ckpt), BundleReader(prefix)
    theirs = [(p.extent, p.entry.crc32c) for p in source.stored_slices("scope/emb")]
    ours = [(p.extent, p.entry.crc32c) for p in written.stored_slices("scope/emb")]
    assert ours == theirs and len(ours) == 3


def test_new_partitioned_variable_is_initialized_in_slices(tmp_path):
    """A partitioned variable nobody restores gets its initializer's values, slice by slice."""
    ckpt = save_checkpoint(tmp_path / "old", lambda: v1.get_variable("other", [2]))
    _, prefix = plan_and_apply(tmp_path, ckpt, 3)
    value = full_tensor(prefix, "scope/emb")
    assert value.shape == TABLE and np.std(value) > 0.1  # random normal, not zeros
    assert len(BundleReader(prefix).entry("scope/emb").slices) == 3


def test_map_names_a_partitioned_variable_by_its_full_name(tmp_path):
    ckpt = old_checkpoint(tmp_path, 3)
    options = Options(maps=("scope/emb=some_scope/my1",))
    plan, prefix = plan_and_apply(
        tmp_path, ckpt, 4, scope="some_scope", name="my1", options=options
    )
    entry = plan.entry("some_scope/my1")
    assert entry.source == "scope/emb" and entry.match.method == "user_rule"
    old = full_tensor(ckpt, "scope/emb")
    assert same_bytes(restored_in_new_graph(plan, prefix, "some_scope/my1"), old)


def test_exclude_and_require_take_the_full_name(tmp_path):
    ckpt = old_checkpoint(tmp_path, 3)
    graph = write_new_graph(
        tmp_path, NEW_GRAPH.format(parts=2, scope="scope", name="emb", use_resource=False, axis=0)
    )
    plan = make_plan(ckpt + ".meta", graph, options=Options(excludes=("^scope/emb$",)))
    assert plan.entry("scope/emb").action == "initialize"
    plan = make_plan(ckpt + ".meta", graph, options=Options(requires=("^scope/emb$",)))
    assert plan.entry("scope/emb").action == "restore"


def test_map_onto_a_variable_of_another_shape_says_so(tmp_path):
    ckpt = save_checkpoint(tmp_path / "old", lambda: v1.get_variable("scope/small", [5, 6]))
    graph = write_new_graph(
        tmp_path, NEW_GRAPH.format(parts=2, scope="scope", name="emb", use_resource=False, axis=0)
    )
    with pytest.raises(
        BadInput, match=r"'scope/small' -> 'scope/emb': shape \[40, 6\] in the new graph, \[5, 6\]"
    ):
        make_plan(ckpt + ".meta", graph, options=Options(maps=("scope/small=scope/emb",)))


# --- sharded checkpoints -------------------------------------------------------------------------


def two_device_checkpoint(directory: Path) -> str:
    """A checkpoint in two data shards, as a sharded Saver writes one for two devices."""
    graph = tf.Graph()
    with graph.as_default():
        with tf.device("/cpu:0"):
            embedding(3)
        with tf.device("/cpu:1"), v1.variable_scope("head"):
            v1.get_variable("w", [6, 3])
        saver = v1.train.Saver(sharded=True)
        config = v1.ConfigProto(device_count={"CPU": 2})
        with v1.Session(config=config) as session:
            session.run(v1.global_variables_initializer())
            directory.mkdir(parents=True)
            return saver.save(session, str(directory / "model.ckpt"))


def test_sharded_source_and_sharded_output(tmp_path):
    ckpt = two_device_checkpoint(tmp_path / "old")
    assert BundleReader(ckpt).num_shards == 2
    plan, prefix = plan_and_apply(tmp_path, ckpt, 2)  # output follows the source: 2 shards
    assert sorted(p.name for p in Path(prefix).parent.glob("model.ckpt.data-*")) == [
        "model.ckpt.data-00000-of-00002",
        "model.ckpt.data-00001-of-00002",
    ]
    for key in ("scope/emb", "head/w"):
        assert same_bytes(full_tensor(prefix, key), full_tensor(ckpt, key))
    again = apply_plan(plan, str(tmp_path / "three" / "model.ckpt"), shards=3, verify=True)
    assert len(list(Path(again).parent.glob("model.ckpt.data-*-of-00003"))) == 3
    assert same_bytes(
        restored_in_new_graph(plan, again, "scope/emb"), full_tensor(ckpt, "scope/emb")
    )


# --- graphs built for distributed training -------------------------------------------------------

PS_GRAPH = """
with v1.device(v1.train.replica_device_setter(ps_tasks=2)):
    from test_partitioned import embedding
    features = embedding(2)
    with v1.variable_scope("head"):
        w = v1.get_variable("w", [6, 3])
    logits = tf.matmul(features, w)
"""


def test_graph_pinned_to_parameter_servers_applies_and_keeps_its_devices(tmp_path):
    ckpt = old_checkpoint(tmp_path, 3)
    new_graph = write_new_graph(tmp_path, PS_GRAPH)
    plan = make_plan(ckpt + ".meta", new_graph, output_prefix=str(tmp_path / "new" / "model.ckpt"))
    prefix = apply_plan(plan)
    assert same_bytes(full_tensor(prefix, "scope/emb"), full_tensor(ckpt, "scope/emb"))
    assert full_tensor(prefix, "head/w").shape == (6, 3)
    meta = v1.MetaGraphDef()
    meta.ParseFromString(Path(prefix + ".meta").read_bytes())
    devices = {node.name: node.device for node in meta.graph_def.node}
    assert devices["head/w"].startswith("/job:ps/task:")
    assert devices["scope/emb/part_0"].startswith("/job:ps/task:")


def test_restore_into_a_session_with_other_parts_than_planned(tmp_path):
    """A training script's own graph: the table in 5 parts, though the plan was made for 2."""
    from graphdiff.apply.executor import restore_into_session

    ckpt = old_checkpoint(tmp_path, 3)
    graph_file = write_new_graph(
        tmp_path, NEW_GRAPH.format(parts=2, scope="scope", name="emb", use_resource=False, axis=0)
    )
    plan = make_plan(ckpt + ".meta", graph_file)
    graph = tf.Graph()
    with graph.as_default():
        embedding(5)
        v1.get_variable("head/w", [6, 3])
        with v1.Session() as session:
            report = restore_into_session(plan, session)
            parts = sorted(
                (v for v in v1.global_variables() if v.op.name.startswith("scope/emb/part_")),
                key=lambda v: v._save_slice_info.var_offset[0],
            )
            whole = np.concatenate(session.run(parts))
    assert report["restored"] == ["scope/emb"] and report["initialized"] == ["head/w"]
    assert same_bytes(whole, full_tensor(ckpt, "scope/emb"))


def test_parts_into_a_shape_free_plain_variable(tmp_path):
    """A table saved in 3 parts restored into `tf.Variable(..., validate_shape=False)`, whose
    graph shape is unknown: its bytes are streamed with the stored full shape."""
    ckpt = old_checkpoint(tmp_path, 3)
    source = (
        "with v1.variable_scope('scope'):\n"
        "    v1.Variable(tf.zeros([0, 6]), name='emb', validate_shape=False, use_resource=False)\n"
    )
    plan = make_plan(
        ckpt + ".meta",
        write_new_graph(tmp_path, source),
        output_prefix=str(tmp_path / "new" / "model.ckpt"),
    )
    assert plan.entry("scope/emb").action == "restore"
    prefix = apply_plan(plan, verify=True)
    assert same_bytes(full_tensor(prefix, "scope/emb"), full_tensor(ckpt, "scope/emb"))


def test_a_damaged_part_stops_a_reslice_and_leaves_nothing(tmp_path):
    """A flipped byte in the second stored slice is found by its crc32c while the table is
    streamed into 2 parts: BadInput naming the data file, nothing at the output prefix."""
    ckpt = old_checkpoint(tmp_path, 3)
    piece = BundleReader(ckpt).stored_slices("scope/emb")[1].entry
    data = Path(BundleReader(ckpt).data_file(piece))
    damaged = bytearray(data.read_bytes())
    damaged[piece.offset + 5] ^= 0x40
    data.write_bytes(bytes(damaged))
    with pytest.raises(BadInput, match="do not match their checksum") as raised:
        plan_and_apply(tmp_path, ckpt, 2)
    assert raised.value.path == str(data)
    assert not (tmp_path / "new").exists() or not any((tmp_path / "new").iterdir())
