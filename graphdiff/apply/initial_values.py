"""The values of the variables a plan initializes, computed in as few session runs as memory allows.

Most initializers read no variable (zeros, random normal, Glorot): their `initial_value` tensors
are fetched directly, many per run, in batches of about BATCH_BYTES; no variable is assigned.
Variables drawn from one random tensor go into one run, so that they start equal as
`global_variables_initializer()` would make them. An initializer that reads other variables
(`tf.identity(w) * 2`, a moving average starting from its variable), or a variable without an
`initial_value`, is computed in the session: the variables read are set first — restored ones
fed their checkpoint values, initialized ones by their initializers in dependency order — and
the values are read back together, so that every value written agrees with what its
initializer saw. Lookup tables are initialized first, as TF1's Scaffold does.

A TensorFlow session builds an executor for every new set of fetches (~0.1 s on a resnet-sized
graph), which is why values come in batches and never one session run per variable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from graphdiff.apply.initializer_deps import Needs, tied_groups
from graphdiff.apply.targets import Target
from graphdiff.bundle import slices as slicing
from graphdiff.errors import BadInput
from graphdiff.tf_import import tensorflow

BATCH_BYTES = 128 << 20

Value = tuple[Target, int, np.ndarray]  # (target, part index, value of that part)


def initial_values(
    session,
    targets: dict[str, Target],
    needs: dict[str, Needs],
    restored_value: Callable[[str], np.ndarray],
    where,
    batch_bytes: int = BATCH_BYTES,
) -> Iterator[Value]:
    """The value of every part of every target in `needs`, batched; see the module docstring."""
    tf = tensorflow()
    tables = session.graph.get_collection(tf.compat.v1.GraphKeys.TABLE_INITIALIZERS)
    if tables:
        run(session, where, tables)
    linked = _closure(needs)
    free = tied_groups(needs, [name for name in needs if name not in linked])
    yield from _fetch(session, targets, free, lambda v: v.initial_value, batch_bytes, where)
    if linked:
        _set_in_session(session, targets, linked, needs, restored_value, where)
        groups = [[name] for name in sorted(linked)]
        yield from _fetch(session, targets, groups, lambda v: v, batch_bytes, where)


def run(session, where, fetches, feed_dict=None):
    """session.run; an op failing in the user's graph is a BadInput naming the op."""
    tf = tensorflow()
    try:
        return session.run(fetches, feed_dict=feed_dict)
    except tf.errors.OpError as error:
        op = error.op.name if error.op is not None else "an op"
        raise BadInput(
            where, f"computing initial values failed at '{op}': {op_error_text(error)}"
        ) from None


_NOISE = ("Graph execution error", "Detected at node", "File ", "Node:", "[[", "<stack traces")


def op_error_text(error) -> str:
    """The line of a TensorFlow OpError that says what went wrong (not where it was built)."""
    lines = [line.strip() for line in (error.message or "").splitlines()]
    useful = [line for line in lines if line and not line.startswith(_NOISE)]
    return useful[0] if useful else type(error).__name__


def _closure(needs: dict[str, Needs]) -> set[str]:
    """Targets computed in the session: those that read variables or lack an initial value,
    and the initialized targets they read, transitively."""
    linked = {name for name, need in needs.items() if need.reads or not need.has_initial_value}
    stack = [r for name in linked for r in needs[name].reads if r in needs]
    while stack:
        name = stack.pop()
        if name not in linked:
            linked.add(name)
            stack += [r for r in needs[name].reads if r in needs]
    return linked


def _fetch(session, targets, groups, tensor_of, batch_bytes, where) -> Iterator[Value]:
    batch, size = [], 0
    for group in groups:
        for name in group:
            target = targets[name]
            for index, (variable, _) in enumerate(target.parts):
                batch.append((target, index, tensor_of(variable)))
                size += _bytes(variable)
        if size >= batch_bytes:
            yield from _run_batch(session, batch, where)
            batch, size = [], 0
    if batch:
        yield from _run_batch(session, batch, where)


def _run_batch(session, batch, where) -> Iterator[Value]:
    values = run(session, where, [tensor for _, _, tensor in batch])
    for (target, index, _), value in zip(batch, values, strict=True):
        array = np.asarray(value, dtype=object if isinstance(value, bytes) else None)
        yield target, index, array


def _bytes(variable) -> int:
    shape = variable.shape
    count = int(np.prod(shape.as_list())) if shape.is_fully_defined() else 1
    return count * (variable.dtype.base_dtype.size or 64)


def _set_in_session(session, targets, linked, needs, restored_value, where) -> None:
    """Give the linked targets, and the restored ones they read, their values in the session."""
    restored = sorted({r for name in linked for r in needs[name].reads if r not in needs})
    assignments = [
        (variable, part)
        for name in restored
        for variable, part in parts_of(targets[name], restored_value(name))
    ]
    assign_by_feeding(session, assignments, where)
    reads = {name: needs[name].reads for name in linked}
    initialize_in_order(session, targets, reads, where, initial_feeds(assignments))


def initial_feeds(assignments) -> dict[str, np.ndarray]:
    """A restored variable's value, fed for its `initial_value` tensor: what an initializer
    that reads it through `initialized_value()` (a cond that still needs that tensor's
    inputs, a placeholder say) must see."""
    feeds = {}
    for variable, value in assignments:
        tensor = getattr(variable, "initial_value", None)
        if tensor is not None and tensor.graph.is_feedable(tensor):
            feeds[tensor.name] = value
    return feeds


def parts_of(target: Target, value: np.ndarray):
    """(variable, value of its part) for every part of `target`, given the whole value."""
    for variable, extent in target.parts:
        yield variable, value if extent is None else value[slicing.region(extent, value.shape)]


def assign_by_feeding(session, assignments, where) -> None:
    """Set variables to values by feeding their initializers' value inputs: no op is added.

    Variables whose initializers share that input tensor (`Variable(zeros)` twice) go to
    different runs; a value the input's static shape does not admit (a shape-free variable)
    is assigned through an assign op made for it.
    """
    batches: list[dict] = []
    for variable, value in assignments:
        feed = variable.initializer.inputs[1]
        if not feed.shape.is_compatible_with(value.shape):
            _assign_with_new_op(session, variable, value, where)
            continue
        batch = next((b for b in batches if feed.name not in b and _room(b)), None)
        if batch is None:
            batch = {}
            batches.append(batch)
        batch[feed.name] = (variable.initializer, value)
    for batch in batches:  # keyed by tensor name: tensors are unhashable when eager is on
        initializers = [initializer for initializer, _ in batch.values()]
        run(session, where, initializers, {feed: value for feed, (_, value) in batch.items()})


def _room(batch: dict) -> bool:
    return sum(value.nbytes for _, value in batch.values()) < BATCH_BYTES


def _assign_with_new_op(session, variable, value, where) -> None:
    tf = tensorflow()
    graph = session.graph
    if graph.finalized:
        raise BadInput(
            where,
            f"{variable.op.name}: its initializer takes shape "
            f"{variable.initializer.inputs[1].shape}, the checkpoint holds {list(value.shape)}; "
            "setting it needs an assign op, and the graph is finalized",
        )
    with graph.as_default():
        holder = tf.compat.v1.placeholder(variable.dtype.base_dtype, value.shape)
        if hasattr(variable, "handle"):
            assign = tf.raw_ops.AssignVariableOp(resource=variable.handle, value=holder)
        else:
            assign = tf.compat.v1.assign(variable, holder, validate_shape=False)
    run(session, where, assign, {holder: value})


def initialize_in_order(session, targets, reads: dict[str, set[str]], where, feeds=None) -> None:
    """Run the initializers of `reads`' targets, each after those of the targets it reads.

    Targets read but not in `reads` must already hold their values (`feeds`: their values for
    their initial-value tensors). One run per level of dependency: nearly always one run.
    """
    for level in _levels({name: read & set(reads) for name, read in reads.items()}):
        initializers = [v.initializer for name in level for v in targets[name].variables]
        run(session, where, initializers, feeds or None)


def _levels(depends: dict[str, set[str]]) -> list[list[str]]:
    """Names in groups that can run together: each group after everything it depends on."""
    done: set[str] = set()
    levels = []
    while len(done) < len(depends):
        level = sorted(n for n, d in depends.items() if n not in done and d <= done)
        if not level:  # a graph is acyclic, so initializers cannot read each other in a ring
            raise RuntimeError(f"initializers in a cycle: {sorted(set(depends) - done)}")
        levels.append(level)
        done.update(level)
    return levels


def clear_devices(graph) -> None:
    """Let every op run on this machine (a graph built for /job:ps keeps its devices in .meta)."""
    tensorflow()
    for op in graph.get_operations():
        if op.device:
            op._set_device("")
