"""Carry out a plan: write a checkpoint for the new graph, or restore into a live session.

`apply_plan(plan)` checks the fingerprints, the plan's entries against the checkpoint's index
and the new graph, and only then writes — without a session for the restored tensors, whose
bytes are carried from the source bundle as they are (transfer.py), and with as few session
runs as memory allows for the initialized ones (initial_values.py) — a tensor bundle
(bundle/), the `.meta` of the new graph with its own Saver and device placement, and the
`checkpoint` state file, all staged and then published at once (checkpoint_files.py).
`restore_into_session(plan, session)` fills a training script's own session instead.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np

from graphdiff import storage
from graphdiff.apply.checkpoint_files import (
    EXISTS,
    checked_prefix,
    existing_files,
    write_atomically,
)
from graphdiff.apply.fingerprints import check_fingerprints, with_inputs_at
from graphdiff.apply.initial_values import (
    assign_by_feeding,
    clear_devices,
    initial_feeds,
    initial_values,
    initialize_in_order,
    parts_of,
)
from graphdiff.apply.initializer_deps import initializer_needs
from graphdiff.apply.old_values import OldValues
from graphdiff.apply.progress import Progress, progress_wanted
from graphdiff.apply.targets import (
    Target,
    check_coverage,
    check_entries,
    targets_of,
    text,
)
from graphdiff.apply.transfer import carry_entry, write_part, write_parts
from graphdiff.apply.written import check_written
from graphdiff.bundle.writer import BundleWriter
from graphdiff.dtypes import itemsize
from graphdiff.errors import BadInput
from graphdiff.formats.base import MODEL_KINDS
from graphdiff.new_graph import build_new_graph
from graphdiff.overwrites import refuse_outputs_over_inputs
from graphdiff.plan import Plan
from graphdiff.resolved import planned_shapes
from graphdiff.tf_import import tensorflow
from graphdiff.transforms import grows, restored_value

__all__ = ["apply_plan", "check_fingerprints", "restore_into_session"]


def apply_plan(
    plan: Plan,
    output_prefix: str | None = None,
    force: bool = False,
    *,
    plan_path: str | os.PathLike | None = None,
    shards: int | None = None,
    verify: bool = False,
    quiet: bool = True,
    checkpoint: str | None = None,
    new_graph: str | None = None,
    messages: list[str] | None = None,
    after_write: Callable[[str], None] | None = None,
) -> str:
    """Write a complete checkpoint for the plan's new graph; return its prefix.

    The prefix is `output_prefix`, else `plan.output_prefix`; `shards` data files (default: as
    many as the source has). Raises BadInput (naming `plan_path` for faults of the plan) before
    anything is written when a fingerprint differs, an entry does not fit the graph or the
    checkpoint, or a checkpoint exists at the prefix and not `force`. `verify` re-reads what was
    written before publishing it (VerificationFailed if it differs). `after_write(staging_prefix)`
    runs once everything is written, before publishing; if it raises, nothing is published
    (`apply --verify-outputs` runs graphdiff verify there). Progress goes to standard error
    unless `quiet`. Memory follows the largest tensor, not the model. `checkpoint` and
    `new_graph` say where the plan's inputs are now, if they moved (their fingerprints must
    still match); what the new graph's code says while it is built is appended to `messages`.

    >>> apply_plan(plan, "new/model.ckpt")  # doctest: +SKIP
    '/abs/new/model.ckpt'
    """
    where = str(plan_path) if plan_path is not None else "<plan>"
    plan = with_inputs_at(plan, checkpoint, new_graph)
    if plan.provenance.new_graph_kind in MODEL_KINDS:
        from graphdiff.formats.model_writer import apply_to_model

        output = plan.output_prefix if output_prefix is None else output_prefix
        return apply_to_model(plan, output, force, where, verify, messages, after_write)
    prefix = checked_prefix(plan.output_prefix if output_prefix is None else output_prefix)
    for old in plan.provenance.old_sources:
        if storage.same_path(old.checkpoint_prefix, prefix):
            raise BadInput(prefix, f"is {_restored_from(old)}; write elsewhere")
    refuse_outputs_over_inputs(prefix, plan)
    if shards is not None and shards < 1:
        raise BadInput("--shards", f"{shards}: give 1 or more data files")
    check_fingerprints(plan)
    check_entries(plan.variables, where)
    if existing_files(prefix) and not force:
        raise BadInput(prefix, EXISTS)
    values = OldValues(plan)
    graph_file = plan.provenance.new_graph.path
    built = build_new_graph(graph_file, shape_for=planned_shapes(plan))
    if messages is not None:
        messages.extend(built.messages)
    targets = targets_of(built.graph, graph_file)
    check_coverage(plan.variables, targets, where, graph_file)
    values.check_sources(plan.restored, targets, where)
    computed = [e.name for e in plan.initialized] + [e.name for e in plan.restored if grows(e)]
    needs = initializer_needs(targets, computed, graph_file)
    meta_graph = _meta_graph(built.graph, targets)
    clear_devices(built.graph)  # the .meta keeps them; values are computed on this machine
    progress = Progress(_total_bytes(plan), len(plan.variables), progress_wanted(quiet))

    def write(staging_prefix: str) -> None:
        count = shards or values.num_shards(plan.restored)
        with BundleWriter(staging_prefix, count, progress.add_bytes) as writer:
            _write_tensors(writer, plan, values, targets, built.graph, needs, progress)
            writer.finish()
        storage.write_bytes(staging_prefix + ".meta", meta_graph.SerializeToString())
        if verify:
            check_written(staging_prefix, plan, values, targets)
        if after_write is not None:
            after_write(staging_prefix)

    try:
        write_atomically(prefix, write, force)
    finally:
        progress.close()
        values.close()
    return prefix


def _restored_from(old) -> str:
    if old.name is None:
        return "the checkpoint the plan restores from"
    return f"the checkpoint of source {old.name}, which the plan restores from"


def restore_into_session(
    plan: Plan,
    session,
    *,
    initialize_rest: bool = True,
    plan_path: str | os.PathLike | None = None,
    checkpoint: str | None = None,
) -> dict:
    """Restore the plan's restore entries into `session.graph`; initialize the rest if asked.

    Only the checkpoint's fingerprint is checked: the script built its graph itself (its
    partitioned variables may even have other parts than when planned). "The rest" is every
    variable of the graph that the plan does not restore, optimizer slots made after planning
    included. Raises BadInput when a restored variable is missing from the graph or its dtype
    or shape differs from its source tensor.

    >>> restore_into_session(plan, sess)  # doctest: +SKIP
    {'restored': ['A/w', 'A/b'], 'initialized': ['C/w']}
    """
    where = str(plan_path) if plan_path is not None else "<plan>"
    plan = with_inputs_at(plan, checkpoint)
    check_fingerprints(plan, new_graph=False)
    check_entries(plan.restored, where)
    targets = targets_of(session.graph, where, skip_uncollected=True)
    for entry in plan.restored:
        if entry.name not in targets:
            raise BadInput(
                where,
                f"{entry.name}: restored by the plan but not a variable of the session's graph",
            )
    values = OldValues(plan)
    values.check_sources(plan.restored, targets, where)
    restored = [entry.name for entry in plan.restored]
    assignments = [
        pair
        for entry in plan.restored
        for pair in parts_of(
            targets[entry.name],
            restored_value(values.of(entry), entry, _initial_value(session, targets[entry.name])),
        )
    ]
    values.close()
    assign_by_feeding(session, assignments, where)
    initialized = []
    if initialize_rest:
        done = set(restored)
        initialized = [name for name in targets if name not in done]
        needs = initializer_needs(targets, initialized, where)
        reads = {name: needs[name].reads for name in initialized}
        initialize_in_order(session, targets, reads, where, initial_feeds(assignments))
    return {"restored": restored, "initialized": initialized}


# --- writing --------------------------------------------------------------------------------


def _write_tensors(writer, plan, values: OldValues, targets, graph, needs, progress) -> None:
    grown = {}  # grow: the initializer's value, with the source's leading block copied in
    for entry in plan.restored:
        if grows(entry):
            grown[entry.name] = entry
            continue
        carry_entry(writer, values.of(entry), entry, targets[entry.name])
        progress.tensor_done()
    if not needs:
        return
    tf = tensorflow()
    entries = {entry.name: entry for entry in plan.restored}
    planned = {entry.name: entry.shape for entry in plan.initialized + tuple(grown.values())}
    where = plan.provenance.new_graph.path
    config = tf.compat.v1.ConfigProto(allow_soft_placement=True)
    with tf.compat.v1.Session(graph=graph, config=config) as session:
        computed = initial_values(
            session,
            targets,
            needs,
            lambda name: restored_value(values.of(entries[name]), entries[name]),
            where,
        )
        for target, index, value in computed:
            _check_value(planned[target.name], target, index, value, where)
            if target.name in grown:
                entry = grown[target.name]
                write_parts(writer, target, restored_value(values.of(entry), entry, value.copy))
            else:
                write_part(writer, target, target.parts[index][1], value)
            if index == len(target.parts) - 1:
                progress.tensor_done()


def _check_value(planned, target: Target, index: int, value: np.ndarray, where) -> None:
    """An initializer's value has the shape its variable (or part) was planned with."""
    extent = target.parts[index][1]
    expected = planned if extent is None else tuple(length for _, length in extent)
    if expected is not None and tuple(value.shape) != tuple(expected):
        raise BadInput(
            where,
            f"{target.name}: its initializer gives shape {text(value.shape)}, "
            f"the plan says {text(expected)}",
        )


def _initial_value(session, target: Target):
    """A function giving the target's initializer's value (what grow fills in around)."""

    def initial():
        if target.partitioned:
            raise BadInput(target.name, "--grow into a partitioned variable is not supported")
        return session.run(target.variables[0].initial_value)

    return initial


def _total_bytes(plan: Plan) -> int:
    return sum(math.prod(e.shape or ()) * itemsize(e.dtype) for e in plan.variables)


def _meta_graph(graph, targets: dict[str, Target]):
    """The new graph's MetaGraphDef with a Saver of its variables, devices as the graph has them."""
    tf = tensorflow()
    variables = [variable for target in targets.values() for variable in target.variables]
    with graph.as_default():
        saver = tf.compat.v1.train.Saver(
            var_list=variables, sharded=False, save_relative_paths=True, allow_empty=True
        )
        return saver.export_meta_graph()
