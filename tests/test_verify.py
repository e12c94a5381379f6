"""graphdiff verify on real graphs and real checkpoints: what is shared computes what it did.

The seed runs through the CLI (its new_graph.py switches TensorFlow to v1 behavior, which is
process-wide); the other graphs are planned, applied and verified in this process. A corrupted
checkpoint is written with TensorFlow's own Saver, never by editing bytes.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import run_in_process
from graphs import HEADER, save_checkpoint
from test_cli import assert_one_line_error

from graphdiff.apply.executor import apply_plan
from graphdiff.errors import BadInput
from graphdiff.plan import Options
from graphdiff.plan_io import write_plan
from graphdiff.planning import make_plan
from graphdiff.tf_import import tensorflow
from graphdiff.verify import OutputsCheck, OutputsDiffer, verify_plan

tf = tensorflow()
v1 = tf.compat.v1


def corrupt(source: str, target: str, key: str, delta: float = 0.5) -> str:
    """A copy of checkpoint `source` at `target` with `delta` added to `key`, saved by Saver
    (in this process, in a graph of its own: a subprocess would cost a TensorFlow import)."""
    reader = tf.train.load_checkpoint(source)
    values = {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}
    with tf.Graph().as_default():
        for name, value in values.items():
            v1.Variable(value + delta if name == key else value, name=name)
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            v1.train.Saver().save(session, target, write_meta_graph=False)
    return target


# --- the seed, through the CLI -------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_report(seed_plan, seed_applied, run_cli):
    result = run_cli("verify", seed_plan, "--checkpoint", seed_applied, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def by_new(report: dict) -> dict[str, dict]:
    return {row["new"]: row for row in report["tensors"]}


def test_seed_verifies_output1_bit_for_bit(seed_report):
    row = by_new(seed_report)["B/Output1:0"]
    assert seed_report["verdict"] == "identical"
    assert (row["old"], row["verdict"], row["compared"]) == ("B/Output1:0", "identical", "bits")
    assert (row["max_abs_diff"], row["max_rel_diff"], row["shape"]) == (0.0, 0.0, [2, 3])


def test_seed_compares_the_features_before_the_new_branch(seed_report):
    """A/Relu feeds B (shared) and C (new): it is on the frontier, and nothing else is."""
    assert sorted(by_new(seed_report)) == ["A/Relu:0", "B/Output1:0"]
    assert by_new(seed_report)["A/Relu:0"]["restored_upstream"] == 2  # A/w, A/b


def test_seed_report_lists_the_fed_input_and_what_was_not_compared(seed_report):
    assert seed_report["inputs"] == [
        {
            "new": "Input:0",
            "old": "Input:0",
            "dtype": "float32",
            "shape": [2, 4],
            "origin": "generated",
        }
    ]
    assert seed_report["not_compared"] == []  # every restored model variable is upstream
    assert seed_report["optimizer_state_not_compared"] == 11  # Adam slots, betas, global_step


def test_a_corrupted_bias_exits_3_naming_output1_and_the_bias(
    seed_plan, seed_applied, run_cli, tmp_path
):
    bad = corrupt(seed_applied, str(tmp_path / "bad" / "model.ckpt"), "B/b")
    result = run_cli("verify", seed_plan, "--checkpoint", bad)
    assert result.returncode == 3, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("graphdiff: B/Output1:0 differs") and line.endswith(": B/b"), line
    lines = result.stdout.splitlines()  # text is the default format
    assert (
        "  = A/Relu:0  [2, 16]  bit for bit" in lines
        and "  ! B/Output1:0  [2, 3]  DIFFERS (bits)" in lines
    )
    assert lines[-1] == "Verify: 1 identical, 0 within tolerance, 1 differ."


def test_feed_replaces_the_generated_input(seed_plan, seed_applied, run_cli, tmp_path):
    array = tmp_path / "input.npy"
    np.save(array, np.full((5, 4), 3.0, np.float32))
    result = run_cli(
        "verify", seed_plan, "--checkpoint", seed_applied, "--feed", f"Input={array}",
        "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["inputs"][0]["origin"] == str(array)
    assert by_new(report)["B/Output1:0"]["shape"] == [5, 3]


def test_apply_verify_outputs_publishes_a_verified_checkpoint(seed_plan, run_cli, tmp_path):
    prefix = tmp_path / "new" / "model.ckpt"
    result = run_cli("apply", seed_plan, "--output", prefix, "--verify-outputs")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(prefix) and Path(f"{prefix}.index").is_file()
    assert "graphdiff: verify: 2 tensor(s) identical (A/Relu:0, B/Output1:0)" in result.stderr


def test_help_tells_verify_and_verify_outputs_apart(run_cli):
    result = run_cli("apply", "--help")
    text = " ".join(result.stdout.split())
    assert "check every tensor's bytes before publishing it" in text
    assert "--verify-outputs before publishing, run 'graphdiff verify'" in text


# --- bad input through the CLI: exit 2, one line -----------------------------------------------


def private_seed(seed_plan: Path, tmp_path: Path) -> Path:
    """A copy of the seed plan whose old checkpoint is a copy in tmp_path (free to break)."""
    document = json.loads(seed_plan.read_text())
    provenance = document["provenance"]
    old = Path(provenance["checkpoint_prefix"])
    (tmp_path / "old").mkdir()
    for file in old.parent.glob(old.name + ".*"):
        shutil.copy(file, tmp_path / "old" / file.name)
    prefix = tmp_path / "old" / old.name
    provenance["checkpoint_prefix"] = str(prefix)
    provenance["old_meta"]["path"] = f"{prefix}.meta"
    provenance["checkpoint_index"]["path"] = f"{prefix}.index"
    document["output_prefix"] = str(tmp_path / "new" / "model.ckpt")
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document))
    return path


def test_verify_before_apply_says_to_apply_first(seed_plan, run_cli, tmp_path):
    plan = private_seed(seed_plan, tmp_path)
    result = run_cli("verify", plan)
    assert_one_line_error(result, str(tmp_path / "new" / "model.ckpt.index"), "graphdiff apply")


def test_a_plan_whose_old_checkpoint_is_gone(seed_plan, seed_applied, tmp_path):
    """Refused before new_graph.py runs: in this process (the CLI's main, as a user's)."""
    plan = private_seed(seed_plan, tmp_path)
    for data in (tmp_path / "old").glob("*.data-*"):
        data.unlink()
    result = run_in_process("verify", plan, "--checkpoint", seed_applied)
    assert_one_line_error(result, "model.ckpt.data-00000-of-00001", "no such file")


def test_a_feed_of_the_wrong_shape_names_the_file(seed_plan, seed_applied, run_cli, tmp_path):
    array = tmp_path / "wide.npy"
    np.save(array, np.zeros((2, 5), np.float32))
    result = run_cli("verify", seed_plan, "--checkpoint", seed_applied, "--feed", f"Input={array}")
    assert_one_line_error(result, str(array), "shape [2, 5]", "Input:0", "[?, 4]")


def test_a_feed_without_a_file_is_a_usage_error(seed_plan, run_cli):
    result = run_cli("verify", seed_plan, "--feed", "Input")
    assert_one_line_error(result, "NAME=FILE.npy")


def test_a_checkpoint_of_another_graph(seed_plan, seed_checkpoint, run_cli):
    """The old checkpoint has no C/w: it cannot be restored into the new graph."""
    result = run_cli("verify", seed_plan, "--checkpoint", seed_checkpoint)
    assert_one_line_error(result, seed_checkpoint, "cannot be restored", "new_graph.py")


# --- graphs of other kinds, in this process ------------------------------------------------------


def scenario(tmp_path: Path, old_body: str, new_body: str, options=None) -> tuple:
    """Save the old graph, write the new one, plan, apply; return (plan, applied prefix)."""
    old = write_graph(tmp_path / "old", old_body)
    prefix = save_checkpoint(tmp_path / "old", lambda: run_graph(old))
    new = write_graph(tmp_path / "new", new_body)
    plan = make_plan(f"{prefix}.meta", new, options=options)
    write_plan(plan, tmp_path / "plan.json")
    return plan, apply_plan(plan)


def write_graph(directory: Path, body: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "graph.py"
    path.write_text(HEADER + MODEL + "\n\ndef build_graph():\n" + body)
    return path


def run_graph(path: Path) -> None:
    import runpy

    sys.path.insert(0, str(path.parent))
    try:
        runpy.run_path(str(path))["build_graph"]()
    finally:
        sys.path.remove(str(path.parent))


MODEL = '''
import contextlib


@contextlib.contextmanager
def v1_control_flow():
    was_v2 = v1.control_flow_v2_enabled()
    v1.disable_control_flow_v2()
    try:
        yield
    finally:
        if was_v2:
            v1.enable_control_flow_v2()


def scope(name):
    return v1.variable_scope(name) if name else contextlib.nullcontext()


def embedder(scope_name, classes, resource, parts):
    """Token ids -> a 3-row embedding (6 in 2 parts) -> mean -> hidden layer -> dense head."""
    ids = v1.placeholder(tf.int32, [None, 5], name="ids")
    partitioner = v1.fixed_size_partitioner(parts) if parts > 1 else None
    with scope(scope_name), v1.variable_scope("text", use_resource=resource):
        table = v1.get_variable("embedding", [3 * parts, 8], partitioner=partitioner)
        mean = tf.reduce_mean(tf.nn.embedding_lookup(table, ids), 1)
        features = tf.identity(dense(mean, 8, "hidden", use_resource=resource), name="features")
        dense(features, classes, "head", use_resource=resource)


def batch_norm(x, training, resource):
    """Moving averages read when training is False (v1 cond), updated in UPDATE_OPS."""
    channels = int(x.shape[-1])
    with v1.variable_scope("bn", use_resource=resource):
        beta = v1.get_variable("beta", [channels], initializer=v1.zeros_initializer())
        gamma = v1.get_variable("gamma", [channels], initializer=v1.ones_initializer())
        mean = v1.get_variable("moving_mean", [channels], trainable=False,
                               initializer=v1.random_uniform_initializer(-1, 1))
        variance = v1.get_variable("moving_variance", [channels], trainable=False,
                                   initializer=v1.random_uniform_initializer(0.5, 2))
        batch_mean, batch_variance = tf.nn.moments(x, [0, 1, 2])
        for average, value in ((mean, batch_mean), (variance, batch_variance)):
            update = v1.assign_sub(average, (average - value) * 0.01)
            v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, update)
        if training is None:
            y, _, _ = v1.nn.fused_batch_norm(
                x, gamma, beta, mean=mean, variance=variance, is_training=False)
            return y
        statistics = tf.cond(training, lambda: (batch_mean, batch_variance),
                             lambda: (tf.identity(mean), tf.identity(variance)))
        return tf.nn.batch_normalization(x, *statistics, beta, gamma, 1e-3)


def convnet(scope_name, classes, resource, flag):
    """images -> conv -> batch norm -> relu -> dropout when training -> mean -> head."""
    images = v1.placeholder(tf.float32, [None, 8, 8, 3], name="images")
    training = v1.placeholder_with_default(False, [], name="training") if flag else None
    with scope(scope_name), v1_control_flow():
        with v1.variable_scope("conv", use_resource=resource):
            kernel = v1.get_variable("weights", [3, 3, 3, 4])
        net = tf.nn.relu(batch_norm(tf.nn.conv2d(images, kernel, 1, "SAME"), training, resource))
        if flag:
            net = tf.cond(training, lambda: tf.nn.dropout(net, rate=0.5), lambda: net)
        features = tf.reduce_mean(net, [1, 2], name="features")
        dense(features, classes, "head", use_resource=resource)
'''


@pytest.mark.parametrize(
    ("resource", "parts"), [(False, 1), (True, 1), (False, 2)], ids=["ref", "resource", "parts"]
)
def test_integer_inputs_stay_below_the_embedding_they_index(tmp_path, resource, parts):
    """ids index a table of 3 rows (per part): values of 3 or more would fail the gather."""
    old = f"    embedder(None, 5, {resource}, {parts})\n"
    new = f"    embedder('model', 7, {resource}, {parts})\n"
    plan, prefix = scenario(tmp_path, old, new)
    report = verify_plan(plan, prefix)
    assert report.verdict == "identical"
    assert [(c.new, c.old) for c in report.tensors] == [
        ("model/text/features:0", "text/features:0")
    ]
    assert "model/text/embedding" in report.tensors[0].restored_upstream
    (fed,) = report.inputs
    assert (fed.new, fed.old, fed.dtype, fed.shape) == ("ids:0", "ids:0", "int32", (2, 5))


@pytest.mark.parametrize(
    ("resource", "flag"), [(False, True), (True, False)], ids=["ref-cond", "resource-fused"]
)
def test_batch_norm_verifies_on_its_moving_averages(tmp_path, resource, flag):
    """The features after batch norm (and dropout, when training) compare bit for bit, and
    they depend on the moving averages: a changed moving mean makes them differ."""
    old = f"    convnet(None, 5, {resource}, {flag})\n"
    new = f"    convnet('model', 7, {resource}, {flag})\n"
    plan, prefix = scenario(tmp_path, old, new)
    report = verify_plan(plan, prefix)
    assert report.verdict == "identical"
    assert [(c.new, c.old) for c in report.tensors] == [("model/features:0", "features:0")]
    assert "model/bn/moving_mean" in report.tensors[0].restored_upstream
    if flag:
        assert ("training:0", "False (inference mode)") in [
            (f.new, f.origin) for f in report.inputs
        ]
    bad = corrupt(prefix, str(tmp_path / "bad" / "model.ckpt"), "model/bn/moving_mean")
    differing = verify_plan(plan, bad).tensors[0]
    assert (differing.verdict, differing.suspects) == ("differs", ("model/bn/moving_mean",))


CONSTANT_INPUT = """
    x = tf.constant(np.linspace(0, 1, 8, dtype=np.float32).reshape(2, 4), name="x")
    with scope({scope!r}):
        dense(dense(x, 8, "A"), {classes}, "B")
"""


def test_a_graph_without_placeholders_compares_what_its_constants_feed(tmp_path):
    old = "    import numpy as np\n" + CONSTANT_INPUT.format(scope=None, classes=3)
    new = "    import numpy as np\n" + CONSTANT_INPUT.format(scope=None, classes=5)
    plan, prefix = scenario(tmp_path, old, new)
    report = verify_plan(plan, prefix)
    assert report.verdict == "identical" and report.inputs == ()
    assert [(c.new, c.old) for c in report.tensors] == [("A/Relu:0", "A/Relu:0")]


PIPELINE = """
    import numpy as np
    rows = np.linspace(0, 1, 32, dtype=np.float32).reshape(8, 4)
    batch = v1.data.make_one_shot_iterator(tf.data.Dataset.from_tensor_slices(rows).batch(2))
    labels = v1.placeholder(tf.int32, [None], name="labels")
    with v1.control_dependencies([tf.debugging.assert_non_negative(labels)]):
        x = tf.identity(batch.get_next())
    with scope({scope!r}):
        dense(dense(x, 8, "A"), {classes}, "B")
"""


def test_an_input_pipeline_is_fed_like_a_placeholder(tmp_path):
    """The iterator's output is fed (no dataset runs); a placeholder read only through a
    control dependency is fed too."""
    old = PIPELINE.format(scope=None, classes=3)
    new = PIPELINE.format(scope=None, classes=5)
    plan, prefix = scenario(tmp_path, old, new)
    report = verify_plan(plan, prefix)
    assert report.verdict == "identical"
    assert [(c.new, c.old) for c in report.tensors] == [("A/Relu:0", "A/Relu:0")]
    fed = [(f.new, f.dtype, f.shape) for f in report.inputs]
    assert fed == [("labels:0", "int32", (2,)), ("IteratorGetNext:0", "float32", (2, 4))]


def test_a_graph_fed_only_random_numbers_has_nothing_to_compare(tmp_path):
    body = '    dense(tf.random.uniform([2, 4], name="noise"), 3, "A")\n'
    plan, prefix = scenario(tmp_path, body, body)
    with pytest.raises(BadInput, match="nothing to compare: the plan restores 2 variable"):
        verify_plan(plan, prefix)


def test_a_plan_made_with_names_only_verifies(tmp_path):
    old = "    embedder(None, 5, False, 1)\n"
    new = "    embedder(None, 7, False, 1)\n"
    plan, prefix = scenario(tmp_path, old, new, options=Options(structural=False))
    assert verify_plan(plan, prefix).tensors[0].new == "text/features:0"


EMBEDDER = ("    embedder(None, 5, False, 1)\n", "    embedder(None, 7, False, 1)\n")


def test_tensor_picks_what_is_compared(tmp_path):
    """hidden/Relu and features are one value (features is its identity): bit for bit."""
    plan, prefix = scenario(tmp_path, *EMBEDDER)
    (check,) = verify_plan(plan, prefix, tensors=["text/hidden/Relu"]).tensors
    assert (check.new, check.old, check.compared) == (
        "text/hidden/Relu:0",
        "text/hidden/Relu:0",
        "bits",
    )
    (check,) = verify_plan(plan, prefix, tensors=["text/features:0=text/hidden/Relu:0"]).tensors
    assert (check.verdict, check.compared) == ("identical", "bits")


def test_a_tensor_of_another_computation_is_compared_within_tolerance(tmp_path):
    """hidden/add against the old hidden/Relu differs where add < 0: only a loose atol passes."""
    plan, prefix = scenario(tmp_path, *EMBEDDER)
    pair = ["text/hidden/add=text/hidden/Relu"]
    (strict,) = verify_plan(plan, prefix, tensors=pair).tensors
    assert (strict.verdict, strict.compared) == ("differs", "atol=1e-06 rtol=1e-05")
    (loose,) = verify_plan(plan, prefix, tensors=pair, atol=10.0).tensors
    assert (loose.verdict, loose.compared) == ("within_tolerance", "atol=10 rtol=0")
    assert 0 < loose.max_abs_diff <= 10


def test_an_input_of_unknown_rank_needs_a_feed(tmp_path):
    body = (
        '    x = v1.placeholder(tf.float32, None, name="x")\n'
        '    dense(tf.reshape(x, [-1, 4]), 3, "A")\n'
    )
    plan, prefix = scenario(tmp_path, body, body)
    with pytest.raises(BadInput, match="'x:0' has an unknown rank: give its value with --feed"):
        verify_plan(plan, prefix)
    array = tmp_path / "x.npy"
    np.save(array, np.ones((2, 4), np.float32))
    assert verify_plan(plan, prefix, feeds={"x": array}).verdict == "identical"


def test_a_graph_that_fails_on_the_generated_inputs_asks_for_a_feed(tmp_path):
    body = (
        '    x = v1.placeholder(tf.float32, [None, None], name="x")\n'
        '    dense(tf.reshape(x, [-1, 7]), 3, "A")\n'
    )
    plan, prefix = scenario(tmp_path, body, body)
    with pytest.raises(BadInput, match="fails on the inputs verify gives it.*--feed NAME="):
        verify_plan(plan, prefix)


def test_bad_feeds_and_tensors_name_what_is_wrong(tmp_path):
    plan, prefix = scenario(tmp_path, EMBEDDER[0], "    embedder('model', 7, False, 1)\n")
    text = tmp_path / "notes.npy"
    text.write_text("not an array")
    floats = tmp_path / "floats.npy"
    np.save(floats, np.zeros((2, 5), np.float32))
    cases = [
        ({"feeds": {"ids": floats}}, "floats.npy: holds float32, but input 'ids:0' takes int32"),
        ({"feeds": {"ids": tmp_path / "missing.npy"}}, "missing.npy: no such file"),
        ({"feeds": {"ids": text}}, "notes.npy: not a .npy array for --feed ids (save one"),
        ({"feeds": {"model/text/features": text}}, "--feed: model/text/features: not an input"),
        ({"feeds": {"nope": text}}, "--feed: nope: no op 'nope' in the new graph"),
        ({"tensors": ["nothing"]}, "--tensor: nothing: no op 'nothing' in the new graph"),
        (
            {"tensors": ["model/text/features=gone"]},
            "--tensor: gone: no op 'gone' in the old graph",
        ),
        ({"tensors": ["model/text/head/add:3"]}, "'model/text/head/add' has 1 output"),
        (
            {"tensors": ["model/text/head/add"]},
            "the old graph computes no tensor equal to it and has",
        ),
        ({"atol": float("nan")}, "--atol: nan: give a number of 0 or more"),
        ({"rtol": -1.0}, "--rtol: -1.0: give a number of 0 or more"),
    ]
    for arguments, message in cases:
        with pytest.raises(BadInput) as error:
            verify_plan(plan, prefix, **arguments)
        assert message in str(error.value), (arguments, str(error.value))


def test_a_tensor_that_would_train_is_refused(tmp_path):
    """Fetching an optimizer's update would change the variables: never a tensor to verify."""
    body = (
        '    x = v1.placeholder(tf.float32, [None, 4], name="x")\n'
        '    adam(tf.reduce_mean(tf.square(dense(dense(x, 8, "A"), 3, "B"))))\n'
    )
    plan, prefix = scenario(tmp_path, body, body)
    update = "Adam/update_A/w/ApplyAdam"
    with pytest.raises(BadInput, match=f"--tensor: {update}: computing it runs .* updates a var"):
        verify_plan(plan, prefix, tensors=[update])
    assert verify_plan(plan, prefix).verdict == "identical"


def test_a_changed_new_graph_is_refused(tmp_path):
    plan, prefix = scenario(tmp_path, *EMBEDDER)
    graph = Path(plan.provenance.new_graph.path)
    graph.write_text(graph.read_text() + "\n# edited\n")
    with pytest.raises(BadInput, match="changed since the plan was made"):
        verify_plan(plan, prefix)


def test_verify_outputs_publishes_nothing_when_a_tensor_differs(tmp_path):
    """The staged checkpoint is corrupted (by Saver) before the check runs: apply refuses."""
    plan, _ = scenario(tmp_path, *EMBEDDER)
    target = tmp_path / "verified" / "model.ckpt"
    check = OutputsCheck(plan, published=str(target))

    def corrupt_then_check(staging_prefix: str) -> None:
        corrupt(staging_prefix, staging_prefix, "text/embedding")
        check(staging_prefix)

    with pytest.raises(OutputsDiffer) as error:
        apply_plan(plan, str(target), after_write=corrupt_then_check)
    assert not target.parent.exists()
    assert error.value.report.checkpoint == str(target)
    assert str(error.value).startswith("text/features:0 differs from the old graph's text/")
    assert str(error.value).endswith("not holding its source's value: text/embedding")


# --- the matcher corpus: plans made by the matcher, verified ------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from corpus import harness

    return harness.Workspace(tmp_path_factory.mktemp("verify_corpus"))


CORPUS_CASES = {
    # case: the new tensors compared (each against the old tensor of the same value)
    "inception_v1_renamed": ["GoogLeNet/Logits/Predictions/Reshape_1:0"],  # tf_slim, renamed
    # moved under model/, a block inserted after enc1: enc2 and the head are fed what they read
    # before (a cut at enc_extra's output), so the logits compare too
    "inserted_moved": ["model/enc1/Relu:0", "model/logits/add:0"],
    "towers_one_new_head": ["tower_1/Mean:0", "tower_0/logits/add:0"],  # one tower re-headed
    "resnet50_new_head": ["resnet_v1_50/pool5:0"],  # tf_slim, head swap: the features before it
}


@pytest.mark.filterwarnings("ignore:`layer.apply` is deprecated:UserWarning")
@pytest.mark.parametrize("name", list(CORPUS_CASES))
def test_corpus_case_verifies(corpus, name, tmp_path):
    from corpus import harness

    corpus.outcome(harness.case_by_name(name))
    plan = corpus.plans[name]
    report = verify_plan(plan, apply_plan(plan, str(tmp_path / "model.ckpt")))
    assert report.verdict == "identical", [(c.new, c.verdict) for c in report.tensors]
    assert [check.new for check in report.tensors] == CORPUS_CASES[name]
    assert {check.compared for check in report.tensors} == {"bits"}
