"""The executor against real TensorFlow: real checkpoints written by Saver, plans built by hand.

Each scenario saves an old checkpoint into tmp_path, writes a tiny new_graph.py beside it, and
builds the plan with the plan.py dataclasses (the matcher is not needed to test apply).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from graphdiff.apply import checkpoint_files
from graphdiff.apply.executor import apply_plan, check_fingerprints, restore_into_session
from graphdiff.errors import BadInput
from graphdiff.loading import sha256_of
from graphdiff.new_graph import build_new_graph
from graphdiff.plan import (
    FORMAT_VERSION,
    INITIALIZE,
    RESTORE,
    FileFingerprint,
    Options,
    Plan,
    Provenance,
    ShapeResolution,
    VariableEntry,
)
from graphdiff.tf_import import tensorflow

tf = tensorflow()
v1 = tf.compat.v1

# --- fixtures: old checkpoint, new graph file, hand-made plan ----------------------------------


def save_old(tmp_path: Path, use_resource=None, scale=1.0) -> str:
    """Old model: A/w [3,4], A/b [4] (random), B/w [4,2], global_step int64; saved by Saver."""
    graph = tf.Graph()
    with graph.as_default():
        kind = {} if use_resource is None else {"use_resource": use_resource}
        init = v1.random_normal_initializer(stddev=scale)
        with v1.variable_scope("A"):
            v1.get_variable("w", [3, 4], initializer=init, **kind)
            v1.get_variable("b", [4], initializer=init, **kind)
        with v1.variable_scope("B"):
            v1.get_variable("w", [4, 2], initializer=init, **kind)
        v1.get_variable("global_step", [], tf.int64, v1.constant_initializer(7), **kind)
        saver = v1.train.Saver()
        (tmp_path / "old").mkdir(exist_ok=True)
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            return saver.save(session, str(tmp_path / "old" / "model.ckpt"))


NEW_GRAPH = """
import tensorflow as tf
v1 = tf.compat.v1
KIND = {kind}
with v1.variable_scope("A"):
    w = v1.get_variable("w", [3, 4], **KIND)
    v1.get_variable("b", [4], **KIND)
with v1.variable_scope("A_copy"):
    v1.get_variable("w", [3, 4], **KIND)
with v1.variable_scope("C"):
    v1.get_variable("w", [4, 5], initializer=v1.zeros_initializer(), **KIND)
    v1.get_variable("b", [5], initializer=v1.constant_initializer(0.5), **KIND)
    v1.get_variable("twice", initializer=tf.identity(w) * 2.0, **KIND)
v1.get_variable("global_step", [], tf.int64, v1.zeros_initializer(), **KIND)
"""


def write_new_graph(tmp_path: Path, use_resource=None, text=None) -> str:
    kind = {} if use_resource is None else {"use_resource": use_resource}
    path = tmp_path / "new_graph.py"
    path.write_text(textwrap.dedent(text) if text else NEW_GRAPH.format(kind=kind))
    return str(path)


def restore(name, source=None, shape=(3, 4), dtype="float32", resolved=False) -> VariableEntry:
    source = source or name
    resolution = ShapeResolution(shape, source, "undefined_in_get_variable") if resolved else None
    return VariableEntry(
        name=name,
        dtype=dtype,
        shape=shape,
        action=RESTORE,
        reason=f"same name as {source}",
        source=source,
        shape_resolution=resolution,
    )


def initialize(name, shape, dtype="float32") -> VariableEntry:
    return VariableEntry(name, dtype, shape, INITIALIZE, "no counterpart in the checkpoint")


STANDARD_ENTRIES = (
    restore("A/w"),
    restore("A/b", shape=(4,)),
    restore("A_copy/w", source="A/w"),
    initialize("C/w", (4, 5)),
    initialize("C/b", (5,)),
    initialize("C/twice", (3, 4)),
    restore("global_step", shape=(), dtype="int64"),
)


def fingerprint(path: str) -> FileFingerprint:
    return FileFingerprint(path=path, sha256=sha256_of(path))


def make_plan(tmp_path: Path, ckpt: str, new_graph: str, entries=STANDARD_ENTRIES) -> Plan:
    return Plan(
        format_version=FORMAT_VERSION,
        provenance=Provenance(
            tool="graphdiff",
            tool_version="0.1.0",
            created="2024-01-01T00:00:00Z",
            old_meta=fingerprint(ckpt + ".meta"),
            checkpoint_prefix=ckpt,
            checkpoint_index=fingerprint(ckpt + ".index"),
            new_graph=fingerprint(new_graph),
            new_graph_kind="python",
        ),
        output_prefix=str(tmp_path / "out" / "deeper" / "model.ckpt"),
        options=Options(),
        variables=tuple(entries),
    )


def standard(tmp_path: Path, use_resource=None) -> Plan:
    ckpt = save_old(tmp_path, use_resource)
    return make_plan(tmp_path, ckpt, write_new_graph(tmp_path, use_resource))


def tensors(prefix: str) -> dict[str, np.ndarray]:
    reader = v1.train.NewCheckpointReader(prefix)
    return {key: reader.get_tensor(key) for key in reader.get_variable_to_shape_map()}


def same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def value_of(session, name: str) -> np.ndarray:
    """A variable's value (a resource variable's tensor is its handle, so go by the object)."""
    (variable,) = [v for v in session.graph.get_collection("variables") if v.op.name == name]
    return session.run(variable)


def nothing_at(prefix: str) -> bool:
    parent = Path(prefix).parent
    return not parent.exists() or not any(parent.iterdir())


# --- the whole story, for ref and resource variables -------------------------------------------


def check_full_scenario(tmp_path: Path, use_resource, expected_op: str) -> None:
    """Apply the standard plan and check everything the contract promises (plain asserts)."""
    plan = standard(tmp_path, use_resource)
    built = build_new_graph(plan.provenance.new_graph.path)
    assert {op.type for op in built.graph.get_operations() if op.name == "A/w"} == {expected_op}

    prefix = apply_plan(plan)

    assert prefix == plan.output_prefix
    out_dir = Path(prefix).parent
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == [
        "checkpoint",
        "model.ckpt.data-00000-of-00001",
        "model.ckpt.index",
        "model.ckpt.meta",
    ]
    assert 'model_checkpoint_path: "model.ckpt"' in (out_dir / "checkpoint").read_text()
    assert v1.train.latest_checkpoint(str(out_dir)) == prefix

    old, new = tensors(plan.provenance.checkpoint_prefix), tensors(prefix)
    assert sorted(new) == sorted(e.name for e in plan.variables)
    assert same_bytes(new["A/w"], old["A/w"])
    assert same_bytes(new["A_copy/w"], old["A/w"])  # one source, two targets
    assert same_bytes(new["A/b"], old["A/b"])
    assert same_bytes(new["global_step"], old["global_step"])  # 7, not the new graph's 0
    assert same_bytes(new["C/w"], np.zeros((4, 5), np.float32))
    assert same_bytes(new["C/b"], np.full((5,), 0.5, np.float32))
    assert same_bytes(new["C/twice"], old["A/w"] * 2.0)  # initializer saw the restored value

    # A plain Saver().restore in the new graph succeeds, and so does the written .meta.
    graph = build_new_graph(plan.provenance.new_graph.path).graph
    with graph.as_default(), v1.Session() as session:
        v1.train.Saver().restore(session, prefix)
        assert same_bytes(value_of(session, "A/w"), old["A/w"])
    with tf.Graph().as_default(), v1.Session() as session:
        v1.train.import_meta_graph(prefix + ".meta").restore(session, prefix)
        assert same_bytes(value_of(session, "A_copy/w"), old["A/w"])


@pytest.mark.parametrize(
    ("use_resource", "expected_op"), [(True, "VarHandleOp"), (False, "VariableV2")]
)
def test_apply_writes_complete_checkpoint(tmp_path, use_resource, expected_op):
    check_full_scenario(tmp_path, use_resource, expected_op)


def test_apply_after_disable_v2_behavior(tmp_path):
    """disable_v2_behavior is process-wide, so this scenario runs in its own interpreter."""
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from graphdiff.tf_import import tensorflow
        tensorflow().compat.v1.disable_v2_behavior()
        import test_executor
        test_executor.check_full_scenario(Path(sys.argv[1]), None, "VariableV2")
        print("scenario passed")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "scenario passed" in result.stdout


# --- shapes left undefined -----------------------------------------------------------------------

UNDEFINED = """
import tensorflow as tf
v1 = tf.compat.v1
with v1.variable_scope("A"):
    v1.get_variable("w", dtype=tf.float32)
    v1.get_variable("b", [4])
"""


def test_undefined_shape_is_resolved_from_the_plan(tmp_path):
    ckpt = save_old(tmp_path)
    entries = (restore("A/w", resolved=True), restore("A/b", shape=(4,)))
    plan = make_plan(tmp_path, ckpt, write_new_graph(tmp_path, text=UNDEFINED), entries)
    prefix = apply_plan(plan)
    assert same_bytes(tensors(prefix)["A/w"], tensors(ckpt)["A/w"])
    with tf.Graph().as_default():
        v1.train.import_meta_graph(prefix + ".meta")
        (w,) = [v for v in v1.global_variables() if v.op.name == "A/w"]
        assert w.shape.as_list() == [3, 4]


def test_initialize_with_undefined_shape_is_refused(tmp_path):
    ckpt = save_old(tmp_path)
    entries = (initialize("A/w", None), restore("A/b", shape=(4,)))
    plan = make_plan(tmp_path, ckpt, write_new_graph(tmp_path, text=UNDEFINED), entries)
    with pytest.raises(BadInput, match="A/w: its shape was left undefined") as caught:
        apply_plan(plan, plan_path="plan.json")
    assert caught.value.path == "plan.json"
    assert "nothing in the checkpoint gives it" in caught.value.fault
    assert nothing_at(plan.output_prefix)


# --- fingerprints --------------------------------------------------------------------------------


def test_refuses_a_changed_checkpoint(tmp_path):
    plan = standard(tmp_path)
    save_old(tmp_path, scale=3.0)  # same keys, other values: another index
    with pytest.raises(BadInput, match="changed since the plan was made") as caught:
        apply_plan(plan)
    assert caught.value.path.endswith("model.ckpt.index")
    assert nothing_at(plan.output_prefix)


def test_refuses_a_changed_new_graph(tmp_path):
    plan = standard(tmp_path)
    path = Path(plan.provenance.new_graph.path)
    path.write_text(path.read_text() + "\n# edited\n")
    with pytest.raises(BadInput, match="make the plan again") as caught:
        apply_plan(plan)
    assert caught.value.path == str(path)
    assert nothing_at(plan.output_prefix)


def test_refuses_a_plan_made_from_the_meta_alone(tmp_path):
    plan = standard(tmp_path)
    plan = Plan(**{**plan.__dict__, "provenance": _provenance(plan, checkpoint_index=None)})
    with pytest.raises(BadInput, match="from the .meta alone") as caught:
        check_fingerprints(plan)
    assert caught.value.path.endswith("model.ckpt.index")


def test_refuses_missing_data(tmp_path):
    plan = standard(tmp_path)
    data = Path(plan.provenance.checkpoint_prefix + ".data-00000-of-00001")
    data.unlink()
    with pytest.raises(BadInput, match="no such file") as caught:
        apply_plan(plan)
    assert caught.value.path == str(data)
    assert nothing_at(plan.output_prefix)


def test_damaged_data_is_refused_and_nothing_written(tmp_path):
    plan = standard(tmp_path)  # the index is intact, so its fingerprint still matches
    data = Path(plan.provenance.checkpoint_prefix + ".data-00000-of-00001")
    content = data.read_bytes()
    data.write_bytes(content[:8] + bytes(8) + content[16:])
    with pytest.raises(BadInput, match="cannot be read: .*[Cc]hecksum") as caught:
        apply_plan(plan)
    assert caught.value.path == str(data)
    assert nothing_at(plan.output_prefix)


def _provenance(plan: Plan, **changes) -> Provenance:
    return Provenance(**{**plan.provenance.__dict__, **changes})


# --- entries that do not fit ---------------------------------------------------------------------


def _with_entry(plan: Plan, name: str, entry: VariableEntry | None) -> Plan:
    entries = [entry if e.name == name else e for e in plan.variables]
    return Plan(**{**plan.__dict__, "variables": tuple(e for e in entries if e is not None)})


def test_missing_source_key_is_refused(tmp_path):
    plan = standard(tmp_path)
    plan = _with_entry(plan, "C/w", restore("C/w", source="C/w", shape=(4, 5)))
    with pytest.raises(BadInput) as caught:
        apply_plan(plan, plan_path="plan.json")
    ckpt = plan.provenance.checkpoint_prefix
    assert str(caught.value) == f"plan.json: C/w: source key 'C/w' is not in checkpoint {ckpt}"
    assert nothing_at(plan.output_prefix)


def test_shape_mismatch_with_the_source_is_refused(tmp_path):
    plan = standard(tmp_path)
    plan = _with_entry(plan, "C/w", restore("C/w", source="B/w", shape=(4, 5)))
    with pytest.raises(BadInput, match=r"C/w: shape \[4, 5\] in the graph, \[4, 2\]"):
        apply_plan(plan, plan_path="plan.json")
    assert nothing_at(plan.output_prefix)


def test_dtype_mismatch_with_the_source_is_refused(tmp_path):
    plan = standard(tmp_path)
    plan = _with_entry(plan, "global_step", restore("global_step", "A/b", (), "int64"))
    with pytest.raises(BadInput, match="dtype int64 in the graph, float32 in checkpoint key"):
        apply_plan(plan)


def test_graph_variable_without_entry_is_refused(tmp_path):
    plan = _with_entry(standard(tmp_path), "C/b", None)
    with pytest.raises(BadInput, match="C/b: a variable of the new graph .* has no entry"):
        apply_plan(plan, plan_path="plan.json")
    assert nothing_at(plan.output_prefix)


def test_entry_without_graph_variable_is_refused(tmp_path):
    plan = standard(tmp_path)
    plan = Plan(**{**plan.__dict__, "variables": (*plan.variables, initialize("D/w", (2,)))})
    with pytest.raises(BadInput, match="D/w: in the plan but not a variable of the new graph"):
        apply_plan(plan)


# --- atomic output -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "raised"),
    [(OSError(28, "No space left on device"), BadInput), (KeyboardInterrupt(), KeyboardInterrupt)],
)
def test_failure_while_moving_into_an_existing_directory_leaves_nothing(
    tmp_path, monkeypatch, error, raised
):
    plan = standard(tmp_path)
    Path(plan.output_prefix).parent.mkdir(parents=True)  # files are moved in one by one
    moves = []

    def failing_move(source, destination):
        if len(moves) == 2:  # data and index are in place, the meta is not
            raise error
        moves.append(destination)
        os.replace(source, destination)

    monkeypatch.setattr(checkpoint_files, "_move", failing_move)
    with pytest.raises(raised):
        apply_plan(plan)
    assert [p.name for p in moves] == ["model.ckpt.data-00000-of-00001", "model.ckpt.index"]
    assert list(Path(plan.output_prefix).parent.iterdir()) == []  # no file, no staging


def test_a_new_directory_appears_whole(tmp_path, monkeypatch):
    """The output's directory did not exist: it is built aside and renamed into place."""
    plan = standard(tmp_path)
    seen_during_write = []
    real_write = checkpoint_files._write_and_publish_tree

    def watching(staging, parent, relative, prefix, write):
        def write_and_look(staging_prefix):
            write(staging_prefix)
            seen_during_write.append((tmp_path / "out").exists())

        real_write(staging, parent, relative, prefix, write_and_look)

    monkeypatch.setattr(checkpoint_files, "_write_and_publish_tree", watching)
    prefix = apply_plan(plan)
    assert seen_during_write == [False]
    assert sorted(p.name for p in Path(prefix).parent.iterdir()) == [
        "checkpoint",
        "model.ckpt.data-00000-of-00001",
        "model.ckpt.index",
        "model.ckpt.meta",
    ]
    assert [p.name for p in tmp_path.iterdir() if "graphdiff-staging" in p.name] == []


def test_existing_checkpoint_needs_force(tmp_path):
    plan = standard(tmp_path)
    prefix = apply_plan(plan)
    with pytest.raises(BadInput, match="a checkpoint exists here; pass --force") as caught:
        apply_plan(plan)
    assert caught.value.path == prefix
    stale = Path(prefix + ".data-00000-of-00002")  # left over from an older, sharded save
    stale.write_bytes(b"old")
    assert apply_plan(plan, force=True) == prefix
    assert not stale.exists()
    assert sorted(p.name for p in Path(prefix).parent.iterdir())[0] == "checkpoint"
    assert len(list(Path(prefix).parent.iterdir())) == 4


def test_failure_with_force_puts_the_old_checkpoint_back(tmp_path, monkeypatch):
    plan = standard(tmp_path)
    prefix = apply_plan(plan)
    for path in Path(prefix).parent.iterdir():  # mark them: a new apply writes the same bytes
        path.write_bytes(b"old " + path.name.encode())
    before = {p.name: p.read_bytes() for p in Path(prefix).parent.iterdir()}
    real_move = checkpoint_files._move

    def failing_move(source, destination):
        if Path(destination).name == "checkpoint":
            raise OSError("no space left")
        real_move(source, destination)

    monkeypatch.setattr(checkpoint_files, "_move", failing_move)
    with pytest.raises(BadInput, match="cannot be written: no space left"):
        apply_plan(plan, force=True)
    after = {p.name: p.read_bytes() for p in Path(prefix).parent.iterdir()}
    assert after == before


def test_output_prefix_argument_overrides_the_plan(tmp_path):
    plan = standard(tmp_path)
    prefix = apply_plan(plan, str(tmp_path / "elsewhere" / "tuned.ckpt"))
    assert prefix == str(tmp_path / "elsewhere" / "tuned.ckpt")
    assert Path(prefix + ".meta").exists()
    assert nothing_at(plan.output_prefix)


# --- a training script's own session -------------------------------------------------------------


def _live_graph(new_graph: str, extra=None):
    graph = tf.Graph()
    with graph.as_default():
        exec(compile(Path(new_graph).read_text(), new_graph, "exec"), {})
        if extra:
            extra()
    return graph


def test_restore_into_session(tmp_path):
    plan = standard(tmp_path, use_resource=True)
    old = tensors(plan.provenance.checkpoint_prefix)

    def slot():  # made after planning, as an optimizer would
        v1.get_variable("extra/slot", [2], initializer=v1.ones_initializer())

    graph = _live_graph(plan.provenance.new_graph.path, slot)
    with v1.Session(graph=graph) as session:
        report = restore_into_session(plan, session)
        value = {v.op.name: session.run(v) for v in graph.get_collection("variables")}
    assert report["restored"] == ["A/w", "A/b", "A_copy/w", "global_step"]
    assert report["initialized"] == ["C/w", "C/b", "C/twice", "extra/slot"]
    assert same_bytes(value["A_copy/w"], old["A/w"])
    assert same_bytes(value["global_step"], old["global_step"])
    assert same_bytes(value["C/twice"], old["A/w"] * 2.0)
    assert same_bytes(value["extra/slot"], np.ones((2,), np.float32))


def test_restore_into_session_without_initializing_the_rest(tmp_path):
    plan = standard(tmp_path)
    graph = _live_graph(plan.provenance.new_graph.path)
    with v1.Session(graph=graph) as session:
        report = restore_into_session(plan, session, initialize_rest=False)
        uninitialized = session.run(v1.report_uninitialized_variables())
    assert report["initialized"] == []
    assert sorted(name.decode() for name in uninitialized) == ["C/b", "C/twice", "C/w"]


def test_restore_into_session_refuses_a_missing_variable(tmp_path):
    plan = standard(tmp_path)
    plan = Plan(**{**plan.__dict__, "variables": (*plan.variables, restore("Z/w", "A/w"))})
    graph = _live_graph(plan.provenance.new_graph.path)
    with v1.Session(graph=graph) as session, pytest.raises(BadInput, match="Z/w: restored by"):
        restore_into_session(plan, session, plan_path="plan.json")


def test_restore_into_session_refuses_a_shape_mismatch(tmp_path):
    plan = standard(tmp_path)
    graph = tf.Graph()
    with graph.as_default():
        for name, shape in [("A/w", [4, 3]), ("A/b", [4]), ("A_copy/w", [3, 4])]:
            v1.get_variable(name, shape)
        v1.get_variable("global_step", [], tf.int64)
    with v1.Session(graph=graph) as session, pytest.raises(BadInput, match=r"A/w: shape \[4, 3\]"):
        restore_into_session(plan, session)


# --- with the real planner, when it is there ------------------------------------------------------

UNDEFINED_BIAS = """
import tensorflow as tf
v1 = tf.compat.v1
with v1.variable_scope("A"):
    v1.get_variable("w", [3, 4])
    v1.get_variable("b", dtype=tf.float32)
with v1.variable_scope("C"):
    v1.get_variable("w", [4, 5], initializer=v1.zeros_initializer())
v1.get_variable("global_step", [], tf.int64, v1.zeros_initializer())
"""


def test_apply_a_plan_made_by_the_planner_and_read_back_from_json(tmp_path):
    from graphdiff import planning
    from graphdiff.plan import from_json, to_json

    ckpt = save_old(tmp_path)
    new_graph = write_new_graph(tmp_path, text=UNDEFINED_BIAS)
    out = str(tmp_path / "out" / "model.ckpt")
    plan = planning.make_plan(ckpt + ".meta", new_graph, output_prefix=out)
    plan = from_json(to_json(plan))
    assert plan.entry("A/b").shape_resolution is not None
    prefix = apply_plan(plan)
    old, new = tensors(ckpt), tensors(prefix)
    assert same_bytes(new["A/w"], old["A/w"])
    assert same_bytes(new["A/b"], old["A/b"])
    assert same_bytes(new["C/w"], np.zeros((4, 5), np.float32))
