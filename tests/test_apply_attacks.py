"""`graphdiff apply` and `restore_into_session` attacked as a hostile, careless or unlucky user.

Every test runs on real graphs and checkpoints written by TensorFlow, plans made by the planner
(edited by hand where a user would), and checks what the contract promises: the exit status
(never 1), one line on standard error naming the file and the fault, nothing at the prefix or in
staging after a failure, the source untouched, and above all the written values, compared with
TensorFlow's own readers bit for bit. Reference (VariableV2) and resource variables are both
tried where the two take different paths.

A docstring that begins "Regression" names a fault the attack found (and what went wrong then);
the executor was mended to pass it.
"""

from __future__ import annotations

import glob
import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import cli_env, run_in_process
from graphs import dense, inputs, save_checkpoint, tf, v1, write_new_graph

from graphdiff.apply import checkpoint_files
from graphdiff.apply import executor as executor_module
from graphdiff.apply.executor import apply_plan, restore_into_session
from graphdiff.bundle.reader import BundleReader
from graphdiff.bundle.table import read_table, write_table
from graphdiff.errors import BadInput
from graphdiff.new_graph import build_new_graph
from graphdiff.plan_io import read_plan, write_plan
from graphdiff.planning import make_plan

KINDS = pytest.mark.parametrize("use_resource", [False, True], ids=["ref", "resource"])


# --- helpers -------------------------------------------------------------------------------------


def planned(tmp_path: Path, build_old, new_source: str, output: Path | None = None):
    """Save the old checkpoint, write new_graph.py, plan; return (plan path, ckpt, Plan)."""
    ckpt = save_checkpoint(tmp_path / "old", build_old)
    new_graph = write_new_graph(tmp_path, new_source)
    output = output or tmp_path / "new" / "model.ckpt"
    plan = make_plan(ckpt + ".meta", new_graph, output_prefix=str(output))
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    return path, ckpt, plan


def apply_cli(*args) -> subprocess.CompletedProcess:
    """`graphdiff apply ARGS...` through the CLI's own `main`, in this process (a process of its
    own costs a TensorFlow import; the tests that need one, signals, start it themselves)."""
    return run_in_process("apply", *args)


def assert_one_line_bad_input(result: subprocess.CompletedProcess, names: str) -> str:
    """Exit 2, nothing on standard output, one line on standard error that names `names`."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("graphdiff: "), result.stderr
    assert names in result.stderr, result.stderr
    return result.stderr


def tensor(prefix: str, key: str) -> np.ndarray:
    return tf.train.load_checkpoint(str(prefix)).get_tensor(key)


def same_bytes(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype == object or b.dtype == object:
        return a.shape == b.shape and a.tolist() == b.tolist()
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def digests(prefix: str) -> dict[str, str]:
    """sha256 of every file of the checkpoint at `prefix` and of its directory's state file."""
    directory = Path(prefix).parent
    files = sorted(directory.glob(glob.escape(Path(prefix).name) + ".*"))
    files.append(directory / "checkpoint")
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()}


def at_prefix(prefix: Path) -> list[str]:
    parent = Path(prefix).parent
    pattern = glob.escape(Path(prefix).name) + "*"
    return sorted(p.name for p in parent.glob(pattern)) if parent.is_dir() else []


def staging_dirs(root: Path) -> list[Path]:
    return [p for p in Path(root).rglob(f"*{checkpoint_files.STAGING}*") if p.is_dir()]


def saver_restored(new_graph: str, prefix: str) -> dict[str, np.ndarray]:
    """Every variable's value after a plain `Saver().restore` in the new graph."""
    graph = build_new_graph(new_graph).graph
    with graph.as_default(), v1.Session() as session:
        v1.train.Saver().restore(session, str(prefix))
        return {v.op.name: session.run(v) for v in v1.global_variables()}


def session_graph(new_graph: str):
    return build_new_graph(new_graph).graph


def values_in(session) -> dict[str, np.ndarray]:
    variables = session.graph.get_collection("variables")
    return {v.op.name: session.run(v) for v in variables}


# --- dtypes, scalars, zero-size tensors ----------------------------------------------------------

# name -> (dtype, shape, old value, new initializer's value)
DTYPES = {
    "f16": (tf.float16, [3], 1.5, 2.5),
    "bf16": (tf.bfloat16, [3], 1.0, 3.0),
    "i8": (tf.int8, [3], -3, -5),
    "u8": (tf.uint8, [2, 2], 200, 7),
    "i64_scalar": (tf.int64, [], 7, 9),
    "f32_scalar": (tf.float32, [], 0.25, 4.0),
    "bool": (tf.bool, [2], True, False),
    "bool_scalar": (tf.bool, [], False, True),
    "c64": (tf.complex64, [2], 0, 1),
    "c128": (tf.complex128, [2], 1, 0),
    "strings": (tf.string, [2], ["a", "bcd"], ["x", "yz"]),
    "string_scalar": (tf.string, [], "hello", None),  # initialized: see the test of its own
    "zero_size": (tf.float32, [0, 4], 0.0, 0.0),
}


def _make(prefix: str, new_values: bool) -> None:
    for name, (dtype, shape, old, new) in DTYPES.items():
        value = new if new_values else old
        if value is None:
            continue
        if dtype.is_complex:
            initializer = v1.ones_initializer() if value else v1.zeros_initializer()
        else:
            initializer = v1.constant_initializer(value)
        v1.get_variable(prefix + name, shape, dtype, initializer=initializer)


def old_dtypes():
    _make("", new_values=False)


NEW_DTYPES = """
from test_apply_attacks import _make
_make("", new_values=False)  # restored: same names
_make("n_", new_values=True)  # initialized: nothing in the checkpoint
"""


@pytest.fixture(scope="module")
def dtypes_applied(tmp_path_factory):
    """Every dtype restored and initialized, applied once: (plan, ckpt, prefix, Saver values)."""
    tmp_path = tmp_path_factory.mktemp("dtypes")
    _, ckpt, plan = planned(tmp_path, old_dtypes, NEW_DTYPES)
    prefix = apply_plan(plan, verify=True)
    return plan, ckpt, prefix, saver_restored(plan.provenance.new_graph.path, prefix)


@pytest.mark.parametrize("name", list(DTYPES))
def test_every_dtype_is_restored_bit_for_bit(dtypes_applied, name):
    plan, ckpt, prefix, restored = dtypes_applied
    assert plan.entry(name).action == "restore"
    assert same_bytes(tensor(prefix, name), tensor(ckpt, name))
    assert same_bytes(restored[name], tensor(ckpt, name))


@pytest.mark.parametrize("name", [n for n, spec in DTYPES.items() if spec[3] is not None])
def test_every_dtype_is_initialized_to_its_initializers_value(dtypes_applied, name):
    plan, _, prefix, restored = dtypes_applied
    dtype, shape, _, value = DTYPES[name]
    assert plan.entry("n_" + name).action == "initialize"
    if dtype == tf.string:
        expected = np.array([v.encode() for v in value], object)
    else:
        expected = np.full(shape, value, dtype.as_numpy_dtype)
    assert same_bytes(tensor(prefix, "n_" + name), expected)
    assert same_bytes(restored["n_" + name], expected)


def test_a_scalar_string_variable_is_initialized_to_its_initializers_value(tmp_path):
    """Regression: an initialized scalar string is written as raw bytes, not as a string tensor.

    `session.run` gives a scalar string as `bytes`; `np.asarray(b"world!")` has dtype `S6`, not
    object, so BundleWriter.add_array writes it with `_numeric_bytes` under DT_STRING. apply
    exits 0; TensorFlow then cannot read the tensor ("The length checksum does not match") and
    `Saver().restore` in the new graph fails. (`--verify` exits 3 on it.)
    """
    path, _, plan = planned(
        tmp_path,
        lambda: v1.get_variable("x", [2]),
        'v1.get_variable("x", [2])\n'
        'v1.get_variable("label", [], tf.string, v1.constant_initializer("world!"))\n',
    )
    result = apply_cli(path, "--quiet")
    assert result.returncode == 0, result.stderr
    assert tensor(plan.output_prefix, "label") == b"world!"
    assert saver_restored(plan.provenance.new_graph.path, plan.output_prefix)["label"] == b"world!"


# --- initializers that share a tensor ------------------------------------------------------------


def old_a_and_b(use_resource: bool):
    def build():
        for name, value in (("a", 1.0), ("b", 2.0)):
            init = v1.constant_initializer(value)
            v1.get_variable(name, [3], initializer=init, use_resource=use_resource)

    return build


SHARED_INITIAL_VALUE = """
zeros = tf.zeros([3])
a = v1.Variable(zeros, name="a", use_resource={kind})
b = v1.Variable(zeros, name="b", use_resource={kind})
"""


@KINDS
def test_restore_into_session_when_two_variables_share_their_initial_value_tensor(
    tmp_path, use_resource
):
    """Regression, once a silent wrong value: one restored variable gets another's checkpoint value.

    `executor._load` feeds each restored value to `variable.initializer.inputs[1]`, keyed by that
    tensor; `a = Variable(zeros)` and `b = Variable(zeros)` share it, so the second feed wins and
    the one run sets `a` to b's value: a == [2, 2, 2] instead of [1, 1, 1].
    """
    source = SHARED_INITIAL_VALUE.format(kind=use_resource)
    _, ckpt, plan = planned(tmp_path, old_a_and_b(use_resource), source)
    assert [(e.name, e.source) for e in plan.restored] == [("a", "a"), ("b", "b")]
    with v1.Session(graph=session_graph(plan.provenance.new_graph.path)) as session:
        restore_into_session(plan, session)
        value = values_in(session)
    assert same_bytes(value["a"], tensor(ckpt, "a"))
    assert same_bytes(value["b"], tensor(ckpt, "b"))


@KINDS
def test_an_initializer_reading_two_restored_variables_that_share_their_initial_value(
    tmp_path, use_resource
):
    """Regression, once a silent wrong value: apply computes `c = a + 10 b` as 22, not 21.

    `initial_values._set_in_session` feeds the restored values of `a` and `b` to their
    initializers' shared input tensor (same fault as in `_load`): both get b's value before
    `c`'s initializer reads them. The checkpoint itself holds the right `a` and `b`.
    """
    source = SHARED_INITIAL_VALUE.format(kind=use_resource) + (
        'c = v1.Variable(tf.identity(a) + 10.0 * tf.identity(b), name="c", '
        f"use_resource={use_resource})\n"
    )
    path, ckpt, plan = planned(tmp_path, old_a_and_b(use_resource), source)
    assert plan.entry("c").action == "initialize"
    result = apply_cli(path, "--quiet")
    assert result.returncode == 0, result.stderr
    prefix = plan.output_prefix
    assert same_bytes(tensor(prefix, "a"), tensor(ckpt, "a"))
    expected = tensor(ckpt, "a") + np.float32(10.0) * tensor(ckpt, "b")
    assert same_bytes(tensor(prefix, "c"), expected)


SHARED_RANDOM = """
r = tf.random.normal([4096, 8192], seed=1)  # 128 MiB: one batch of initial values
encoder = v1.Variable(r, name="encoder", use_resource=False)
decoder = v1.Variable(r, name="decoder", use_resource=False)  # tied at the start
"""


def test_variables_initialized_from_one_random_tensor_start_equal(tmp_path):
    """Regression, once a silent wrong value: tied initial values are written different.

    `global_variables_initializer()` gives `encoder` and `decoder` the same draw of `r`. apply
    fetches initial values in batches of BATCH_BYTES (128 MiB), one session run each, so the two
    fall into two runs and get two different draws of `r`.
    """
    path, _, plan = planned(tmp_path, lambda: v1.get_variable("x", [2]), SHARED_RANDOM)
    result = apply_cli(path, "--quiet")
    assert result.returncode == 0, result.stderr
    reader = tf.train.load_checkpoint(plan.output_prefix)
    tied = same_bytes(reader.get_tensor("encoder"), reader.get_tensor("decoder"))
    assert tied, "encoder and decoder were written with two different draws of r"


# --- initializers that read variables, placeholders, or fail --------------------------------------

EMA_OF_A_FED_VARIABLE = """
pretrained = v1.placeholder(tf.float32, [3, 2], name="pretrained")  # fed once, at first training
emb = v1.Variable(pretrained, name="emb", use_resource={kind})
v1.train.ExponentialMovingAverage(0.9).apply([emb])
"""


def old_emb(use_resource: bool):
    return lambda: v1.get_variable(
        "emb", [3, 2], initializer=v1.constant_initializer(1.5), use_resource=use_resource
    )


@KINDS
def test_ema_shadow_of_a_restored_variable_fed_by_a_placeholder_starts_from_it(
    tmp_path, use_resource
):
    """Regression (refused without cause): exit 2 "needs a value fed to placeholder 'pretrained'".

    The shadow's initial value is `cond(is_variable_initialized(emb), emb.read_value, lambda:
    emb.initial_value)`: emb's value once emb holds one. `emb` is restored, so the shadow's value
    is emb's restored value whatever the placeholder would hold; but the cond takes the
    placeholder as an input, and `initial_values.read_by_initializers` (`_upstream`) refuses any
    initializer with a placeholder upstream. The placeholder is emb's initializer input, which
    `_set_in_session` already feeds with emb's restored value for emb's own initializer; fed the
    same way for the shadow's run, the cond reads emb. Expected: the shadow written equal to emb.
    """
    source = EMA_OF_A_FED_VARIABLE.format(kind=use_resource)
    path, ckpt, plan = planned(tmp_path, old_emb(use_resource), source)
    shadow = "emb/ExponentialMovingAverage"
    assert plan.entry("emb").action == "restore" and plan.entry(shadow).action == "initialize"
    result = apply_cli(path, "--quiet")
    assert result.returncode == 0, result.stderr
    assert same_bytes(tensor(plan.output_prefix, shadow), tensor(ckpt, "emb"))


def test_ema_shadow_of_a_fed_variable_under_disable_v2_behavior(tmp_path, run_cli):
    """Regression: as above, in a TF1 program (`disable_v2_behavior`: VariableV2, v1 cond)."""
    ckpt = save_checkpoint(tmp_path / "old", old_emb(False))
    new_graph = write_new_graph(
        tmp_path,
        "tf.compat.v1.disable_v2_behavior()\n" + EMA_OF_A_FED_VARIABLE.format(kind=None),
    )
    output = tmp_path / "new" / "model.ckpt"
    planning = run_cli(
        "plan", ckpt + ".meta", new_graph, "-o", tmp_path / "plan.json", "--output-prefix", output
    )
    assert planning.returncode == 0, planning.stderr
    # A process of its own: disable_v2_behavior() would stay on in this one (Keras 3 breaks).
    result = run_cli("apply", tmp_path / "plan.json", "--quiet")
    assert result.returncode == 0, result.stderr
    assert same_bytes(tensor(output, "emb/ExponentialMovingAverage"), tensor(ckpt, "emb"))


@KINDS
def test_restore_into_session_initializes_the_ema_shadow_of_a_fed_variable(tmp_path, use_resource):
    """Regression: restore_into_session raises the same BadInput as apply (see the test above)."""
    source = EMA_OF_A_FED_VARIABLE.format(kind=use_resource)
    _, ckpt, plan = planned(tmp_path, old_emb(use_resource), source)
    with v1.Session(graph=session_graph(plan.provenance.new_graph.path)) as session:
        restore_into_session(plan, session)
        value = values_in(session)
    assert same_bytes(value["emb/ExponentialMovingAverage"], tensor(ckpt, "emb"))


def test_an_initializer_that_needs_a_placeholder_is_refused_before_anything_is_written(tmp_path):
    source = 'x = v1.placeholder(tf.float32, [2], name="feed_me")\nv1.Variable(x, name="v")\n'
    path, ckpt, plan = planned(tmp_path, lambda: v1.get_variable("w", [2]), source)
    before = digests(ckpt)
    result = apply_cli(path, "--quiet")
    message = assert_one_line_bad_input(result, plan.provenance.new_graph.path)
    assert "v: its initializer needs a value fed to placeholder 'feed_me'" in message
    assert not (tmp_path / "new").exists() and staging_dirs(tmp_path) == []
    assert digests(ckpt) == before


CHAIN = """
w = v1.get_variable("w", [4], use_resource={kind})  # restored
y = v1.get_variable("y", [4], initializer=v1.random_normal_initializer(), use_resource={kind})
z = v1.Variable(tf.identity(y) * 2.0 + tf.identity(w), name="z", use_resource={kind})
u = v1.Variable(tf.identity(z) + 1.0, name="u", use_resource={kind})
d = v1.placeholder_with_default(tf.constant([1.0, 2.0, 3.0, 4.0]), [4], name="d")
p = v1.Variable(d * 3.0, name="p", use_resource={kind})
"""


@KINDS
def test_initializers_reading_restored_and_initialized_variables_agree(tmp_path, use_resource):
    """Every value written is the one its initializer computed from the values written."""
    source = CHAIN.format(kind=use_resource)
    _, ckpt, plan = planned(tmp_path, lambda: v1.get_variable("w", [4]), source)
    prefix = apply_plan(plan, verify=True)
    w, y, z, u = (tensor(prefix, name) for name in "wyzu")
    assert same_bytes(w, tensor(ckpt, "w"))
    assert np.std(y) > 0  # random normal, really drawn
    assert same_bytes(z, y * np.float32(2.0) + w)
    assert same_bytes(u, z + np.float32(1.0))
    assert same_bytes(tensor(prefix, "p"), np.array([3, 6, 9, 12], np.float32))


def test_an_initializer_that_fails_when_run_is_bad_input_not_an_internal_error(tmp_path):
    """Regression: exit 1 ("internal error: NotFoundError: Graph execution error: ..." with
    TensorFlow's whole stack squeezed into one line) when an initializer reads a file that is
    not there. The session runs in `executor._write_tensors` / `initial_values._run` catch
    nothing. Expected: exit 2, one line naming the new graph and the variable.
    """
    source = (
        'raw = tf.io.read_file("/nonexistent/pretrained.bin")\n'
        'v1.Variable(tf.reshape(tf.io.decode_raw(raw, tf.float32), [4]), name="pre")\n'
    )
    path, _, plan = planned(tmp_path, lambda: v1.get_variable("w", [2]), source)
    result = apply_cli(path, "--quiet")
    message = assert_one_line_bad_input(result, plan.provenance.new_graph.path)
    assert "pre" in message
    assert not (tmp_path / "new").exists() and staging_dirs(tmp_path) == []


def test_an_initializer_reading_a_lookup_table_is_not_an_internal_error(tmp_path):
    """Regression: exit 1 ("FailedPreconditionError: Table not initialized").

    A TF1 program initializes tables with the variables (`tables_initializer()` in Scaffold's
    default init); apply runs initial values without initializing tables. Expected: the value
    the program would get ([3, -1]), or at least exit 2 with one line.
    """
    source = """
table = tf.lookup.StaticHashTable(
    tf.lookup.KeyValueTensorInitializer(tf.constant(["a"]), tf.constant([3.0])), -1.0
)
v1.Variable(table.lookup(tf.constant(["a", "b"])), name="looked_up")
"""
    path, _, plan = planned(tmp_path, lambda: v1.get_variable("w", [2]), source)
    result = apply_cli(path, "--quiet")
    assert result.returncode != 1, result.stderr
    if result.returncode == 0:
        assert same_bytes(tensor(plan.output_prefix, "looked_up"), np.array([3, -1], np.float32))
    else:
        assert_one_line_bad_input(result, "looked_up")


def test_a_ref_variable_made_with_validate_shape_false_gets_its_initializers_value(tmp_path):
    """Regression (refused without cause): exit 2 "y: its shape was left undefined ... give the
    shape in the new graph's get_variable call".

    `tf.Variable(tf.ones([2, 5]), validate_shape=False)` is a VariableV2 without a static shape,
    so the planner writes shape null; but its initializer has a static shape ([2, 5]) and that
    is its value. (A resource variable made the same way keeps the shape and applies.)
    """
    source = 'v1.Variable(tf.ones([2, 5]), name="y", validate_shape=False, use_resource=False)\n'
    path, _, plan = planned(tmp_path, lambda: v1.get_variable("w", [2]), source)
    result = apply_cli(path, "--quiet")
    assert result.returncode == 0, result.stderr
    assert same_bytes(tensor(plan.output_prefix, "y"), np.ones([2, 5], np.float32))


def test_restore_into_session_fills_a_shape_free_variable_from_its_source(tmp_path):
    """Regression: ValueError "Cannot feed value of shape (2,) for Tensor zeros:0, which has shape
    (0,)" out of restore_into_session, not a restore.

    `x = tf.Variable(tf.zeros([0]), validate_shape=False)` is planned as restored from `x` [2]
    (shape from the checkpoint); apply writes it and `Saver().restore` loads it, but
    `executor._load` feeds the value to the initializer's input, whose static shape is [0].
    """
    source = 'v1.Variable(tf.zeros([0]), name="x", validate_shape=False, use_resource=False)\n'

    def old():
        v1.get_variable("x", [2], initializer=v1.constant_initializer(7.0))

    _, ckpt, plan = planned(tmp_path, old, source)
    assert plan.entry("x").action == "restore"
    prefix = apply_plan(plan)
    assert same_bytes(
        saver_restored(plan.provenance.new_graph.path, prefix)["x"], np.full([2], 7.0, np.float32)
    )
    with v1.Session(graph=session_graph(plan.provenance.new_graph.path)) as session:
        restore_into_session(plan, session)
        assert same_bytes(values_in(session)["x"], tensor(ckpt, "x"))


def test_a_new_graph_meta_without_initial_value_names_is_not_an_internal_error(tmp_path):
    """Regression: exit 1 "internal error: AttributeError: 'NoneType' object has no attribute 'op'".

    A MetaGraphDef whose VariableDefs have no `initial_value_name` (as older TensorFlow wrote
    them) imports with `variable.initial_value` None; `read_by_initializers` dereferences it.
    Expected: the initializer's value (the variable's initializer op is there), or exit 2.
    """
    from tensorflow.core.framework import variable_pb2

    ckpt = save_checkpoint(tmp_path / "old", lambda: v1.get_variable("w", [2]))
    graph = tf.Graph()
    with graph.as_default():
        v1.get_variable("w", [2])
        v1.get_variable("fresh", [3], initializer=v1.ones_initializer())
        meta = v1.train.export_meta_graph()
    for key in ("variables", "trainable_variables"):
        values = meta.collection_def[key].bytes_list.value
        for i, data in enumerate(values):
            definition = variable_pb2.VariableDef()
            definition.ParseFromString(data)
            definition.ClearField("initial_value_name")
            values[i] = definition.SerializeToString()
    new_meta = tmp_path / "new.meta"
    new_meta.write_bytes(meta.SerializeToString())
    plan = make_plan(ckpt + ".meta", new_meta, output_prefix=str(tmp_path / "new" / "model.ckpt"))
    write_plan(plan, tmp_path / "plan.json")
    result = apply_cli(tmp_path / "plan.json", "--quiet")
    assert result.returncode != 1, result.stderr
    if result.returncode == 0:
        assert same_bytes(tensor(plan.output_prefix, "fresh"), np.ones([3], np.float32))
    else:
        assert_one_line_bad_input(result, str(new_meta))


# --- partitioned variables -----------------------------------------------------------------------


def adam_embedding(parts: int, axis: int = 0, use_resource: bool = False):
    """A table in `parts` parts (0: a plain variable) along `axis`, trained with Adam."""
    ids = v1.placeholder(tf.int64, [None], name="ids")
    split = {"partitioner": v1.fixed_size_partitioner(parts, axis)} if parts else {}
    with v1.variable_scope("scope"):
        table = v1.get_variable("emb", [40, 6], use_resource=use_resource, **split)
    whole = tf.concat(list(table), axis) if parts else table
    features = tf.gather(whole, ids)
    w = v1.get_variable("w", [6, 1], use_resource=use_resource)
    loss = tf.reduce_sum(tf.matmul(features, w))
    step = v1.train.get_or_create_global_step()
    return v1.train.AdamOptimizer(0.1).minimize(loss, global_step=step, name="train")


def trained_adam_checkpoint(directory: Path, parts: int, axis: int, use_resource: bool) -> str:
    """Three Adam steps, so that slots and beta powers hold values no initializer gives."""
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(3)
        train = adam_embedding(parts, axis, use_resource)
        saver = v1.train.Saver()
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            for _ in range(3):
                session.run(train, {"ids:0": [1, 5, 39, 20]})
            directory.mkdir(parents=True)
            return saver.save(session, str(directory / "model.ckpt"))


@pytest.mark.parametrize(
    ("old_parts", "new_parts", "axis", "use_resource"),
    [(3, 2, 0, False), (2, 3, 1, True), (0, 2, 0, False), (2, 0, 1, True)],
    ids=["3->2-ref", "2->3-axis1-resource", "plain->2", "2->plain-axis1"],
)
def test_adam_slots_of_partitioned_variables_restore_bit_for_bit(
    tmp_path, old_parts, new_parts, axis, use_resource
):
    ckpt = trained_adam_checkpoint(tmp_path / "old", old_parts, axis, use_resource)
    new_graph = write_new_graph(
        tmp_path,
        "from test_apply_attacks import adam_embedding\n"
        f"adam_embedding({new_parts}, {axis}, {use_resource})\n",
    )
    plan = make_plan(ckpt + ".meta", new_graph, output_prefix=str(tmp_path / "new" / "model.ckpt"))
    assert {e.name: e.source for e in plan.variables} == {
        name: name
        for name in [
            "scope/emb",
            "scope/emb/Adam",
            "scope/emb/Adam_1",
            "w",
            "w/Adam",
            "w/Adam_1",
            "beta1_power",
            "beta2_power",
            "global_step",
        ]
    }
    prefix = apply_plan(plan, verify=True)
    for entry in plan.variables:
        assert same_bytes(tensor(prefix, entry.name), tensor(ckpt, entry.source)), entry.name
    with tf.Graph().as_default(), v1.Session() as session:
        v1.train.import_meta_graph(prefix + ".meta").restore(session, prefix)


def two_part_table():
    v1.get_variable("emb", [10, 2], partitioner=v1.fixed_size_partitioner(2))


def test_an_initialized_ema_shadow_of_a_partitioned_variable_starts_from_its_restored_value(
    tmp_path,
):
    source = """
table = v1.get_variable("emb", [10, 2], partitioner=v1.fixed_size_partitioner(3))
v1.train.ExponentialMovingAverage(0.9).apply(list(table))
"""
    _, ckpt, plan = planned(tmp_path, two_part_table, source)
    shadow = "emb/ExponentialMovingAverage"
    assert plan.entry(shadow).action == "initialize" and len(plan.entry(shadow).partitions) == 3
    prefix = apply_plan(plan, verify=True)
    assert same_bytes(tensor(prefix, shadow), tensor(ckpt, "emb"))
    assert same_bytes(tensor(prefix, "emb"), tensor(ckpt, "emb"))


def test_restore_into_a_finalized_graph_partitioned_otherwise_than_planned(tmp_path):
    """The docstring's promise: the script's graph may have other parts than when planned."""
    source = 'v1.get_variable("emb", [10, 2], partitioner=v1.fixed_size_partitioner(2))\n'
    _, ckpt, plan = planned(tmp_path, two_part_table, source)
    graph = tf.Graph()
    with graph.as_default():
        table = v1.get_variable("emb", [10, 2], partitioner=v1.fixed_size_partitioner(5))
        v1.get_variable("extra", [2], initializer=v1.ones_initializer())
    graph.finalize()  # as MonitoredTrainingSession leaves it
    with v1.Session(graph=graph) as session:
        report = restore_into_session(plan, session)
        whole = np.concatenate(session.run(list(table)))
        extra = values_in(session)["extra"]
    assert report == {"restored": ["emb"], "initialized": ["extra"]}
    assert same_bytes(whole, tensor(ckpt, "emb"))
    assert same_bytes(extra, np.ones([2], np.float32))


def half_table(parts: int):
    v1.get_variable(
        "emb",
        [9, 3],
        tf.float16,
        v1.ones_initializer(),
        partitioner=v1.fixed_size_partitioner(parts),
    )


def test_a_partitioned_float16_table_is_resliced(tmp_path):
    """Regression (minor): exit 2 ".../model.ckpt.data-*: tensor 'emb' cannot be read: Dtype half
    not supported." for an intact checkpoint.

    3 parts -> 2 goes through TensorFlow's reader (`BundleReader.array`), which cannot assemble
    slices of float16 (nor string, uint16, uint32); graphdiff parses the bundle itself and has
    the bytes of every slice. Expected: the table re-sliced bit for bit (or at least a message
    that does not blame the data file).
    """
    path, ckpt, plan = planned(
        tmp_path,
        lambda: half_table(3),
        "from test_apply_attacks import half_table\nhalf_table(2)\n",
    )
    graph = tf.Graph()
    with graph.as_default():
        half_table(3)
        with v1.Session() as session:
            v1.train.Saver().restore(session, ckpt)
            old = np.concatenate(session.run(v1.global_variables()))
    result = apply_cli(path, "--quiet")
    assert result.returncode == 0, result.stderr
    restored = saver_restored(plan.provenance.new_graph.path, plan.output_prefix)
    assert same_bytes(np.concatenate([restored["emb/part_0"], restored["emb/part_1"]]), old)


# --- plans edited by hand -------------------------------------------------------------------------


def old_for_edits():
    v1.get_variable("w", [3, 4])
    v1.get_variable("w2", [4, 3])
    v1.get_variable("i", [3, 4], tf.int32)
    v1.get_variable("emb", [10, 2], partitioner=v1.fixed_size_partitioner(2))
    v1.get_variable("flat", [10, 2])


NEW_FOR_EDITS = """
v1.get_variable("w", [3, 4])
v1.get_variable("w2", [4, 3])
v1.get_variable("emb", [10, 2], partitioner=v1.fixed_size_partitioner(3))
v1.get_variable("flat", [10, 2])
v1.get_variable("fresh", [3])
"""


@pytest.fixture(scope="module")
def edit_base(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("edits")
    path, ckpt, _ = planned(tmp_path, old_for_edits, NEW_FOR_EDITS)
    return tmp_path, json.loads(path.read_text()), ckpt


def entry_of(document: dict, name: str) -> dict:
    (entry,) = [e for e in document["variables"] if e["name"] == name]
    return entry


def _set(name, **fields):
    return lambda doc: entry_of(doc, name).update(fields)


def _part(index, **fields):
    return lambda doc: entry_of(doc, "emb")["partitions"][index].update(fields)


def _duplicate(doc):
    doc["variables"].append(dict(entry_of(doc, "w")))


def _parts_as_entries(doc):
    emb = entry_of(doc, "emb")
    doc["variables"].remove(emb)
    for part in emb["partitions"]:
        doc["variables"].append({**emb, "name": part["name"], "shape": part["shape"]})
        doc["variables"][-1]["partitions"] = []


BAD_EDITS = {
    "dtype": (_set("w", dtype="float64"), "w: dtype float64 in the plan, float32 in the new graph"),
    "shape": (_set("w", shape=[4, 3]), r"w: shape [4, 3] in the plan, [3, 4] in the new graph"),
    "source_of_another_shape": (_set("w", source="w2"), "w: shape [3, 4] in the graph, [4, 3]"),
    "source_of_another_dtype": (_set("w", source="i"), "w: dtype float32 in the graph, int32"),
    "missing_source": (_set("w", source="nope"), "w: source key 'nope' is not in checkpoint"),
    "duplicate": (_duplicate, "w: appears more than once in the plan"),
    "part_offset": (_part(1, offset=[5, 0]), "emb: its parts' names or offsets in the plan"),
    "part_renamed": (_part(0, name="emb/part_9"), "emb: its parts' names or offsets in the plan"),
    "parts_removed": (
        _set("emb", partitions=[]),
        "emb: not partitioned in the plan, partitioned in 3 parts in the new graph",
    ),
    "parts_on_plain": (
        _set("flat", partitions=[{"name": "flat", "offset": [0, 0], "shape": [10, 2]}]),
        "flat: partitioned in 1 part in the plan, not partitioned in the new graph",
    ),
    "parts_as_entries": (_parts_as_entries, "emb: a variable of the new graph"),
    "initialized_made_restored": (
        _set("fresh", action="restore", source="w"),
        "fresh: shape [3] in the graph, [3, 4] in checkpoint key 'w'",
    ),
}


@pytest.mark.parametrize("edit", list(BAD_EDITS))
def test_a_plan_edited_into_nonsense_is_one_line_and_writes_nothing(edit_base, edit):
    tmp_path, document, ckpt = edit_base
    change, expected = BAD_EDITS[edit]
    document = json.loads(json.dumps(document))
    change(document)
    plan = tmp_path / f"{edit}.json"
    plan.write_text(json.dumps(document))
    before = digests(ckpt)
    output = tmp_path / edit / "model.ckpt"
    message = assert_one_line_bad_input(apply_cli(plan, "--quiet", "--output", output), str(plan))
    assert expected in message
    assert not output.parent.exists() and staging_dirs(tmp_path) == []
    assert digests(ckpt) == before


def test_hand_made_restores_across_sliced_and_plain_keys(edit_base):
    """The plain `flat` from the partitioned key and the partitioned `emb` from the plain one."""
    tmp_path, document, ckpt = edit_base
    document = json.loads(json.dumps(document))
    entry_of(document, "flat")["source"] = "emb"
    entry_of(document, "emb")["source"] = "flat"
    plan = tmp_path / "crossed.json"
    plan.write_text(json.dumps(document))
    output = tmp_path / "crossed" / "model.ckpt"
    result = apply_cli(plan, "--quiet", "--verify", "--output", output)
    assert result.returncode == 0, result.stderr
    assert same_bytes(tensor(output, "flat"), tensor(ckpt, "emb"))
    assert same_bytes(tensor(output, "emb"), tensor(ckpt, "flat"))
    restored = saver_restored(read_plan(plan).provenance.new_graph.path, str(output))
    assert same_bytes(restored["flat"], tensor(ckpt, "emb"))
    parts = [restored[f"emb/part_{i}"] for i in range(3)]
    assert same_bytes(np.concatenate(parts), tensor(ckpt, "flat"))


# --- damaged checkpoints --------------------------------------------------------------------------


def old_mixed():
    v1.get_variable("w", [3, 4])
    v1.get_variable("s", [2], tf.string, initializer=v1.constant_initializer(["abc", "de"]))
    v1.get_variable("p/emb", [10, 2], partitioner=v1.fixed_size_partitioner(2))


NEW_MIXED = """
v1.get_variable("w", [3, 4])
v1.get_variable("s", [2], tf.string)
v1.get_variable("p/emb", [10, 2], partitioner=v1.fixed_size_partitioner(3))  # re-sliced
"""


def _data(ckpt: str) -> Path:
    return Path(ckpt + ".data-00000-of-00001")


def _flip(key: str, at: int, sliced: bool = False):
    """Flip one bit `at` bytes into the stored bytes of `key` (its first slice if `sliced`)."""

    def harm(ckpt: str) -> str:
        reader = BundleReader(ckpt)
        entry = reader.stored_slices(key)[0].entry if sliced else reader.entry(key)
        data = bytearray(_data(ckpt).read_bytes())
        data[entry.offset + at] ^= 1
        _data(ckpt).write_bytes(bytes(data))
        return ckpt + ".data-"  # the sliced one is read by TensorFlow: named as `.data-*`

    return harm


def _truncate(ckpt):
    _data(ckpt).write_bytes(_data(ckpt).read_bytes()[:-10])
    return str(_data(ckpt))


def _missing(ckpt):
    _data(ckpt).unlink()
    return str(_data(ckpt))


def _index_says_three_shards(ckpt):
    """Re-plan needed: the index changes (fingerprints would catch it otherwise)."""
    from tensorflow.core.protobuf import tensor_bundle_pb2

    rows = read_table(Path(ckpt + ".index").read_bytes())
    header = tensor_bundle_pb2.BundleHeaderProto()
    header.ParseFromString(rows[0][1])
    header.num_shards = 3
    rows[0] = (b"", header.SerializeToString())
    Path(ckpt + ".index").write_bytes(write_table(rows))
    return ckpt + ".data-0000"


DAMAGE = {
    "truncated_data": (_truncate, False, "truncated"),
    "flipped_string_byte": (_flip("s", 5), False, "checksum"),
    "flipped_string_length": (_flip("s", 0), False, "checksum"),
    "flipped_float_byte": (_flip("w", 5), False, "checksum"),
    "flipped_slice_byte": (_flip("p/emb", 5, sliced=True), False, "checksum"),
    "missing_data": (_missing, False, "missing"),
    "index_says_three_shards": (_index_says_three_shards, True, "missing"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_checkpoint_is_one_line_naming_the_file_and_writes_nothing(tmp_path, damage):
    harm, before_planning, fault = DAMAGE[damage]
    ckpt = save_checkpoint(tmp_path / "old", old_mixed)
    named = harm(ckpt) if before_planning else None
    new_graph = write_new_graph(tmp_path, NEW_MIXED)
    plan = make_plan(ckpt + ".meta", new_graph, output_prefix=str(tmp_path / "new" / "model.ckpt"))
    write_plan(plan, tmp_path / "plan.json")
    if not before_planning:
        named = harm(ckpt)
    message = assert_one_line_bad_input(apply_cli(tmp_path / "plan.json", "--quiet"), named)
    assert fault in message
    assert not (tmp_path / "new").exists() and staging_dirs(tmp_path) == []


def test_a_data_file_replaced_by_a_directory_is_named_for_what_it_is(tmp_path):
    """Regression (minor): the message says "no such file: a shard ... is missing" of a path that
    exists (a directory): `fingerprints.data_files` tests `is_file()` and reports any failure
    as a missing file. Expected: the fault named, e.g. "is a directory, not a file".
    """
    path, ckpt, _ = planned(tmp_path, old_mixed, NEW_MIXED)
    _data(ckpt).unlink()
    _data(ckpt).mkdir()
    message = assert_one_line_bad_input(apply_cli(path, "--quiet"), str(_data(ckpt)))
    assert "directory" in message


def test_a_stale_data_file_of_another_save_does_not_block_apply(tmp_path):
    """Regression (refused without cause): exit 2 "...data-00000-of-00002: no such file".

    A `model.ckpt.data-00000-of-00002` left beside a one-shard checkpoint by an earlier, sharded
    save to the same prefix: TensorFlow reads the checkpoint (its index says one shard), but
    `fingerprints.data_files` takes the shard count from the largest `-of-N` file name found
    and asks for `data-00001-of-00002`.
    """
    path, ckpt, plan = planned(tmp_path, old_mixed, NEW_MIXED)
    Path(ckpt + ".data-00000-of-00002").write_bytes(b"left over from an older save")
    result = apply_cli(path, "--quiet")
    assert result.returncode == 0, result.stderr
    for key in ("w", "s", "p/emb"):
        assert same_bytes(tensor(plan.output_prefix, key), tensor(ckpt, key)), key


# --- where the output goes -----------------------------------------------------------------------

SMALL_NEW = 'v1.get_variable("A/w", [3, 4])\nv1.get_variable("C/w", [4, 2])\n'


def small_old():
    v1.get_variable("A/w", [3, 4])


def test_force_through_a_symlink_to_the_source_directory_never_replaces_the_source(tmp_path):
    """Regression (data loss): `--output link/model.ckpt --force`, `link` -> the source directory,
    replaces the source checkpoint (and its state file) with the new one.

    executor.apply_plan compares `os.path.abspath` of the two prefixes, which does not resolve
    symbolic links; without --force the refusal even says "pass --force to replace it".
    Expected: exit 2 "is the checkpoint the plan restores from", the source untouched.
    """
    path, ckpt, _ = planned(tmp_path, small_old, SMALL_NEW)
    (tmp_path / "link").symlink_to(tmp_path / "old")
    before = digests(ckpt)
    result = apply_cli(path, "--quiet", "--force", "--output", tmp_path / "link" / "model.ckpt")
    assert digests(ckpt) == before
    message = assert_one_line_bad_input(result, "model.ckpt")
    assert "is the checkpoint the plan restores from" in message


def test_writing_beside_another_checkpoint_keeps_its_state_file(tmp_path):
    """Regression: without --force, apply to `old/other.ckpt` overwrites `old/checkpoint`.

    The training run's state file (latest checkpoint, all_model_checkpoint_paths) is replaced by
    one that knows only `other.ckpt`: `tf.train.latest_checkpoint(old)` changes and the run's
    checkpoint history is gone. `checkpoint_files.existing_files` leaves the state file out of
    the --force check, and `_publish_files` replaces it. Expected: refuse without --force, or
    keep what the state file listed.
    """
    path, ckpt, _ = planned(tmp_path, small_old, SMALL_NEW)
    state = tmp_path / "old" / "checkpoint"
    before = state.read_text()
    result = apply_cli(path, "--quiet", "--output", tmp_path / "old" / "other.ckpt")
    assert result.returncode in (0, 2), result.stderr
    if result.returncode == 2:
        assert state.read_text() == before
    else:
        listed = v1.train.get_checkpoint_state(str(tmp_path / "old")).all_model_checkpoint_paths
        assert any(Path(p).name == "model.ckpt" for p in listed), listed


@pytest.fixture
def read_only_dir(tmp_path):
    mount = tmp_path / "ro"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.parametrize("where", ["model.ckpt", "sub/model.ckpt"], ids=["existing", "new-dir"])
def test_a_read_only_output_directory_is_bad_input(tmp_path, read_only_dir, where):
    """Regression: exit 1 "internal error: OSError: [Errno 30] Read-only file system: '.../ro/
    .model.ckpt.graphdiff-staging-...'": `checkpoint_files._make_staging` (tempfile.mkdtemp)
    runs outside `_guarded`. (chmod does not stop root; a read-only mount does.)
    """
    path, _, _ = planned(tmp_path, small_old, SMALL_NEW)
    output = read_only_dir / where
    result = apply_cli(path, "--quiet", "--output", output)
    message = assert_one_line_bad_input(result, str(read_only_dir))
    assert "Read-only file system" in message


@pytest.mark.parametrize("length", [228, 250])
def test_a_long_prefix_name_is_written_when_it_fits_and_refused_in_one_line_otherwise(
    tmp_path, length
):
    """Regression: exit 1 "internal error: OSError: [Errno 36] File name too long" for both.

    A 228-byte name fits (`NAME.data-00000-of-00001` is 248 bytes, under 255), but the staging
    directory `.NAME.graphdiff-staging-XXXXXXXX` (256) does not, and its mkdtemp is not guarded.
    At 250 the checkpoint's own files cannot exist, which is bad input (exit 2); the OSError
    comes out of `checkpoint_files.existing_files` (`Path.exists()` raises ENAMETOOLONG).
    """
    path, ckpt, _ = planned(tmp_path, small_old, SMALL_NEW)
    (tmp_path / "out").mkdir()
    output = tmp_path / "out" / ("x" * length)
    result = apply_cli(path, "--quiet", "--output", output)
    if length + len(".data-00000-of-00001") <= 255:
        assert result.returncode == 0, result.stderr
        assert same_bytes(tensor(output, "A/w"), tensor(ckpt, "A/w"))
    else:
        assert_one_line_bad_input(result, str(output))
        assert list((tmp_path / "out").iterdir()) == []


def test_an_empty_output_is_refused(tmp_path):
    """Regression (minor): `--output ""` (an unset shell variable) writes to the plan's prefix.

    `apply_plan` takes `output_prefix or plan.output_prefix`. Expected: exit 2, nothing written.
    """
    path, _, plan = planned(tmp_path, small_old, SMALL_NEW)
    result = apply_cli(path, "--quiet", "--output", "")
    assert result.returncode == 2, result.stdout
    assert at_prefix(Path(plan.output_prefix)) == []


def test_a_prefix_with_spaces_and_unicode_and_more_shards_than_tensors(tmp_path):
    path, ckpt, _ = planned(tmp_path, small_old, SMALL_NEW)
    output = tmp_path / "out dir" / "mödel ckpt"
    result = apply_cli(path, "--quiet", "--verify", "--shards", "5", "--output", output)
    assert (result.returncode, result.stdout) == (0, f"{output}\n"), result.stderr
    assert len(list(output.parent.glob("mödel ckpt.data-*-of-00005"))) == 5
    assert same_bytes(tensor(output, "A/w"), tensor(ckpt, "A/w"))
    assert v1.train.latest_checkpoint(str(output.parent)) == str(output)
    with tf.Graph().as_default(), v1.Session() as session:
        v1.train.import_meta_graph(f"{output}.meta").restore(session, str(output))


def test_an_output_under_a_file_is_one_line(tmp_path):
    path, _, _ = planned(tmp_path, small_old, SMALL_NEW)
    (tmp_path / "afile").write_text("not a directory")
    result = apply_cli(path, "--quiet", "--output", tmp_path / "afile" / "sub" / "model.ckpt")
    assert "is a file" in assert_one_line_bad_input(result, str(tmp_path / "afile"))
    assert (tmp_path / "afile").read_text() == "not a directory"


# --- two applies at once, signals ---------------------------------------------------------------


@pytest.mark.parametrize("directory_exists", [False, True], ids=["new-directory", "existing"])
def test_a_checkpoint_published_while_writing_is_not_replaced_without_force(
    tmp_path, monkeypatch, directory_exists
):
    """Regression (existing directory): the apply that publishes second replaces the other's
    checkpoint although --force was not given.

    The "a checkpoint exists here" check runs before writing; `_publish_files` then moves
    whatever is at the prefix aside (and deletes it with the staging directory) as if --force
    had been given. The other apply had printed its prefix and exited 0; its checkpoint (with
    its own random initial values) is gone. Into a new directory the second rename fails and the
    first checkpoint survives, as it should.
    """
    output = tmp_path / "out" / "model.ckpt"
    if directory_exists:
        output.parent.mkdir()
    path, _, plan = planned(tmp_path, small_old, SMALL_NEW, output=output)
    theirs = {}
    real_check = executor_module.check_written

    def other_apply_publishes_first(staging_prefix, *args):
        result = apply_cli(path, "--quiet")  # the same command, from another terminal
        assert result.returncode == 0, result.stderr
        theirs.update(digests(str(output)))
        real_check(staging_prefix, *args)

    monkeypatch.setattr(executor_module, "check_written", other_apply_publishes_first)
    with pytest.raises(BadInput):
        apply_plan(plan, verify=True)
    assert theirs and digests(str(output)) == theirs
    assert staging_dirs(tmp_path) == []


def big_model(count: int):
    for i in range(count):
        v1.get_variable(f"big_{i}", [4096, 4096], initializer=v1.zeros_initializer())


BIG_NEW = "from test_apply_attacks import big_model\nbig_model(2)\nv1.get_variable('h', [3])\n"


def start_apply(*args) -> subprocess.Popen:
    """apply in a child whose SIGINT is the default one: a shell that started the tests in the
    background (`cmd &`) ignores SIGINT, and a child would inherit that."""
    return subprocess.Popen(
        [sys.executable, "-m", "graphdiff", "apply", *map(str, args)],
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def signal_mid_write(process: subprocess.Popen, root: Path, number: int) -> tuple[str, str]:
    """Send `number` once the staged data file has bytes; return the process's output.

    The process is stopped (SIGSTOP, at once, by the kernel) the moment bytes are seen, sent
    `number`, and continued, so that it cannot finish the write in between."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        staged = [p for p in root.rglob(f"*{checkpoint_files.STAGING}*/**/*.data-*") if p.exists()]
        if any(p.stat().st_size > 0 for p in staged):
            process.send_signal(signal.SIGSTOP)
            process.send_signal(number)
            process.send_signal(signal.SIGCONT)
            return process.communicate(timeout=120)
        time.sleep(0.001)
    raise AssertionError(f"apply ended (status {process.poll()}) before the signal")


@pytest.fixture(scope="module")
def big_plan(tmp_path_factory):
    """A 128 MiB checkpoint and its plan; output into `out/`, which exists."""
    tmp_path = tmp_path_factory.mktemp("big")
    (tmp_path / "out").mkdir()
    path, ckpt, _ = planned(
        tmp_path, lambda: big_model(2), BIG_NEW, output=tmp_path / "out" / "model.ckpt"
    )
    return tmp_path, path, ckpt


def test_sigint_mid_write_exits_130_and_leaves_nothing(big_plan):
    tmp_path, path, ckpt = big_plan
    before = digests(ckpt)
    process = start_apply(path, "--quiet")
    out, err = signal_mid_write(process, tmp_path, signal.SIGINT)
    assert (process.returncode, out, err) == (130, "", "graphdiff: interrupted\n")
    assert at_prefix(tmp_path / "out" / "model.ckpt") == []
    assert staging_dirs(tmp_path) == []
    assert digests(ckpt) == before


def test_sigterm_mid_write_leaves_no_staging_behind(big_plan):
    """Regression: SIGTERM (`kill`, `timeout`, a cancelled CI job) ends apply without cleaning up:
    the staging directory with everything written so far stays until some later apply into
    the same directory. Only KeyboardInterrupt is handled. Expected: as for SIGINT, nothing
    left, and a non-zero exit.
    """
    tmp_path, path, ckpt = big_plan
    before = digests(ckpt)
    process = start_apply(path, "--quiet")
    signal_mid_write(process, tmp_path, signal.SIGTERM)
    left = staging_dirs(tmp_path)
    for directory in left:  # the next test must not see them
        checkpoint_files.remove_abandoned_staging(directory.parent)
    assert process.returncode != 0
    assert at_prefix(tmp_path / "out" / "model.ckpt") == []
    assert digests(ckpt) == before
    assert left == []


# --- fingerprints ---------------------------------------------------------------------------------

NET = """
import sys
sys.path.insert(0, {tests!r})
from graphs import dense, inputs, v1
ORDER = {order!r}


def build():
    x = inputs(4)
    with v1.variable_scope("tower"):
        hidden = dense(x, 4, ORDER[0])
        dense(hidden, 4, ORDER[1])
"""


def test_a_change_in_a_module_the_new_graph_imports_is_refused(tmp_path, run_cli):
    """Regression (silent wrong restore): the plan is fingerprinted by new_graph.py alone.

    new_graph.py calls `attack_net.build()`; after planning, attack_net.py swaps its two layers.
    A new plan would restore `tower/A/w` from `B/w` (A is now the second layer); the stale plan
    still restores it from `A/w`, and apply exits 0. (samples/seed/new_graph.py imports model.py
    the same way.) Expected: exit 2, the plan refused as made for another graph.
    """

    def old():
        dense(dense(inputs(4), 4, "A"), 4, "B")

    ckpt = save_checkpoint(tmp_path / "old", old)
    tests = str(Path(__file__).parent)
    net = tmp_path / "attack_net.py"
    net.write_text(NET.format(tests=tests, order=("A", "B")))
    (tmp_path / "new_graph.py").write_text("import attack_net\n\nattack_net.build()\n")
    planned_run = run_cli(
        "plan",
        ckpt + ".meta",
        tmp_path / "new_graph.py",
        "-o",
        tmp_path / "plan.json",
        "--output-prefix",
        tmp_path / "new" / "model.ckpt",
    )
    assert planned_run.returncode == 0, planned_run.stderr
    assert read_plan(tmp_path / "plan.json").entry("tower/A/w").source == "A/w"
    net.write_text(NET.format(tests=tests, order=("B", "A")))
    result = apply_cli(tmp_path / "plan.json", "--quiet")
    assert_one_line_bad_input(result, str(tmp_path))
    assert not (tmp_path / "new").exists()
