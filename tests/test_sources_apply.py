"""apply with several named sources (issue 19): one checkpoint written from every source.

Each restored tensor must hold exactly the bytes of the key its entry names in the source it
names (read back with TensorFlow's own reader); the new mask predictor is initialized; the new
graph's own Saver restores the result. Sources that moved are found with --checkpoint NAME=...;
the inputs of every source are protected and fingerprinted.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from conftest import run_in_process
from keras_models import save_weights, write_model

from graphdiff.apply.executor import apply_plan, restore_into_session
from graphdiff.errors import BadInput
from graphdiff.plan import INITIALIZE, Options
from graphdiff.plan_io import write_plan
from graphdiff.planning import make_plan
from graphdiff.tf_import import tensorflow

tf = tensorflow()
v1 = tf.compat.v1


def detector_plan(runs, order, out, **options):
    paths = {"cls": runs.classifier, "det": runs.detector}
    return make_plan(
        {name: paths[name] + ".meta" for name in order},
        runs.new_graph,
        output_prefix=str(out),
        options=Options(**{k: tuple(v) for k, v in options.items()}),
    )


def stored(prefix: str) -> dict[str, np.ndarray]:
    reader = tf.train.load_checkpoint(str(prefix))
    return {key: reader.get_tensor(key) for key in reader.get_variable_to_shape_map()}


def assert_restored_as_planned(plan, prefix):
    """Every restored tensor is its own source's, byte for byte; the others are written too."""
    written = stored(prefix)
    sources = {s.name: stored(s.checkpoint_prefix) for s in plan.provenance.sources}
    for entry in plan.variables:
        assert entry.name in written, entry.name
        if entry.action == INITIALIZE:
            continue
        value = sources[entry.source_name][entry.source]
        assert written[entry.name].tobytes() == value.tobytes(), entry.name


@pytest.mark.parametrize("order", [("cls", "det"), ("det", "cls")])
def test_one_checkpoint_from_both_runs_byte_for_byte(detector_runs, tmp_path, order):
    out = tmp_path / "out" / "model.ckpt"
    plan = detector_plan(detector_runs, order, out)
    assert apply_plan(plan, verify=True) == str(out)
    assert_restored_as_planned(plan, out)
    backbone = "FeatureExtractor/resnet/conv1/weights"
    first = stored({"cls": detector_runs.classifier, "det": detector_runs.detector}[order[0]])
    key = backbone if order[0] == "det" else backbone.removeprefix("FeatureExtractor/")
    assert np.array_equal(stored(out)[backbone], first[key])
    mask = stored(out)["BoxPredictor/mask/weights"]
    assert mask.shape == (1, 1, 4, 2)
    assert not any(mask.shape == v.shape and np.array_equal(mask, v) for v in first.values())


def test_the_new_graph_restores_it_with_its_own_saver(detector_runs, tmp_path):
    out = tmp_path / "out" / "model.ckpt"
    plan = detector_plan(detector_runs, ("cls", "det"), out)
    apply_plan(plan)
    graph = tf.Graph()
    with graph.as_default():
        v1.train.import_meta_graph(str(out) + ".meta")
        with v1.Session() as session:
            v1.train.Saver().restore(session, str(out))
            (box,) = [v for v in v1.global_variables() if v.op.name == "BoxPredictor/box/weights"]
            value = session.run(box)
    assert np.array_equal(value, stored(detector_runs.detector)["BoxPredictor/box/weights"])


def test_restore_into_a_live_session_reads_each_source(detector_runs, tmp_path):
    import detector_graphs

    plan = detector_plan(detector_runs, ("cls", "det"), tmp_path / "unused" / "model.ckpt")
    graph = tf.Graph()
    with graph.as_default():
        detector_graphs.detector(mask=True, train=True)
        with v1.Session() as session:
            report = restore_into_session(plan, session)
            by_name = {v.op.name: v for v in v1.global_variables()}
            backbone = session.run(by_name["FeatureExtractor/resnet/conv1/weights"])
            box = session.run(by_name["BoxPredictor/box/biases"])
    assert len(report["restored"]) == len(plan.restored)
    assert np.array_equal(backbone, stored(detector_runs.classifier)["resnet/conv1/weights"])
    assert np.array_equal(box, stored(detector_runs.detector)["BoxPredictor/box/biases"])


def test_a_source_that_moved_is_found_by_its_name(detector_runs, tmp_path):
    moved = tmp_path / "elsewhere"
    shutil.copytree(detector_runs.root / "detection", moved)
    plan = detector_plan(detector_runs, ("cls", "det"), tmp_path / "out" / "model.ckpt")
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    new_place = str(moved / "model.ckpt")
    with pytest.raises(BadInput, match="sources are named \\(cls, det\\): give NAME=PREFIX"):
        apply_plan(plan, checkpoint=new_place)
    with pytest.raises(BadInput, match="box: the plan has no such source"):
        apply_plan(plan, checkpoint={"box": new_place})
    with pytest.raises(BadInput, match="is not the checkpoint of source cls the plan was made"):
        apply_plan(plan, checkpoint={"cls": new_place})
    result = run_in_process("apply", path, "--checkpoint", f"det={new_place}", "--quiet")
    assert result.returncode == 0, result.stderr
    assert_restored_as_planned(plan, plan.output_prefix)


def test_each_source_is_checked_and_protected(detector_runs, tmp_path):
    copy = tmp_path / "det"
    shutil.copytree(detector_runs.root / "detection", copy)
    plan = make_plan(
        {"cls": detector_runs.classifier + ".meta", "det": copy / "model.ckpt.meta"},
        detector_runs.new_graph,
        output_prefix=str(tmp_path / "out" / "model.ckpt"),
    )
    with pytest.raises(BadInput, match="is the checkpoint of source det"):
        apply_plan(plan, output_prefix=str(copy / "model.ckpt"), force=True)
    (copy / "model.ckpt.data-00000-of-00001").unlink()
    with pytest.raises(BadInput, match="a shard of the checkpoint's data is missing"):
        apply_plan(plan)
    (copy / "model.ckpt.index").write_bytes(b"changed")
    with pytest.raises(BadInput, match="det/model.ckpt.index: changed since the plan was made"):
        apply_plan(plan)
    (copy / "model.ckpt.index").unlink()
    with pytest.raises(BadInput, match="if it moved, give its prefix with --checkpoint det=PREFIX"):
        apply_plan(plan)
    assert not (tmp_path / "out").exists()


KERAS_MASK = """
def build_model():
    features = keras.Input((8, 8, 4), name="features")
    return keras.Model(features, layers.Conv2D(2, 1, name="mask")(features))
"""


def test_a_keras_source_beside_two_tf1_sources(detector_runs, tmp_path):
    """The mask predictor from a Keras model's .weights.h5, the rest from the TF1 runs."""
    model_py = write_model(tmp_path / "keras", KERAS_MASK)
    weights = tmp_path / "keras" / "mask.weights.h5"
    values = save_weights(model_py, weights)
    out = tmp_path / "out" / "model.ckpt"
    plan = make_plan(
        {
            "cls": detector_runs.classifier + ".meta",
            "det": detector_runs.detector + ".meta",
            "mask": weights,
        },
        detector_runs.new_graph,
        old_model={"mask": model_py},
        output_prefix=str(out),
        options=Options(
            maps=(
                "mask:^mask/kernel$=BoxPredictor/mask/weights",
                "mask:^mask/bias$=BoxPredictor/mask/biases",
            )
        ),
    )
    kinds = [(s.name, s.old_kind) for s in plan.provenance.sources]
    assert kinds == [("cls", "tf1_meta"), ("det", "tf1_meta"), ("mask", "keras_weights")]
    assert plan.provenance.sources[2].old_model.path == str(model_py)
    mask = plan.entry("BoxPredictor/mask/weights")
    assert (mask.source_name, mask.source, mask.match.method) == (
        "mask",
        "mask/kernel",
        "user_rule",
    )
    assert mask.stored_as is not None  # the h5 path of the kernel
    apply_plan(plan, verify=True)
    written = stored(out)
    assert np.array_equal(written["BoxPredictor/mask/weights"], values["mask"][0])
    assert np.array_equal(written["BoxPredictor/mask/biases"], values["mask"][1])
    assert np.array_equal(
        written["BoxPredictor/cls/weights"],
        stored(detector_runs.detector)["BoxPredictor/cls/weights"],
    )


def test_the_report_lists_bytes_per_source(detector_runs, tmp_path):
    import json

    plan = detector_plan(detector_runs, ("cls", "det"), tmp_path / "out" / "model.ckpt")
    path, report = tmp_path / "plan.json", tmp_path / "report.json"
    write_plan(plan, path)
    result = run_in_process("apply", path, "--quiet", "--report", report)
    assert result.returncode == 0, result.stderr
    sources = json.loads(report.read_text())["sources"]
    assert [(s["name"], s["checkpoint"], s["restored"]) for s in sources] == [
        ("cls", detector_runs.classifier, 15),
        ("det", detector_runs.detector, 8),
    ]
    written = stored(plan.output_prefix)
    for source in sources:
        names = [e.name for e in plan.restored if e.source_name == source["name"]]
        assert source["bytes"] == sum(written[n].nbytes for n in names)
