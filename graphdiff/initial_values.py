"""The values of the variables a plan initializes, computed in as few session runs as memory allows.

Most initializers read no variable (zeros, random normal, Glorot): their `initial_value` tensors
are fetched directly, many per run, in batches of about BATCH_BYTES; no variable is assigned.
An initializer that reads other variables (`tf.identity(w) * 2`, a moving average starting from
its variable) must see them hold their planned values: those variables are set in the session
— restored ones fed their checkpoint values, initialized ones by their initializers in
dependency order — and read back together, so that every value written agrees with the values
its initializer saw.

A TensorFlow session builds an executor for every new set of fetches (~0.1 s on a resnet-sized
graph), which is why values come in batches and never one session run per variable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from graphdiff.bundle import slices as slicing
from graphdiff.errors import BadInput
from graphdiff.graph_model import VARIABLE_OPS
from graphdiff.targets import Target
from graphdiff.tf_import import tensorflow

BATCH_BYTES = 128 << 20
_FEED_REQUIRED = frozenset({"Placeholder", "PlaceholderV2"})

Value = tuple[Target, int, np.ndarray]  # (target, part index, value of that part)


def read_by_initializers(targets: dict[str, Target], names, where) -> dict[str, set[str]]:
    """Target name -> the targets its initializers read; BadInput when one needs a fed value."""
    owner = {v.op.name: t.name for t in targets.values() for v in t.variables}
    reads = {}
    for name in names:
        target = targets[name]
        read = set()
        for variable in target.variables:
            for op in _upstream(variable.initial_value.op):
                if op.type in _FEED_REQUIRED:
                    raise BadInput(
                        where,
                        f"{name}: its initializer needs a value fed to placeholder '{op.name}'; "
                        "give it a default (placeholder_with_default) or restore it",
                    )
                if op.type in VARIABLE_OPS and op.name in owner:
                    read.add(owner[op.name])
        reads[name] = read - {name}
    return reads


def _upstream(start) -> Iterator:
    """Every op `start` depends on, stopping at variables (their values come from elsewhere)."""
    seen, stack = {start.name}, [start]
    while stack:
        op = stack.pop()
        yield op
        if op.type in VARIABLE_OPS and op is not start:
            continue
        for producer in [t.op for t in op.inputs] + list(op.control_inputs):
            if producer.name not in seen:
                seen.add(producer.name)
                stack.append(producer)


def initial_values(
    session,
    targets: dict[str, Target],
    reads: dict[str, set[str]],
    restored_value: Callable[[str], np.ndarray],
    batch_bytes: int = BATCH_BYTES,
) -> Iterator[Value]:
    """The value of every part of every target in `reads`, batched; see the module docstring."""
    linked = _closure(reads)
    free = [name for name in reads if name not in linked]
    yield from _fetch(session, targets, free, lambda v: v.initial_value, batch_bytes)
    if linked:
        _set_in_session(session, targets, linked, reads, restored_value)
        yield from _fetch(session, targets, sorted(linked), lambda v: v, batch_bytes)


def _closure(reads: dict[str, set[str]]) -> set[str]:
    """Initialized targets whose initializers read variables, and those they read, transitively."""
    linked = {name for name, read in reads.items() if read}
    stack = [r for name in linked for r in reads[name] if r in reads]
    while stack:
        name = stack.pop()
        if name not in linked:
            linked.add(name)
            stack += [r for r in reads[name] if r in reads]
    return linked


def _fetch(session, targets, names, tensor_of, batch_bytes) -> Iterator[Value]:
    batch, size = [], 0
    for name in names:
        target = targets[name]
        for index, (variable, _) in enumerate(target.parts):
            batch.append((target, index, tensor_of(variable)))
            size += _bytes(variable)
        if size >= batch_bytes:
            yield from _run(session, batch)
            batch, size = [], 0
    if batch:
        yield from _run(session, batch)


def _run(session, batch) -> Iterator[Value]:
    values = session.run([tensor for _, _, tensor in batch])
    for (target, index, _), value in zip(batch, values, strict=True):
        yield target, index, np.asarray(value)


def _bytes(variable) -> int:
    shape = variable.shape
    count = int(np.prod(shape.as_list())) if shape.is_fully_defined() else 1
    return count * (variable.dtype.base_dtype.size or 64)


def _set_in_session(session, targets, linked, reads, restored_value) -> None:
    """Give the linked targets, and the restored ones they read, their values in the session."""
    restored = sorted({r for name in linked for r in reads[name] if r not in reads})
    feeds, initializers = {}, []
    for name in restored:
        value = restored_value(name)
        for variable, extent in targets[name].parts:
            part = value if extent is None else value[slicing.region(extent, value.shape)]
            initializers.append(variable.initializer)
            feeds[variable.initializer.inputs[1]] = part
    if initializers:
        session.run(initializers, feed_dict=feeds)
    initialize_in_order(session, targets, {name: reads[name] for name in linked})


def initialize_in_order(session, targets: dict[str, Target], reads: dict[str, set[str]]) -> None:
    """Run the initializers of `reads`' targets, each after those of the targets it reads.

    Targets read but not in `reads` must already hold their values. One run per level of
    dependency: nearly always a single run.
    """
    for level in _levels({name: read & set(reads) for name, read in reads.items()}):
        session.run([v.initializer for name in level for v in targets[name].variables])


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
