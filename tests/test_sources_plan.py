"""Several named sources in one plan (issue 19): who fills what, conflicts, rules, bad input.

The story (tests/detector_graphs.py): a detector `FeatureExtractor/resnet/...` +
`BoxPredictor/{box,cls,mask}` takes its backbone from a classification run (`resnet/...`, with
a classifier head it does not use) and its predictors from a detection run that has a backbone
of its own. Plans are made in this process (make_plan); the CLI's parsing of `NAME=OLD` and its
one-line refusals run through `graphdiff.cli.main` in this process too.
"""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import run_in_process

from graphdiff.errors import BadInput, PolicyViolation
from graphdiff.plan import INITIALIZE, RESTORE, to_json
from graphdiff.plan_io import read_plan, write_plan
from graphdiff.planning import make_plan
from graphdiff.schema import schema_errors
from graphdiff.view.summary import format_summary

BACKBONE = "FeatureExtractor/resnet/"
PREDICTORS = ("BoxPredictor/box/", "BoxPredictor/cls/")


def plan_of(runs, *names, **options):
    """The detector planned from the named runs, in the order given ("cls", "det")."""
    from graphdiff.plan import Options

    paths = {"cls": runs.classifier, "det": runs.detector}
    old = {name: paths[name] + ".meta" for name in names}
    return make_plan(
        old,
        runs.new_graph,
        output_prefix=str(runs.root / "out" / "model.ckpt"),
        options=Options(**{k: tuple(v) for k, v in options.items()}),
    )


def model_entries(plan, prefix):
    return [e for e in plan.variables if e.name.startswith(prefix) and e.role == "model"]


@pytest.fixture(scope="module")
def cls_first(detector_runs):
    return plan_of(detector_runs, "cls", "det")


@pytest.fixture(scope="module")
def det_first(detector_runs):
    return plan_of(detector_runs, "det", "cls")


def test_the_backbone_comes_from_the_classifier_the_predictors_from_the_detector(cls_first):
    backbone = model_entries(cls_first, BACKBONE)
    assert len(backbone) == 15
    for entry in backbone:
        assert (entry.action, entry.source_name) == (RESTORE, "cls"), entry
        assert entry.source == entry.name.removeprefix("FeatureExtractor/")
        assert [(a.source_name, a.key) for a in entry.alternatives] == [("det", entry.name)]
        assert entry.alternatives[0].why == "cls is named first"
        assert "det could give" in entry.reason and "cls is named first" in entry.reason
    for prefix in PREDICTORS:
        for entry in model_entries(cls_first, prefix):
            assert (entry.action, entry.source_name, entry.source) == (RESTORE, "det", entry.name)
            assert entry.alternatives == ()
    mask = model_entries(cls_first, "BoxPredictor/mask/")
    assert [e.action for e in mask] == [INITIALIZE, INITIALIZE]
    assert all(e.reason == "new: no variable of any source matches it" for e in mask)


def test_naming_the_detector_first_takes_its_backbone(det_first):
    for entry in model_entries(det_first, BACKBONE):
        assert (entry.action, entry.source_name, entry.source) == (RESTORE, "det", entry.name)
        assert [a.source_name for a in entry.alternatives] == ["cls"]
        assert entry.alternatives[0].key == entry.name.removeprefix("FeatureExtractor/")
        assert entry.alternatives[0].why == "det is named first"


def test_optimizer_state_stays_with_the_run_of_its_variables(cls_first, det_first):
    slots = [e for e in cls_first.variables if e.role == "slot" and e.name.startswith(BACKBONE)]
    assert slots and all(e.action == INITIALIZE for e in slots)
    assert all("its layer comes from cls" in e.reason for e in slots)
    assert all(e.candidates == () for e in slots)  # a policy, not a decision left open
    step = cls_first.entry("global_step")
    assert step.action == INITIALIZE and "come from cls too" in step.reason
    assert [a.source_name for a in step.alternatives] == ["det"]
    for entry in det_first.variables:
        if entry.role in ("slot", "global_step") and not entry.name.startswith("BoxPredictor/mask"):
            assert (entry.action, entry.source_name) == (RESTORE, "det"), entry


def test_unused_keys_name_their_source_and_why(cls_first):
    unused = {(u.source_name, u.key): u.reason for u in cls_first.unused}
    assert unused[("cls", "resnet/logits/weights")].startswith("removed:")
    reason = unused[("det", "FeatureExtractor/resnet/conv1/weights")]
    assert reason == (
        "not taken: 'FeatureExtractor/resnet/conv1/weights' comes from cls "
        "'resnet/conv1/weights' (cls is named first)"
    )
    assert not any(key[1].startswith("BoxPredictor/") for key in unused if key[0] == "det")


def test_each_source_has_its_own_fingerprints_and_kind(cls_first, detector_runs, tmp_path):
    sources = cls_first.provenance.sources
    assert [s.name for s in sources] == ["cls", "det"]
    assert [s.checkpoint_prefix for s in sources] == [
        detector_runs.classifier,
        detector_runs.detector,
    ]
    assert [s.old_kind for s in sources] == ["tf1_meta", "tf1_meta"]
    assert sources[0].checkpoint_index.sha256 != sources[1].checkpoint_index.sha256
    assert sources[1].old_meta.path == detector_runs.detector + ".meta"
    document = to_json(cls_first)
    assert document["format_version"] == 2 and schema_errors(document) == []
    assert "checkpoint_prefix" not in document["provenance"]
    write_plan(cls_first, tmp_path / "plan.json")
    assert read_plan(tmp_path / "plan.json") == cls_first


def test_a_plan_from_one_unnamed_source_is_written_as_before(detector_runs):
    plan = make_plan(detector_runs.detector + ".meta", detector_runs.new_graph)
    document = to_json(plan)
    assert document["format_version"] == 1 and "sources" not in document["provenance"]
    assert not any("source_name" in item for item in document["variables"] + document["unused"])
    assert all("alternatives" not in item for item in document["variables"])
    one_named = plan_of(detector_runs, "det")
    assert one_named.format_version == 2
    assert [e.source for e in one_named.variables] == [e.source for e in plan.variables]
    assert {e.source_name for e in one_named.restored} == {"det"}


def test_a_named_map_overrides_the_order(detector_runs):
    plan = plan_of(detector_runs, "det", "cls", maps=["cls:resnet=FeatureExtractor/resnet"])
    for entry in model_entries(plan, BACKBONE):
        assert (entry.source_name, entry.match.method) == ("cls", "user_rule"), entry
        assert entry.alternatives[0].why == "a --map rule of cls gives it"
    rule = next(r for r in plan.rules if r.origin == "user")
    assert (rule.source_name, rule.old, rule.support) == ("cls", "resnet", 15)
    for prefix in PREDICTORS:
        assert {e.source_name for e in model_entries(plan, prefix)} == {"det"}


def test_two_named_maps_on_one_layer_are_never_chosen_silently(detector_runs):
    plan = plan_of(
        detector_runs,
        "cls",
        "det",
        maps=[
            "cls:resnet/conv1=FeatureExtractor/resnet/conv1",
            "det:^(FeatureExtractor/resnet/conv1/.*)=\\1",
        ],
    )
    for entry in model_entries(plan, BACKBONE + "conv1/"):
        assert entry.action == INITIALIZE, entry
        assert "no order between them" in entry.reason
        assert sorted(c.split(":")[0] for c in entry.candidates) == ["cls", "det"]
    assert model_entries(plan, BACKBONE + "block1/")[0].source_name == "cls"


def test_a_named_exclude_leaves_the_variable_to_the_other_source(detector_runs):
    plan = plan_of(detector_runs, "det", "cls", excludes=["det:^FeatureExtractor/"])
    assert {e.source_name for e in model_entries(plan, BACKBONE)} == {"cls"}
    assert {e.source_name for e in model_entries(plan, "BoxPredictor/box/")} == {"det"}


def test_a_layer_comes_from_one_source(detector_runs):
    """The classifier is first for conv1 but gives not its batch norm (excluded here): the
    detector's batch norm beside the classifier's kernel would mix two runs in one layer."""
    plan = plan_of(detector_runs, "cls", "det", excludes=["cls:^FeatureExtractor/resnet/conv1/B"])
    assert plan.entry(BACKBONE + "conv1/weights").source_name == "cls"
    for entry in model_entries(plan, BACKBONE + "conv1/BatchNorm/"):
        assert entry.action == INITIALIZE, entry
        assert entry.reason.startswith("its layer comes from cls (cls is named first)")
        assert [a.source_name for a in entry.alternatives] == ["det"]
    unit = plan.entry(BACKBONE + "block1/unit_1/conv1/BatchNorm/beta")
    assert unit.source_name == "cls"


def test_a_named_require_asks_for_that_source(detector_runs):
    require = ["cls:^FeatureExtractor/resnet/conv1/weights$"]
    assert (
        plan_of(detector_runs, "cls", "det", requires=require)
        .entry(BACKBONE + "conv1/weights")
        .source_name
        == "cls"
    )
    with pytest.raises(PolicyViolation, match="not be restored from the source named") as caught:
        plan_of(detector_runs, "det", "cls", requires=require)
    assert caught.value.offenders == [BACKBONE + "conv1/weights"]


def test_an_unnamed_map_needs_to_restore_from_one_source_only(detector_runs):
    plan = plan_of(detector_runs, "cls", "det", maps=["resnet=FeatureExtractor/resnet"])
    rule = next(r for r in plan.rules if r.origin == "user")
    assert (rule.source_name, rule.support) == (None, 15)
    with pytest.raises(BadInput, match="in every source: cls, det"):
        plan_of(detector_runs, "cls", "det", maps=["nothing=FeatureExtractor/resnet"])


@pytest.mark.parametrize(
    "option, text",
    [
        ("maps", "dte:resnet=FeatureExtractor/resnet"),
        ("excludes", "dte:^x"),
        ("requires", "dte:^x"),
    ],
)
def test_a_rule_naming_no_source_is_refused(detector_runs, option, text):
    with pytest.raises(BadInput, match="names source 'dte', but the sources are cls, det"):
        plan_of(detector_runs, "cls", "det", **{option: [text]})


def test_the_summary_names_the_conflicts(cls_first):
    text = format_summary(cls_first)
    assert (
        "conflict: 15 variables of FeatureExtractor/resnet from cls (cls is named first); "
        "det could give them too" in text
    )
    assert "rule (inferred, cls, 15 variables): (root)/ -> FeatureExtractor/" in text
    assert "removed: cls:resnet/logits\n" in text
    assert "not taken: det:FeatureExtractor\n" in text  # the new graph has it, from cls


# --- the command line: NAME=OLD, and what it refuses ------------------------------------------


def one_line(result, *words):
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("graphdiff: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_the_command_line_takes_sources_on_either_side_of_options(detector_runs, tmp_path):
    out = tmp_path / "plan.json"
    result = run_in_process(
        "plan",
        f"cls={detector_runs.classifier}.meta",
        "--map",
        "cls:resnet=FeatureExtractor/resnet",
        f"det={detector_runs.detector}.meta",
        detector_runs.new_graph,
        "-o",
        out,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert [s["name"] for s in document["provenance"]["sources"]] == ["cls", "det"]
    assert "conflict: 15 variables of FeatureExtractor/resnet from cls" in result.stderr


@pytest.mark.parametrize(
    "olds, words",
    [
        (["cls={c}", "cls={d}"], ["cls={d}", "source name 'cls' is given twice"]),
        (["cls={c}", "det={c}"], ["det=", "is source 'cls' already"]),
        (["./cls={c}", "det={d}"], ["./cls=", "'./cls' is no source name"]),
        (["{c}", "det={d}"], ["give each as NAME=OLD"]),
        (["cls=", "det={d}"], ["source 'cls' names no OLD"]),
    ],
)
def test_bad_sources_are_one_line(detector_runs, olds, words, tmp_path):
    c, d = detector_runs.classifier + ".meta", detector_runs.detector + ".meta"
    args = [text.format(c=c, d=d) for text in olds]
    words = [word.format(c=c, d=d) for word in words]
    one_line(
        run_in_process("plan", *args, detector_runs.new_graph, "-o", tmp_path / "p.json"), *words
    )
    assert not (tmp_path / "p.json").exists()


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--exclude", "det:^x"], ["--exclude", "names source 'det', but OLD is not named"]),
        (["--checkpoint", "a", "--checkpoint", "b"], ["--checkpoint", "given 2 times"]),
    ],
)
def test_named_flags_with_one_unnamed_source_are_refused(detector_runs, flags, words):
    result = run_in_process(
        "plan", detector_runs.detector + ".meta", detector_runs.new_graph, *flags
    )
    one_line(result, *words)


def test_relocation_flags_name_a_known_source(detector_runs):
    c, d = detector_runs.classifier + ".meta", detector_runs.detector + ".meta"
    base = ["plan", f"cls={c}", f"det={d}", detector_runs.new_graph]
    one_line(run_in_process(*base, "--checkpoint", "box=/x"), "--checkpoint", "box: no source")
    one_line(run_in_process(*base, "--checkpoint", "/x/model.ckpt"), "give NAME=PATH")


def test_a_path_with_an_equals_sign_is_a_path_when_nothing_else_is(
    detector_runs, tmp_path, monkeypatch
):
    """`lr=0.1/model.ckpt.meta` reads as source `lr` = `0.1/model.ckpt.meta` only when that
    exists; when only the whole path exists it is the path; when both, neither is chosen."""
    shutil.copytree(detector_runs.root / "detection", tmp_path / "lr=0.1")
    monkeypatch.chdir(tmp_path)
    result = run_in_process("plan", "lr=0.1/model.ckpt.meta", detector_runs.new_graph)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["format_version"] == 1
    shutil.copytree(tmp_path / "lr=0.1", tmp_path / "0.1")
    one_line(
        run_in_process("plan", "lr=0.1/model.ckpt.meta", detector_runs.new_graph),
        "is both a file and source 'lr'",
        "./lr=0.1/model.ckpt.meta",
        "lr=./0.1/model.ckpt.meta",
    )
    result = run_in_process("plan", "./lr=0.1/model.ckpt.meta", detector_runs.new_graph)
    assert result.returncode == 0, result.stderr
    result = run_in_process(
        "plan", "a=./lr=0.1/model.ckpt.meta", "b=lr=0.1/model.ckpt.meta", detector_runs.new_graph
    )
    one_line(result, "b=lr=0.1/model.ckpt.meta: is source 'a' already")
    result = run_in_process("plan", "lr=./0.1/model.ckpt.meta", detector_runs.new_graph)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["provenance"]["sources"][0]["name"] == "lr"


def test_a_plan_naming_an_undeclared_source_is_refused(cls_first, tmp_path):
    path = tmp_path / "plan.json"
    write_plan(cls_first, path)
    document = json.loads(path.read_text())
    document["variables"][0]["source_name"] = "dte"
    path.write_text(json.dumps(document))
    with pytest.raises(BadInput, match="names source 'dte', which the plan does not declare"):
        read_plan(path)


def test_a_shape_left_undefined_comes_from_the_source_that_has_it(detector_runs, tmp_path):
    new = tmp_path / "undefined.py"
    new.write_text(
        "import tensorflow as tf\nv1 = tf.compat.v1\n"
        "v1.get_variable('BoxPredictor/box/biases')\n"
        "v1.get_variable('head/biases')\n"
    )
    from graphdiff.plan import Options

    plan = make_plan(
        {"cls": detector_runs.classifier + ".meta", "det": detector_runs.detector + ".meta"},
        new,
        options=Options(maps=("cls:resnet/logits=head",)),
    )
    box, head = plan.entry("BoxPredictor/box/biases"), plan.entry("head/biases")
    assert (box.source_name, box.shape, box.shape_resolution.source_name) == ("det", (8,), "det")
    assert (head.source_name, head.shape) == ("cls", (5,))
    assert (head.shape_resolution.source_name, head.shape_resolution.source) == (
        "cls",
        "resnet/logits/biases",
    )
