"""Carry out a plan: write a checkpoint for the new graph, or restore into a live session.

`apply_plan(plan)` checks the fingerprints, builds the new graph, checks every plan entry
against that graph and the checkpoint's index, and only then fills the variables — restored
ones with exactly the bytes of their source tensors, the others with their own initializers —
and saves a complete checkpoint (`.index`, `.data-*`, `.meta`, `checkpoint` state file)
atomically. `restore_into_session(plan, session)` does the filling in a training script's own
session. Values are loaded by feeding each variable's initializer, so no op is added per
variable and both ref (VariableV2) and resource (VarHandleOp) variables work.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from graphdiff.checkpoint_files import STATE_FILE, checked_prefix, existing_files, write_atomically
from graphdiff.errors import BadInput
from graphdiff.fingerprints import check_fingerprints, data_files
from graphdiff.graph_model import VARIABLE_OPS
from graphdiff.loading import TensorSpec, read_checkpoint_index
from graphdiff.new_graph import build_new_graph
from graphdiff.plan import ACTIONS, RESTORE, Plan, VariableEntry
from graphdiff.tf_import import tensorflow

__all__ = ["apply_plan", "check_fingerprints", "restore_into_session"]

EXISTS = "a checkpoint exists here; pass --force to replace it"


def apply_plan(
    plan: Plan,
    output_prefix: str | None = None,
    force: bool = False,
    *,
    plan_path: str | os.PathLike | None = None,
) -> str:
    """Write a complete checkpoint for the plan's new graph; return its prefix.

    The prefix is `output_prefix`, else `plan.output_prefix`. Raises BadInput (naming
    `plan_path` for faults of the plan) before anything is written when a fingerprint differs,
    an entry does not fit the graph or the checkpoint, or a checkpoint exists at the prefix
    and not `force`. An undefined `get_variable` shape takes the entry's `shape_resolution`
    (else its `shape`). Tensors are read one at a time; streaming them into the new bundle
    without a session (peak memory ~ the largest tensor) is future work.

    >>> apply_plan(plan, "new/model.ckpt")  # doctest: +SKIP
    '/abs/new/model.ckpt'
    """
    where = str(plan_path) if plan_path is not None else "<plan>"
    prefix = checked_prefix(output_prefix or plan.output_prefix)
    check_fingerprints(plan)
    _check_entries(plan.variables, where)
    _refuse_existing(prefix, force)
    graph_file = plan.provenance.new_graph.path
    built = build_new_graph(graph_file, shape_for=_shape_for(plan))
    variables = _variables_of(built.graph)
    _check_coverage(plan.variables, variables, built.undefined_shapes, where, graph_file)
    ckpt = plan.provenance.checkpoint_prefix
    _check_sources(plan.variables, variables, read_checkpoint_index(ckpt), where, ckpt)

    def write(staging_prefix: str) -> None:
        _fill_and_save(built.graph, plan, variables, staging_prefix)

    write_atomically(prefix, write)
    return prefix


def restore_into_session(
    plan: Plan,
    session,
    *,
    initialize_rest: bool = True,
    plan_path: str | os.PathLike | None = None,
) -> dict:
    """Restore the plan's restore entries into `session.graph`; initialize the rest if asked.

    Only the checkpoint's fingerprint is checked: the script built its graph itself. "The
    rest" is every variable of the graph that the plan does not restore (optimizer slots made
    after planning included). Raises BadInput when a restored variable is missing from the
    graph or its dtype or shape differs from its source tensor.

    >>> restore_into_session(plan, sess)  # doctest: +SKIP
    {'restored': ['A/w', 'A/b'], 'initialized': ['C/w']}
    """
    where = str(plan_path) if plan_path is not None else "<plan>"
    check_fingerprints(plan, new_graph=False)
    _check_entries(plan.restored, where)
    variables = _variables_of(session.graph)
    for entry in plan.restored:
        if variables.get(entry.name) is None:
            raise BadInput(
                where,
                f"{entry.name}: restored by the plan but not a variable of the session's graph",
            )
    ckpt = plan.provenance.checkpoint_prefix
    _check_sources(plan.restored, variables, read_checkpoint_index(ckpt), where, ckpt)
    restored = _restore(session, plan.restored, variables, ckpt)
    initialized = []
    if initialize_rest:
        done = set(restored)
        rest = [name for name, v in variables.items() if v is not None and name not in done]
        _initialize(session, [variables[name] for name in rest])
        initialized = rest
    return {"restored": restored, "initialized": initialized}


# --- checks, all before anything is written -------------------------------------------------


def _check_entries(entries: Iterable[VariableEntry], where: str) -> None:
    """What can be told from the plan alone: actions, sources, shapes left undefined."""
    seen = set()
    for entry in entries:
        if entry.name in seen:
            raise BadInput(where, f"{entry.name}: appears more than once in the plan")
        seen.add(entry.name)
        if entry.action not in ACTIONS:
            raise BadInput(where, f"{entry.name}: unknown action {entry.action!r}")
        if entry.action == RESTORE and not entry.source:
            raise BadInput(where, f"{entry.name}: action restore without a source key")
        if entry.action != RESTORE and entry.shape is None and entry.shape_resolution is None:
            raise BadInput(where, _undefined(entry.name))


def _undefined(name: str, restored: bool = False) -> str:
    if restored:
        return f"{name}: its shape was left undefined in the new graph and the plan gives none"
    return (
        f"{name}: its shape was left undefined in the new graph and nothing in the checkpoint "
        "gives it; give the shape in the new graph's get_variable call"
    )


def _check_coverage(entries, variables, undefined_shapes, where: str, graph_file: str) -> None:
    """Every graph variable has exactly one entry, and every entry a variable of the graph."""
    actions = {entry.name: entry.action for entry in entries}
    for name, variable in variables.items():
        if name not in actions:
            raise BadInput(
                where,
                f"{name}: a variable of the new graph {graph_file} has no "
                "entry in the plan; make the plan again",
            )
        if variable is None:
            raise BadInput(
                graph_file,
                f"{name}: a variable in no graph collection; graphdiff "
                "cannot fill it (make it with get_variable or tf.Variable)",
            )
        if getattr(variable, "_save_slice_info", None) is not None:
            raise BadInput(graph_file, f"{name}: partitioned variables are not supported yet")
        if name in undefined_shapes and undefined_shapes[name] is None:
            raise BadInput(where, _undefined(name, restored=actions[name] == RESTORE))
    for entry in entries:
        if entry.name not in variables:
            raise BadInput(
                where, f"{entry.name}: in the plan but not a variable of the new graph {graph_file}"
            )
        _check_planned_spec(entry, variables[entry.name], where)


def _check_planned_spec(entry: VariableEntry, variable, where: str) -> None:
    dtype, shape = _dtype_of(variable), _shape_of(variable)
    if entry.dtype != dtype:
        raise BadInput(
            where,
            f"{entry.name}: dtype {entry.dtype} in the plan, {dtype} in the "
            "new graph; make the plan again",
        )
    if entry.shape is not None and shape is not None and tuple(entry.shape) != shape:
        raise BadInput(
            where,
            f"{entry.name}: shape {_text(entry.shape)} in the plan, "
            f"{_text(shape)} in the new graph; make the plan again",
        )


def _check_sources(entries, variables, specs: dict[str, TensorSpec], where, ckpt) -> None:
    """Each restore entry's source key is in the checkpoint with the variable's dtype and shape."""
    for entry in entries:
        if entry.action != RESTORE:
            continue
        spec = specs.get(entry.source)
        if spec is None:
            raise BadInput(
                where, f"{entry.name}: source key {entry.source!r} is not in checkpoint {ckpt}"
            )
        variable = variables[entry.name]
        dtype, shape = _dtype_of(variable), _shape_of(variable)
        if dtype != spec.dtype:
            raise BadInput(
                where,
                f"{entry.name}: dtype {dtype} in the graph, {spec.dtype} in "
                f"checkpoint key {entry.source!r} of {ckpt}",
            )
        if shape != tuple(spec.shape):
            raise BadInput(
                where,
                f"{entry.name}: shape {_text(shape)} in the graph, "
                f"{_text(spec.shape)} in checkpoint key {entry.source!r} of {ckpt}",
            )


def _refuse_existing(prefix: str, force: bool) -> None:
    if existing_files(prefix) and not force:
        raise BadInput(prefix, EXISTS)


# --- the graph's variables ---------------------------------------------------------------------


def _variables_of(graph) -> dict:
    """Variable op name -> its Python Variable (None when no collection holds one), graph order."""
    tf = tensorflow()
    objects = {}
    for key in graph.get_all_collection_keys():
        for item in graph.get_collection(key):
            if isinstance(item, tf.Variable):
                objects.setdefault(item.op.name, item)
    return {
        op.name: objects.get(op.name) for op in graph.get_operations() if op.type in VARIABLE_OPS
    }


def _dtype_of(variable) -> str:
    return variable.dtype.base_dtype.name


def _shape_of(variable) -> tuple[int | None, ...] | None:
    shape = variable.shape
    return None if shape.rank is None else tuple(shape.as_list())


def _text(shape) -> str:
    return "<unknown>" if shape is None else str(list(shape))


def _shape_for(plan: Plan) -> Callable[[str], tuple[int, ...] | None]:
    shapes = {}
    for entry in plan.variables:
        if entry.shape_resolution is not None:
            shapes[entry.name] = tuple(entry.shape_resolution.shape)
        elif entry.shape is not None:
            shapes[entry.name] = tuple(entry.shape)
    return shapes.get


# --- filling the variables ---------------------------------------------------------------------


def _restore(session, entries, variables, ckpt: str) -> list[str]:
    """Load each source tensor once (read one at a time) into every variable restored from it."""
    tf = tensorflow()
    targets: dict[str, list[str]] = {}
    for entry in entries:
        targets.setdefault(entry.source, []).append(entry.name)
    reader = tf.compat.v1.train.NewCheckpointReader(ckpt)
    for key, names in targets.items():
        value = _read_tensor(reader, ckpt, key)
        for name in names:
            _load(session, variables[name], value)
        del value
    return [entry.name for entry in entries]


def _read_tensor(reader, ckpt: str, key: str):
    """One tensor's value; a damaged data file (bad checksum, truncated) is a BadInput."""
    try:
        return reader.get_tensor(key)
    except Exception as error:  # OpError on a bad checksum, IndexError when truncated
        shards = data_files(ckpt)
        where = shards[0] if len(shards) == 1 else f"{ckpt}.data-*"
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise BadInput(where, f"tensor {key!r} cannot be read: {message}") from None


def _load(session, variable, value) -> None:
    """Set `variable` to `value` by feeding its initializer's value input: no new op."""
    initializer = variable.initializer
    session.run(initializer, feed_dict={initializer.inputs[1]: value})


def _initialize(session, variables) -> None:
    """Run initializers one by one in graph order, so a dependency is set before its user."""
    for variable in variables:
        session.run(variable.initializer)


def _fill_and_save(graph, plan: Plan, variables: dict, staging_prefix: str) -> None:
    tf = tensorflow()
    with graph.as_default():
        saver = tf.compat.v1.train.Saver(
            var_list=dict(variables), sharded=False, save_relative_paths=True
        )
    config = tf.compat.v1.ConfigProto(allow_soft_placement=True)
    with tf.compat.v1.Session(graph=graph, config=config) as session:
        _restore(session, plan.restored, variables, plan.provenance.checkpoint_prefix)
        initialized = {entry.name for entry in plan.initialized}
        _initialize(session, [v for name, v in variables.items() if name in initialized])
        saver.save(session, staging_prefix, write_meta_graph=True, write_state=False)
    _write_state_file(Path(staging_prefix))


def _write_state_file(staging_prefix: Path) -> None:
    """The `checkpoint` state file, pointing at the new checkpoint by a relative path."""
    from google.protobuf import text_format

    tf = tensorflow()
    name = staging_prefix.name
    state = tf.compat.v1.train.generate_checkpoint_state_proto(
        str(staging_prefix.parent), name, all_model_checkpoint_paths=[name]
    )
    (staging_prefix.parent / STATE_FILE).write_text(text_format.MessageToString(state))
