"""make_plan on small real graphs: what is restored, what is initialized, and why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from graphs import adam, dense, inputs, save_checkpoint, tf, v1, write_new_graph

from graphdiff.errors import BadInput, PolicyViolation
from graphdiff.plan import INITIALIZE, RESTORE, Options, from_json, to_json
from graphdiff.planning import make_plan
from graphdiff.schema import schema_errors


def two_layers(use_resource=False, optimizer=False):
    def build():
        x = inputs()
        out = dense(dense(x, 8, "A", use_resource), 3, "B", use_resource)
        if optimizer:
            adam(tf.reduce_mean(out))

    return build


@pytest.fixture(scope="module")
def old_plain(tmp_path_factory):
    return save_checkpoint(tmp_path_factory.mktemp("plain"), two_layers())


@pytest.fixture(scope="module")
def old_adam(tmp_path_factory):
    return save_checkpoint(tmp_path_factory.mktemp("adam"), two_layers(optimizer=True))


def plan_for(old_prefix, tmp_path, source, **options):
    new_graph = write_new_graph(tmp_path, source)
    return make_plan(f"{old_prefix}.meta", new_graph, options=Options(**options))


def sources(plan):
    return {e.name: e.source for e in plan.variables}


def test_same_names_are_restored_and_new_branch_initialized(old_plain, tmp_path):
    plan = plan_for(
        old_plain,
        tmp_path,
        """
        x = inputs()
        h = dense(x, 8, "A")
        dense(h, 3, "B")
        dense(h, 2, "C")
    """,
    )
    assert sources(plan) == {
        "A/w": "A/w",
        "A/b": "A/b",
        "B/w": "B/w",
        "B/b": "B/b",
        "C/w": None,
        "C/b": None,
    }
    assert plan.entry("C/w").reason.startswith("new:")
    assert plan.entry("A/w").match.method == "name"
    assert not schema_errors(to_json(plan))


def test_same_name_other_shape_is_initialized_with_both_shapes_in_the_reason(old_plain, tmp_path):
    plan = plan_for(
        old_plain,
        tmp_path,
        """
        x = inputs()
        dense(dense(x, 8, "A"), 5, "B")
    """,
    )
    entry = plan.entry("B/w")
    assert entry.action == INITIALIZE
    assert "[8, 5] in the new graph, [8, 3] in the checkpoint" in entry.reason
    unused = {u.key: u.reason for u in plan.unused}
    assert "B/w" in unused and "B/b" in unused


def test_dtype_mismatch_is_initialized(old_plain, tmp_path):
    plan = plan_for(
        old_plain,
        tmp_path,
        """
        x = inputs()
        h = dense(x, 8, "A")
        with v1.variable_scope("B"):
            v1.get_variable("w", [8, 3], dtype=tf.float64)
    """,
    )
    assert plan.entry("B/w").action == INITIALIZE
    assert "dtype float64 in the new graph, float32 in the checkpoint" in plan.entry("B/w").reason


def test_undefined_get_variable_shape_comes_from_the_checkpoint(old_plain, tmp_path):
    plan = plan_for(
        old_plain,
        tmp_path,
        """
        x = inputs()
        h = dense(x, 8, "A")
        with v1.variable_scope("B"):
            w = v1.get_variable("w", [8, 3])
            b = v1.get_variable("b", initializer=v1.zeros_initializer())
            tf.matmul(h, w) + b
    """,
    )
    entry = plan.entry("B/b")
    assert entry.action == RESTORE and entry.shape == (3,)
    assert entry.shape_resolution.source == "B/b"
    assert entry.shape_resolution.cause == "undefined_in_get_variable"


def test_unknown_static_shape_variable_takes_the_checkpoint_shape(old_plain, tmp_path):
    plan = plan_for(
        old_plain,
        tmp_path,
        """
        x = inputs()
        dense(x, 8, "A")
        with v1.variable_scope("B"):
            start = v1.placeholder_with_default(tf.zeros([8, 3]), shape=None)
            v1.Variable(start, name="w", validate_shape=False, use_resource=False)
    """,
    )
    entry = plan.entry("B/w")
    assert entry.action == RESTORE and entry.shape == (8, 3)
    assert entry.shape_resolution.cause == "unknown_static_shape"


def test_undefined_shape_without_counterpart_is_initialized_without_shape(old_plain, tmp_path):
    plan = plan_for(
        old_plain,
        tmp_path,
        """
        x = inputs()
        dense(dense(x, 8, "A"), 3, "B")
        with v1.variable_scope("Z"):
            v1.get_variable("z", initializer=v1.zeros_initializer())
    """,
    )
    entry = plan.entry("Z/z")
    assert entry.action == INITIALIZE and entry.shape is None
    assert "nothing in the checkpoint gives it" in entry.reason


def test_map_prefix_renames_and_slots_follow(old_adam, tmp_path):
    plan = plan_for(
        old_adam,
        tmp_path,
        """
        x = inputs()
        out = dense(dense(x, 8, "enc"), 3, "B")
        adam(tf.reduce_mean(out))
    """,
        maps=("A=enc",),
        structural=False,
    )
    assert plan.entry("enc/w").source == "A/w"
    assert plan.entry("enc/w").match.method == "user_rule"
    assert plan.entry("enc/w/Adam").source == "A/w/Adam"
    assert plan.entry("enc/b/Adam_1").source == "A/b/Adam_1"
    assert plan.entry("global_step").source == "global_step"
    rule = next(r for r in plan.rules if r.origin == "user")
    assert (rule.kind, rule.old, rule.new, rule.support) == ("prefix", "A", "enc", 2)


def test_map_regex_can_feed_two_towers(old_plain, tmp_path):
    plan = plan_for(
        old_plain,
        tmp_path,
        """
        x = inputs()
        for i in range(2):
            with v1.variable_scope(f"tower_{i}"):
                dense(dense(x, 8, "A"), 3, "B")
    """,
        maps=("^(.*)$=tower_0/\\1", "^(.*)$=tower_1/\\1"),
        structural=False,
    )
    assert plan.entry("tower_0/A/w").source == "A/w" == plan.entry("tower_1/A/w").source
    assert all(e.action == RESTORE for e in plan.variables)


@pytest.mark.parametrize(
    "option, value, fault",
    [
        ("maps", ("Typo=enc",), "'Typo=enc' matches no checkpoint key"),
        ("maps", ("A=nowhere",), "none of the names it makes"),
        ("excludes", ("fc88",), "'fc88' matches no variable of the new graph"),
        ("requires", ("^Q/",), "'^Q/' matches no variable of the new graph"),
        ("maps", ("A(=x",), "not a valid regular expression"),
    ],
)
def test_a_user_rule_that_matches_nothing_is_an_error_naming_it(
    old_plain, tmp_path, option, value, fault
):
    with pytest.raises(BadInput, match=fault.replace("(", r"\(").replace("^", r"\^")):
        plan_for(
            old_plain,
            tmp_path,
            """
            x = inputs()
            dense(dense(x, 8, "enc"), 3, "B")
        """,
            **{option: value},
        )


def test_exclude_initializes_what_would_match(old_plain, tmp_path):
    plan = plan_for(
        old_plain,
        tmp_path,
        """
        x = inputs()
        dense(dense(x, 8, "A"), 3, "B")
    """,
        excludes=("^B/",),
    )
    assert plan.entry("B/w").action == INITIALIZE
    assert "excluded by --exclude '^B/'" in plan.entry("B/w").reason
    assert plan.entry("A/w").action == RESTORE


def test_require_lists_every_offender_and_carries_the_plan(old_plain, tmp_path):
    with pytest.raises(PolicyViolation) as failure:
        plan_for(
            old_plain,
            tmp_path,
            """
            x = inputs()
            h = dense(x, 8, "A")
            dense(h, 2, "C")
        """,
            requires=("^(A|C)/",),
        )
    assert failure.value.offenders == ["C/w", "C/b"]
    assert failure.value.plan.entry("A/w").action == RESTORE


def test_reset_optimizer_initializes_slots_and_step(old_adam, tmp_path):
    plan = plan_for(
        old_adam,
        tmp_path,
        """
        x = inputs()
        out = dense(dense(x, 8, "A"), 3, "B")
        adam(tf.reduce_mean(out))
    """,
        reset_optimizer=True,
    )
    by_role = {}
    for entry in plan.variables:
        by_role.setdefault(entry.role, set()).add(entry.action)
    assert by_role == {
        "model": {RESTORE},
        "slot": {INITIALIZE},
        "global_step": {INITIALIZE},
        "optimizer": {INITIALIZE},
    }
    assert all("--reset-optimizer" in u.reason for u in plan.unused)


def test_slots_follow_a_structural_rename(old_adam, tmp_path):
    plan = plan_for(
        old_adam,
        tmp_path,
        """
        x = inputs()
        out = dense(dense(x, 8, "encoder"), 3, "B")
        adam(tf.reduce_mean(out))
    """,
    )
    assert plan.entry("encoder/w").source == "A/w"
    assert plan.entry("encoder/w").match.method == "structure"
    assert plan.entry("encoder/w/Adam").source == "A/w/Adam"
    assert plan.entry("encoder/b/Adam_1").source == "A/b/Adam_1"
    inferred = [r for r in plan.rules if r.origin == "inferred"]
    assert [(r.kind, r.old, r.new) for r in inferred] == [("prefix", "A", "encoder")]
    assert plan.entry("encoder/w").match.rule == inferred[0].id
    assert plan.entry("encoder/w/Adam").match.rule == inferred[0].id


def test_reference_checkpoint_into_resource_variables_under_a_new_scope(old_plain, tmp_path):
    plan = plan_for(
        old_plain,
        tmp_path,
        """
        x = inputs()
        with v1.variable_scope("model"):
            dense(dense(x, 8, "A", use_resource=True), 3, "B", use_resource=True)
    """,
    )
    assert sources(plan) == {
        "model/A/w": "A/w",
        "model/A/b": "A/b",
        "model/B/w": "B/w",
        "model/B/b": "B/b",
    }
    assert plan.scopes[0].status == "shared" and plan.scopes[0].new == "model"


def test_inserted_layer_with_the_same_shapes_is_initialized(tmp_path):
    def build():
        x = inputs(8)
        dense(dense(dense(x, 8, "l1"), 8, "l2"), 3, "out")

    old = save_checkpoint(tmp_path / "old", build)
    plan = plan_for(
        old,
        tmp_path,
        """
        x = inputs(8)
        dense(dense(dense(dense(x, 8, "l1"), 8, "l2"), 8, "extra"), 3, "out")
    """,
    )
    assert plan.entry("extra/w").action == INITIALIZE
    assert {e.name: e.source for e in plan.restored} == {
        "l1/w": "l1/w",
        "l1/b": "l1/b",
        "l2/w": "l2/w",
        "l2/b": "l2/b",
        "out/w": "out/w",
        "out/b": "out/b",
    }


def test_parallel_head_with_the_same_shape_is_not_restored_from_the_kept_head(old_plain, tmp_path):
    plan = plan_for(
        old_plain,
        tmp_path,
        """
        x = inputs()
        h = dense(x, 8, "A")
        dense(h, 3, "B")
        dense(h, 3, "C")
    """,
    )
    assert plan.entry("C/w").action == INITIALIZE and plan.entry("C/b").action == INITIALIZE


def test_plan_round_trips_through_json(old_adam, tmp_path):
    plan = plan_for(
        old_adam,
        tmp_path,
        """
        x = inputs()
        out = dense(dense(x, 8, "A"), 3, "B")
        adam(tf.reduce_mean(out))
    """,
    )
    assert from_json(to_json(plan)) == plan


def test_plan_from_the_meta_alone_records_no_index(old_plain, tmp_path):
    meta_only = tmp_path / "meta_only"
    meta_only.mkdir()
    (meta_only / "model.ckpt.meta").write_bytes(Path(f"{old_plain}.meta").read_bytes())
    plan = plan_for(
        meta_only / "model.ckpt",
        tmp_path,
        """
        x = inputs()
        dense(dense(x, 8, "A"), 3, "B")
    """,
    )
    assert plan.provenance.checkpoint_index is None
    assert all(e.action == RESTORE for e in plan.variables)


def test_new_graph_may_be_a_meta_file(old_plain, tmp_path):
    def build():
        x = inputs()
        h = dense(x, 8, "A")
        dense(h, 2, "C")

    new = save_checkpoint(tmp_path / "new", build)
    plan = make_plan(f"{old_plain}.meta", f"{new}.meta")
    assert plan.provenance.new_graph_kind == "meta"
    assert sources(plan) == {"A/w": "A/w", "A/b": "A/b", "C/w": None, "C/b": None}


def test_while_loop_graphs_plan(tmp_path):
    def build():
        v1.disable_control_flow_v2()
        try:
            x = inputs()
            h = dense(x, 8, "A")
            _, total = tf.while_loop(lambda i, s: i < 3, lambda i, s: (i + 1, s + h), [0, h])
            dense(total, 3, "B")
        finally:
            v1.enable_control_flow_v2()

    old = save_checkpoint(tmp_path / "old", build)
    import networkx as nx

    from graphdiff.graph_model import graph_to_dag
    from graphdiff.loading import read_meta_graph

    dag = graph_to_dag(read_meta_graph(f"{old}.meta").graph_def)
    assert any(a["op"] == "NextIteration" for _, a in dag.nodes(data=True))
    assert nx.is_directed_acyclic_graph(dag)
    plan = plan_for(
        old,
        tmp_path,
        """
        x = inputs()
        dense(dense(x, 8, "A"), 3, "B")
    """,
    )
    assert all(e.action == RESTORE for e in plan.variables)


def test_control_and_data_edges_are_told_apart(old_plain):
    from graphdiff.graph_model import control_edges, graph_to_dag, variables_of
    from graphdiff.loading import read_meta_graph

    dag = graph_to_dag(read_meta_graph(f"{old_plain}.meta").graph_def)
    control = set(control_edges(dag))
    assert control, "the Saver's restore_all and the init op have control inputs"
    assert not control & set(dag.edges), "a control dependency is not a data edge"
    assert ("A/w/read", "A/MatMul") in dag.edges
    assert dag.nodes["A/MatMul"]["inputs"] == (("Input", 0), ("A/w/read", 0))
    found = variables_of(dag)
    assert found["A/w"].shape == (4, 8) and found["A/w"].op == "VariableV2"
    assert np.prod(found["B/w"].shape) == 24


def test_moving_average_shadows_follow_their_variable_and_moving_means_do_not(tmp_path):
    from graphdiff.graph_model import graph_to_dag, variables_of
    from graphdiff.loading import read_meta_graph
    from graphdiff.roles import roles_of

    def build():
        x = inputs()
        h = dense(x, 8, "A")
        with v1.variable_scope("bn"):
            mean = v1.get_variable("moving_mean", [8], trainable=False, use_resource=False)
            v1.assign_sub(mean, (mean - tf.reduce_mean(h, 0)) * 0.1)
        v1.train.ExponentialMovingAverage(0.99).apply([v for v in v1.trainable_variables()])

    old = save_checkpoint(tmp_path / "ema", build)
    dag = graph_to_dag(read_meta_graph(f"{old}.meta").graph_def)
    roles = roles_of(dag, variables_of(dag))
    shadow = roles["A/w/ExponentialMovingAverage"]
    assert (shadow.kind, shadow.primary, shadow.slot_name) == (
        "slot",
        "A/w",
        "ExponentialMovingAverage",
    )
    assert roles["bn/moving_mean"].kind == "model"


def test_a_shape_proposed_through_a_map_names_the_key_it_came_from(old_plain, tmp_path):
    plan = plan_for(
        old_plain,
        tmp_path,
        """
        x = inputs()
        h = dense(x, 8, "A")
        with v1.variable_scope("head"):
            w = v1.get_variable("w", [8, 3])
            b = v1.get_variable("b", initializer=v1.zeros_initializer())
            tf.matmul(h, w) + b
    """,
        maps=("B=head",),
        excludes=("^head/b$",),
    )
    entry = plan.entry("head/b")
    assert entry.action == INITIALIZE and entry.shape == (3,)
    assert entry.shape_resolution.source == "B/b"
