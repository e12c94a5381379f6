"""The issue's "done when", on the seed sample trained for real: plan -> render -> apply.

Every A and B variable (A/b a `tf.compat.v1.Variable`, B/b with its shape left undefined) is
restored byte for byte, C is initialized, a plain `Saver().restore` of the output succeeds in
the new graph, and Output1 of the new graph equals Output1 of the old one bit for bit.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from conftest import SEED_NEW_GRAPH, run_python

SHARED = ("A/w", "A/b", "B/w", "B/b")
NEW = ("C/w", "C/b")


@pytest.fixture(scope="module")
def plan_document(seed_plan) -> dict:
    return json.loads(seed_plan.read_text())


@pytest.fixture(scope="module")
def applied(seed_applied) -> str:
    """`graphdiff apply` of the seed plan; the prefix it printed (conftest: once a session)."""
    return seed_applied


def checkpoint_tensors(prefix: str) -> dict[str, np.ndarray]:
    from graphdiff.tf_import import tensorflow

    reader = tensorflow().train.load_checkpoint(prefix)
    return {key: reader.get_tensor(key) for key in reader.get_variable_to_shape_map()}


@pytest.fixture(scope="module")
def old_tensors(seed_checkpoint) -> dict[str, np.ndarray]:
    return checkpoint_tensors(seed_checkpoint)


@pytest.fixture(scope="module")
def new_tensors(applied) -> dict[str, np.ndarray]:
    return checkpoint_tensors(applied)


def entries(document: dict) -> dict[str, dict]:
    return {entry["name"]: entry for entry in document["variables"]}


# --- the plan ----------------------------------------------------------------------------------


def test_plan_validates_against_the_schema(plan_document, plan_validator):
    assert list(plan_validator.iter_errors(plan_document)) == []


def test_plan_restores_a_and_b_initializes_c(plan_document):
    by_name = entries(plan_document)
    assert len(by_name) == len(plan_document["variables"]), "a variable appears twice"
    for name in SHARED:
        assert by_name[name]["action"] == "restore", by_name[name]
        assert by_name[name]["source"] == name
    for name in NEW:
        assert by_name[name]["action"] == "initialize", by_name[name]
        assert by_name[name]["source"] is None
    resolution = by_name["B/b"]["shape_resolution"]
    assert resolution is not None and resolution["shape"] == [3] and resolution["source"] == "B/b"
    assert plan_document["unused"] == []


# --- the checkpoint apply writes ---------------------------------------------------------------


def test_apply_writes_a_complete_checkpoint(applied):
    directory = Path(applied).parent
    names = sorted(p.name for p in directory.iterdir())
    assert names == [
        "checkpoint",
        "model.ckpt.data-00000-of-00001",
        "model.ckpt.index",
        "model.ckpt.meta",
    ]


def test_restored_variables_hold_the_source_bytes(plan_document, old_tensors, new_tensors):
    restored = [e for e in plan_document["variables"] if e["action"] == "restore"]
    assert set(SHARED) <= {e["name"] for e in restored}
    for entry in restored:
        old, new = old_tensors[entry["source"]], new_tensors[entry["name"]]
        assert (new.dtype, new.shape) == (old.dtype, old.shape), entry["name"]
        assert new.tobytes() == old.tobytes(), entry["name"]
    # Training moved the biases off their zero init, so restoring them is not a no-op.
    for bias in ("A/b", "B/b"):
        assert np.any(old_tensors[bias] != 0), bias


def test_new_variables_hold_their_initializer_values(plan_document, old_tensors, new_tensors):
    assert set(new_tensors) == set(entries(plan_document))
    bias, weights = new_tensors["C/b"], new_tensors["C/w"]
    assert bias.shape == (2,) and not np.any(bias)  # zeros_initializer
    # get_variable's default: glorot_uniform, |w| <= sqrt(6 / (fan_in + fan_out))
    assert weights.shape == (16, 2) and weights.dtype == np.float32
    assert np.all(np.abs(weights) <= np.sqrt(6 / (16 + 2))) and np.any(weights)
    assert all(weights.tobytes() != old.tobytes() for old in old_tensors.values())
    for slot in ("C/w/Adam", "C/w/Adam_1", "C/b/Adam", "C/b/Adam_1"):
        assert not np.any(new_tensors[slot]), slot


# --- the new graph runs on it ------------------------------------------------------------------

# Runs in its own process: new_graph.py calls disable_v2_behavior(). Prints Output1 of the old
# graph (its own .meta and checkpoint), of the new graph built from new_graph.py (unchanged, in
# graphdiff.resolved_shapes) and restored by a plain Saver or by restore_into_session, and of
# the .meta apply wrote, restored the same way, as hex bytes; and what plain TensorFlow says
# of building new_graph.py.
COMPARE_OUTPUT1 = """
import json, sys
import numpy as np
import tensorflow as tf
import graphdiff

v1 = tf.compat.v1
v1.disable_v2_behavior()
old_prefix, new_prefix, new_graph_py, plan_path = sys.argv[1:5]
x = np.random.default_rng(7).normal(size=(8, 4)).astype(np.float32)


def output1(graph, saver_for, prefix):
    with graph.as_default(), v1.Session(graph=graph) as session:
        saver_for().restore(session, prefix)
        return session.run("B/Output1:0", {"Input:0": x})


def imported(meta):
    graph = tf.Graph()
    with graph.as_default():
        saver = v1.train.import_meta_graph(meta, clear_devices=True)
    return graph, lambda: saver


sys.path.insert(0, str(__import__("pathlib").Path(new_graph_py).parent))
new_graph = __import__("runpy").run_path(new_graph_py)
try:  # plain TensorFlow cannot build it: B's bias leaves its shape to the checkpoint
    with tf.Graph().as_default():
        new_graph["build_graph"]()
    plain = "built"
except ValueError as error:
    plain = str(error).splitlines()[0]

# The user's own script: the documented call gives the shapes the plan resolved.
built = tf.Graph()
with built.as_default(), graphdiff.resolved_shapes(plan_path):
    new_graph["build_graph"]()

in_session = tf.Graph()
with in_session.as_default(), graphdiff.resolved_shapes(plan_path):
    new_graph["build_graph"]()
    with v1.Session() as session:
        graphdiff.restore_into_session(graphdiff.read_plan(plan_path), session)
        restored_in_session = session.run("B/Output1:0", {"Input:0": x})

results = {
    "old": output1(*imported(old_prefix + ".meta"), old_prefix),
    "new_graph_py": output1(built, v1.train.Saver, new_prefix),
    "written_meta": output1(*imported(new_prefix + ".meta"), new_prefix),
    "restore_into_session": restored_in_session,
}
results = {k: [v.dtype.str, list(v.shape), v.tobytes().hex()] for k, v in results.items()}
print(json.dumps({**results, "plain": plain}))
"""


def test_the_users_own_script_builds_new_graph_py_and_output1_is_unchanged_bit_for_bit(
    seed_checkpoint, applied, seed_plan
):
    result = run_python("-c", COMPARE_OUTPUT1, seed_checkpoint, applied, SEED_NEW_GRAPH, seed_plan)
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout.strip().splitlines()[-1])
    assert outputs["old"][:2] == ["<f4", [8, 3]]
    assert bytes.fromhex(outputs["old"][2]) != bytes(8 * 3 * 4)
    assert outputs["new_graph_py"] == outputs["old"]
    assert outputs["written_meta"] == outputs["old"]
    assert outputs["restore_into_session"] == outputs["old"]
    assert "should be fully defined" in outputs["plain"]  # plain TensorFlow cannot build it


# --- the picture -------------------------------------------------------------------------------


def test_render_draws_an_svg(seed_plan, run_cli, tmp_path):
    picture = tmp_path / "diff.svg"
    result = run_cli("render", seed_plan, "-o", picture)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(picture)
    root = ET.parse(picture).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    words = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"A", "B", "C"} <= words
