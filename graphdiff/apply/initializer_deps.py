"""What each initializer of the new graph depends on, read from the graph before anything runs.

For every target to initialize: the other targets its initial value reads (a variable op, or
another variable's `initial_value` tensor — `initialized_value()` and moving averages read a
variable through a cond on whether it is initialized), the stateful ops it draws from (two
variables made from one `tf.random.normal` tensor must get the same draw), and whether it has an
`initial_value` at all (a `.meta` written by old TensorFlow may not name it). A placeholder that
only another variable's initial value needs is no obstacle: that variable gets its value from
the checkpoint or its own initializer. One that the initializer itself needs is a BadInput.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from graphdiff.apply.targets import Target
from graphdiff.errors import BadInput
from graphdiff.graph_model import VARIABLE_OPS

_FEED_REQUIRED = frozenset({"Placeholder", "PlaceholderV2"})


@dataclass
class Needs:
    """What one target's initializers need (over all its parts)."""

    reads: set[str] = field(default_factory=set)  # other targets whose values it reads
    draws: set[str] = field(default_factory=set)  # stateful ops (random) it takes values from
    has_initial_value: bool = True


def initializer_needs(targets: dict[str, Target], names: Iterable[str], where) -> dict:
    """Target name -> Needs, for each of `names`; BadInput when one needs a fed placeholder."""
    owner = {v.op.name: t.name for t in targets.values() for v in t.variables}
    initial_of = {
        v.initial_value.name: t.name
        for t in targets.values()
        for v in t.variables
        if v.initial_value is not None
    }
    needs = {}
    for name in names:
        need = Needs()
        for variable in targets[name].variables:
            start = variable.initial_value
            if start is None:
                need.has_initial_value = False
            ops = _upstream(
                start.op if start is not None else variable.initializer, name, initial_of
            )
            for op, via in ops:
                _note(op, via, name, need, owner, where)
        need.reads.discard(name)
        needs[name] = need
    return needs


def _note(op, via: str | None, name: str, need: Needs, owner: dict, where) -> None:
    if via is not None:
        need.reads.add(via)
    elif op.type in VARIABLE_OPS:
        if op.name in owner:
            need.reads.add(owner[op.name])
    elif op.type in _FEED_REQUIRED:
        raise BadInput(
            where,
            f"{name}: its initializer needs a value fed to placeholder '{op.name}'; "
            "give it a default (placeholder_with_default) or restore it",
        )
    elif op.op_def is not None and op.op_def.is_stateful:
        need.draws.add(op.name)


def _upstream(start, name: str, initial_of: dict):
    """(op, None) for every op `start` depends on, and (None-op, target) where it reads another
    target's initial value: the walk stops there, and at variables."""
    seen, stack = {start.name}, [start]
    while stack:
        op = stack.pop()
        yield op, None
        if op.type in VARIABLE_OPS and op is not start:
            continue
        for tensor in op.inputs:
            other = initial_of.get(tensor.name)
            if other is not None and other != name:
                yield tensor.op, other
            elif tensor.op.name not in seen:
                seen.add(tensor.op.name)
                stack.append(tensor.op)
        for producer in op.control_inputs:
            if producer.name not in seen:
                seen.add(producer.name)
                stack.append(producer)


def tied_groups(needs: dict, names: Iterable[str]) -> list[list[str]]:
    """`names` in groups: targets that draw from one stateful op share a group (a session run)."""
    parent = {name: name for name in names}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    first_drawer: dict[str, str] = {}
    for name in parent:
        for op in sorted(needs[name].draws):
            if op in first_drawer:
                parent[root(name)] = root(first_drawer[op])
            else:
                first_drawer[op] = name
    groups: dict[str, list[str]] = {}
    for name in parent:
        groups.setdefault(root(name), []).append(name)
    return list(groups.values())
