"""graphdiff verify attacked as a hostile user would: each test is a way verify was fooled,
crashed or answered wrongly, and what it must do instead.

Graphs are tiny and planned, applied and verified in this process (the CLI through
`run_in_process`); a checkpoint with a wrong value is written by TensorFlow's own Saver.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import run_in_process
from test_cli import assert_one_line_error
from test_verify import scenario

from graphdiff.errors import BadInput
from graphdiff.plan import Options
from graphdiff.tf_import import tensorflow
from graphdiff.verify import verify_plan

tf = tensorflow()
v1 = tf.compat.v1


def rewritten(source: str, target: Path, key: str, change) -> str:
    """A copy of checkpoint `source` at `target` with `change(value)` stored for `key`."""
    reader = tf.train.load_checkpoint(source)
    with tf.Graph().as_default():
        variables = []
        for name in sorted(reader.get_variable_to_shape_map()):
            value = reader.get_tensor(name)
            variables.append(v1.Variable(change(value) if name == key else value, name=name))
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            target.parent.mkdir(parents=True, exist_ok=True)
            saver = v1.train.Saver({v.op.name: v for v in variables})
            return saver.save(session, str(target), write_meta_graph=False)


def plus_one(value):
    return value + np.ones_like(value)


# --- 1. a variable the compared tensors do not depend on ---------------------------------------

TIMES_ZERO = """
    x = inputs()
    with v1.variable_scope("A"):
        w = v1.get_variable("w", [4, 3])
    y = tf.identity(tf.matmul(x, w * 0.0), name="y")
"""


def test_a_wrong_variable_multiplied_by_zero_is_found_by_reading_it(tmp_path):
    """y is zero whatever A/w holds: y is identical, yet A/w is not its source's value."""
    plan, prefix = scenario(tmp_path, TIMES_ZERO, TIMES_ZERO + '    dense(y, 2, "C")\n')
    bad = rewritten(prefix, tmp_path / "bad" / "model.ckpt", "A/w", plus_one)
    report = verify_plan(plan, bad)
    assert [(c.new, c.verdict) for c in report.tensors] == [("y:0", "identical")]
    assert (report.verdict, report.variables_differing) == ("differs", ("A/w",))
    good = verify_plan(plan, prefix)
    assert (good.verdict, good.variables_checked, good.variables_differing) == ("identical", 1, ())
    result = run_in_process("verify", tmp_path / "plan.json", "--checkpoint", bad)
    assert result.returncode == 3
    (line,) = result.stderr.splitlines()
    assert line.startswith("graphdiff: A/w: restored upstream of the compared tensors but not"), (
        line
    )


NO_BIAS = """
    x = inputs()
    with v1.variable_scope("A"):
        w = v1.get_variable("w", [4, 3])
    y = tf.nn.relu(tf.matmul(x, w), name="y")
"""


def test_zero_inputs_do_not_hide_a_wrong_weight(tmp_path):
    """Fed zeros, a dense layer without bias computes zeros whatever its weights hold."""
    body = NO_BIAS
    plan, prefix = scenario(tmp_path, body, body + '    dense(y, 2, "C")\n')
    bad = rewritten(prefix, tmp_path / "bad" / "model.ckpt", "A/w", plus_one)
    zeros = tmp_path / "zeros.npy"
    np.save(zeros, np.zeros((2, 4), np.float32))
    result = run_in_process(
        "verify", tmp_path / "plan.json", "--checkpoint", bad, "--feed", f"Input={zeros}"
    )
    assert result.returncode == 3, result.stderr
    assert "= y:0  [2, 3]  bit for bit" in result.stdout
    assert "1 not holding their source's value: A/w" in result.stdout
    assert result.stderr.startswith("graphdiff: A/w: restored upstream")


# --- 2 and 6. tolerances: nan, negative, inf; JSON without Infinity ----------------------------

LOGS = """
    x = inputs()
    h = dense(x, 8, "A")
    tf.math.log(tf.abs(h - 0.5), name="y")
    tf.identity(h + 1.0, name="shifted")
"""
LOGS_NEW = LOGS + '    tf.math.log(h - 0.5, name="y_nan")\n'


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("logs")
    scenario(directory, LOGS, LOGS_NEW)
    return directory / "plan.json"


def test_nan_and_negative_tolerances_exit_2_in_one_line(logs):
    for flag, value in (("--atol", "nan"), ("--rtol", "-1"), ("--atol", "-inf")):
        result = run_in_process("verify", logs, f"{flag}={value}")
        assert_one_line_error(result, f"{flag}: ", "give a number of 0 or more")


def test_an_infinite_tolerance_passes_any_finite_difference_but_not_nan(logs):
    """shifted = A/Relu + 1, 1 even where A/Relu is 0 (no relative bound); y_nan is NaN where
    the old y is a number: no tolerance passes that."""
    for flag in ("--atol", "--rtol"):
        result = run_in_process(
            "verify", logs, "--tensor", "shifted=A/Relu", flag, "inf", "--format", "json"
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["verdict"] == "within_tolerance"
    result = run_in_process("verify", logs, "--tensor", "y_nan=y", "--atol", "inf")
    assert result.returncode == 3
    assert "DIFFERS (atol=inf rtol=0)" in result.stdout


def test_json_never_holds_infinity_or_nan(logs):
    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    result = run_in_process("verify", logs, "--tensor", "y_nan=y", "--format", "json")
    assert result.returncode == 3
    (row,) = json.loads(result.stdout, parse_constant=refuse)["tensors"]
    assert (row["verdict"], row["max_abs_diff"], row["max_rel_diff"]) == ("differs", "inf", "inf")


# --- 3. integers exactly ------------------------------------------------------------------------

BIG = """
    ids = v1.placeholder(tf.int64, [None], name="ids")
    with v1.variable_scope("A"):
        big = v1.get_variable("big", dtype=tf.int64, initializer=tf.constant([2**53] * 3, tf.int64))
    y = tf.add(big, ids[0], name="y")
"""


def test_int64_values_above_2_53_are_compared_exactly(tmp_path):
    """y_next = y + 1 = 2**53 + 1, which float64 rounds to 2**53: they must still differ."""
    plan, prefix = scenario(tmp_path, BIG, BIG + '    tf.add(y, 1, name="y_next")\n')
    feeds = {"ids": np.zeros(2, np.int64)}
    (check,) = verify_plan(
        plan, prefix, tensors=["y_next=y"], feeds=feeds, atol=0.0, rtol=0.0
    ).tensors
    assert (check.verdict, check.max_abs_diff) == ("differs", 1.0)
    (same,) = verify_plan(plan, prefix, tensors=["y"], feeds=feeds).tensors
    assert (same.verdict, same.compared) == ("identical", "bits")


# --- 4. transformed variables -------------------------------------------------------------------


def test_a_grown_variable_pairs_with_nothing_and_is_checked_with_its_transform(tmp_path):
    """B grew from 3 to 5 units: B/Relu is no longer the old B/Relu (its shape changed). The
    frontier stops at A/Relu; B/w and B/b hold their copied block."""
    old = '    dense(dense(inputs(), 4, "A"), 3, "B")\n'
    new = '    dense(dense(inputs(), 4, "A"), 5, "B")\n'
    plan, prefix = scenario(tmp_path, old, new, options=Options(grow=True))
    assert {e.name for e in plan.restored if e.transforms} == {"B/w", "B/b"}
    report = verify_plan(plan, prefix)
    assert (report.verdict, [c.new for c in report.tensors]) == ("identical", ["A/Relu:0"])
    assert set(report.not_compared) == {"B/w", "B/b"}
    named = verify_plan(plan, prefix, tensors=["B/MatMul=B/MatMul"])
    assert named.tensors[0].old_shape == (2, 3) and named.tensors[0].shape == (2, 5)
    assert named.variables_checked == 3 and named.variables_differing == ()  # A/w, A/b, B/w


# --- 5. a cond on a computed predicate ----------------------------------------------------------

COND = """
    x = inputs()
    with v1_control_flow():
        h = dense(x, 3, "A")
        y = tf.cond(x[0, 0] > 0.5, lambda: h * 2.0, lambda: h - 1.0)
    y = tf.identity(y, name="y")
"""


def test_a_cond_on_an_input_compares_before_and_after_it_never_inside(tmp_path):
    plan, prefix = scenario(tmp_path, COND, COND + '    dense(y, 2, "C")\n')
    report = verify_plan(plan, prefix)
    assert report.verdict == "identical"
    assert [c.new for c in report.tensors] == ["A/Relu:0", "y:0"]
    with pytest.raises(BadInput, match="--tensor: cond/mul: 'cond/mul:0' of the new graph is ins"):
        verify_plan(plan, prefix, tensors=["cond/mul"])
    bad = rewritten(prefix, tmp_path / "bad" / "model.ckpt", "A/b", plus_one)
    assert verify_plan(plan, bad).tensors[1].verdict == "differs"


# --- 7. --feed files ----------------------------------------------------------------------------


def npy_header(header: str, body: bytes = b"") -> bytes:
    text = header.encode()
    text += b" " * ((64 - (11 + len(text)) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + body


def test_feed_files_that_cannot_be_fed_exit_2_naming_the_file(tmp_path):
    body = '    dense(inputs(), 3, "A")\n'
    scenario(tmp_path, body, body)
    files = tmp_path / "feeds"
    files.mkdir()
    huge = "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000, 100000), }"
    (files / "huge.npy").write_bytes(npy_header(huge))
    short = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }"
    (files / "truncated.npy").write_bytes(npy_header(short, b"\0" * 7))
    (files / "header.npy").write_bytes(npy_header("{'descr': '<f4', 'shape': (2,, }"))
    np.save(files / "pickle.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(files / "float64.npy", np.zeros((2, 4)))
    np.save(files / "shape.npy", np.zeros((2, 5), np.float32))
    (files / "directory.npy").mkdir()
    cases = {
        "huge.npy": "holds 128 bytes, but its header says float32 [100000000000, 100000]",
        "truncated.npy": "holds 135 bytes, but its header says float32 [2, 4] (160 bytes)",
        "header.npy": "not a .npy array for --feed Input",
        "pickle.npy": "holds Python objects (a pickle)",
        "float64.npy": "holds float64, but input 'Input:0' takes float32",
        "shape.npy": "has shape [2, 5], but input 'Input:0' of the new graph takes [?, 4]",
        "directory.npy": "is not a file",
        "missing.npy": "no such file",
    }
    np.save(files / "ones.npy", np.ones((2, 4), np.float32))
    ones = files / "ones.npy"
    for twice, fault in (
        (["Input", "Input"], "--feed: Input: given more than once"),
        (["Input", "Input:0"], "--feed: Input:0: input Input:0 is given more than one array"),
    ):
        feeds = [f"--feed={name}={ones}" for name in twice]
        assert_one_line_error(run_in_process("verify", tmp_path / "plan.json", *feeds), fault)
    for name, fault in cases.items():
        result = run_in_process("verify", tmp_path / "plan.json", "--feed", f"Input={files / name}")
        assert_one_line_error(result, f"{files / name}: {fault}")


# --- 8. the old checkpoint moved ----------------------------------------------------------------


def test_a_moved_old_checkpoint_is_found_with_its_meta(tmp_path):
    body = '    dense(dense(inputs(), 4, "A"), 3, "B")\n'
    plan, _ = scenario(tmp_path, body, body.replace("3, ", "5, "))
    shutil.move(tmp_path / "old", tmp_path / "moved")
    moved = tmp_path / "moved" / "model.ckpt"
    output = tmp_path / "verified" / "model.ckpt"
    result = run_in_process(
        "apply", tmp_path / "plan.json", "--checkpoint", moved, "--verify-outputs",
        "--output", output, "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert Path(f"{output}.index").is_file()
    result = run_in_process("verify", tmp_path / "plan.json", "--checkpoint", output)
    assert_one_line_error(result, "no such file", "--old-checkpoint PREFIX")
    result = run_in_process(
        "verify", tmp_path / "plan.json", "--checkpoint", output, "--old-checkpoint", moved
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "Verify: 1 identical, 0 within tolerance, 0 differ."


# --- more: what --tensor names, checkpoints of another plan -------------------------------------


def test_tensors_that_prove_nothing_are_refused(tmp_path):
    body = '    dense(inputs(), 3, "A")\n    tf.constant(1.0, name="one")\n'
    scenario(tmp_path, body, body)
    plan = tmp_path / "plan.json"
    for tensor, fault in (
        ("Nope", "--tensor: Nope: no op 'Nope' in the new graph"),
        ("Input", "--tensor: Input: an input: verify feeds both graphs the same array"),
        ("one", "--tensor: one: no restored variable is upstream of it in the new graph"),
    ):
        assert_one_line_error(run_in_process("verify", plan, "--tensor", tensor), fault)


def test_the_checkpoint_of_another_plan_differs(tmp_path):
    """Plan two's old graph made a variable first, so A/w drew other values: its checkpoint
    restores into plan one's new graph, and computes otherwise."""
    old, new = '    dense(inputs(), 3, "A")\n', '    dense(dense(inputs(), 3, "A"), 2, "C")\n'
    scenario(tmp_path / "one", old, new)
    _, other = scenario(tmp_path / "two", '    v1.get_variable("Z", [1])\n' + old, new)
    result = run_in_process("verify", tmp_path / "one" / "plan.json", "--checkpoint", other)
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith("graphdiff: A/Relu:0 differs from the old graph's A/Relu:0")
    assert result.stderr.rstrip().endswith("not holding its source's value: A/w")


SPLIT = """
    h = dense(inputs(), 6, "A")
    first, _, last = tf.split(h, 3, axis=1, name="parts")
    tf.identity(first * 2.0, name="out")
"""


def test_an_output_port_the_old_graph_never_read_is_compared(tmp_path):
    """The new head reads parts:2, which nothing in the old graph read: it is still the old
    graph's parts:2, and on the frontier."""
    plan, prefix = scenario(tmp_path, SPLIT, SPLIT + '    dense(last, 2, "C")\n')
    report = verify_plan(plan, prefix)
    assert [(c.new, c.old, c.verdict) for c in report.tensors] == [
        ("parts:2", "parts:2", "identical"),
        ("out:0", "out:0", "identical"),
    ]


def test_a_truncated_checkpoint_exits_2_saying_why(tmp_path):
    body = '    dense(inputs(), 3, "A")\n'
    _, prefix = scenario(tmp_path, body, body)
    (data,) = Path(prefix).parent.glob("model.ckpt.data-*")
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    result = run_in_process("verify", tmp_path / "plan.json")
    assert_one_line_error(result, f"{prefix}: cannot be restored", "Read less bytes than requested")
