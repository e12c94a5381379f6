"""Value numbering across two graphs: which ops of the new graph compute what an old op computed.

Takes a GraphDef per side (as a `GraphView`) and the seeds that say which sources correspond:
variables through the plan's restore entries (`variable_seeds`), inputs through their pairing
(inputs.py). Gives every tensor a value id: two tensors get the same id exactly when they come
from the same op type with the same attributes (constants therefore by value) applied, port by
port, to tensors of the same ids. This is hash-consing, not matching: nothing is guessed, and a
new op pairs only through sources the plan and the inputs pair.

What never gets a shared id (so the frontier stops before it):
- stateful ops (random numbers, dropout's noise, queues, prints), except reads of variables;
- ops with a function attribute (tf.function calls, v2 cond and while): their bodies live in
  the function library, under names that say nothing about what they compute;
- the Merge ops of v1 while loops (and so the whole loop), whose values depend on themselves;
- ops with a control input on a variable update, which may read the updated value.

Reads (Identity, ReadVariableOp, Snapshot, StopGradient) are transparent: a read of a variable
has the variable's id, so resource and reference variables compare equal. Additions are one
operation whatever op wrote them: `BiasAdd` (channels last), `AddV2` and `Add` of the same two
values, in either order, give the same bits (one IEEE addition per element), as do `Mul` of
two values in either order; so a TF1 layer's `matmul + b` and a Keras Dense's `BiasAdd` agree.

Cuts: `cuts` maps a tensor of the new graph to the old value it is fed (frontier.py finds them:
a layer whose input is new, fed what the old layer read); the tensor then has that value.

Inference mode: a v1 cond (Switch ... Merge) whose predicate is an input fed False (a training
flag) runs its false branch only. The Switch passes its data on to that branch, the other
branch is dead (never runs, never compared), and the Merge is the value of the live branch; so
dropout or batch statistics in the training branch do not hide what follows the cond. A cond
whose predicate is computed (from the inputs, say) may take either branch: nothing inside it is
fetched (`may_not_run`), and its Merge is compared like any other op.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass, field

import networkx as nx

from graphdiff.graph_model import LOOP_BACK_EDGE_OPS, VARIABLE_OPS, graph_to_dag
from graphdiff.match.alignment import ForwardGraph, forward_graph

TRANSPARENT = frozenset({"Identity", "ReadVariableOp", "Snapshot", "StopGradient"})
# Stateful ops that only read a variable: pure functions of the variable's value.
_READS = frozenset({"ResourceGather", "ResourceGatherNd", "VariableShape", "ReadVariableOp"})
_PLACEHOLDERS = frozenset({"Placeholder", "PlaceholderV2"})
_WRITES = re.compile(r"Assign|Apply|Scatter")
_SUMMARY = re.compile(r"Summary")

Value = tuple[int, int]  # (op id, output port)


@dataclass
class GraphView:
    """One graph as verify reads it: the DAG, each op's attribute digest, the forward part."""

    dag: nx.DiGraph
    digests: dict[str, bytes]  # op -> digest of its attributes (underscored ones left out)
    functional: set[str]  # ops with a function-valued attribute
    forward: ForwardGraph
    order: list[str]  # topological order of the DAG
    nodes: dict  # op -> its NodeDef

    def op(self, name: str) -> str:
        return self.dag.nodes[name]["op"]

    def inputs(self, name: str) -> tuple[tuple[str, int], ...]:
        return self.dag.nodes[name]["inputs"]


def view_of(graph_def) -> GraphView:
    """Read a GraphDef into a GraphView (no TensorFlow session; protobufs only)."""
    dag = graph_to_dag(graph_def)
    digests, functional = {}, set()
    for node in graph_def.node:
        digest = hashlib.blake2b(digest_size=16)
        for key in sorted(node.attr):
            if key.startswith("_"):
                continue
            value = node.attr[key]
            if value.HasField("func") or len(value.list.func):
                functional.add(node.name)
            digest.update(key.encode() + b"\0" + value.SerializeToString(deterministic=True))
        digests[node.name] = digest.digest()
    order = list(nx.topological_sort(dag))
    nodes = {node.name: node for node in graph_def.node}
    return GraphView(dag, digests, functional, forward_graph(dag), order, nodes)


class Numbering:
    """A table of op keys shared by both graphs: the old graph fills it, the new one looks up."""

    def __init__(self):
        self._table: dict[tuple, int] = {}
        self._fresh = itertools.count(-1, -1)  # ids no other op has

    def intern(self, key: tuple) -> int:
        return self._table.setdefault(key, len(self._table))

    def lookup(self, key: tuple) -> int:
        found = self._table.get(key)
        return found if found is not None else self.fresh()

    def fresh(self) -> int:
        return next(self._fresh)


@dataclass
class Values:
    """The value ids of one graph's ops: `of(op, port)` is the id of tensor `op:port`."""

    ids: dict[str, int] = field(default_factory=dict)
    alias: dict[tuple[str, int], Value] = field(default_factory=dict)  # tensor -> value it passes
    dead: set[tuple[str, int]] = field(default_factory=set)  # a Switch's branch never taken
    dead_ops: set[str] = field(default_factory=set)  # ops inside that branch
    false: set[Value] = field(default_factory=set)  # values known to be False
    unsure: dict[str, int] = field(default_factory=dict)  # op -> unknown-predicate conds it is in

    def of(self, op: str, port: int = 0) -> Value:
        return self.alias.get((op, port)) or (self.ids[op], port)

    def is_dead(self, op: str, port: int = 0) -> bool:
        return op in self.dead_ops or (op, port) in self.dead

    def may_not_run(self, op: str, port: int = 0) -> bool:
        """Dead, or in the branch of a cond whose predicate verify cannot know: fetching it
        may fail (a dead tensor), so it is never compared."""
        return self.is_dead(op, port) or self.unsure.get(op, 0) > 0


def number_values(
    view: GraphView,
    seeds: dict[str, tuple],
    table: Numbering,
    *,
    old: bool,
    false=frozenset(),
    cuts: dict[tuple[str, int], Value] | None = None,
) -> Values:
    """Value ids for every op of `view`; `seeds` give sources (variables, inputs) their keys.

    The old graph (`old=True`) adds its keys to the table; the new graph only looks them up,
    so an op of the new graph has an old id exactly when the old graph computes the same.
    `false`: the sources fed False (module docstring, inference mode); `cuts`: tensors fed an
    old value (module docstring).
    """
    number = table.intern if old else table.lookup
    cuts = cuts or {}
    cut_ports: dict[str, list[int]] = {}
    for op_name, port in cuts:
        cut_ports.setdefault(op_name, []).append(port)
    values = Values()
    for name in view.order:
        op, inputs = view.op(name), view.inputs(name)
        if name in seeds:
            values.ids[name] = number(seeds[name])
            if name in false:
                values.false.add(values.of(name))
            continue
        if _unique(view, name, op, inputs):
            values.ids[name] = table.fresh()
        elif op in TRANSPARENT and inputs:
            values.alias[(name, 0)] = values.of(*inputs[0])
        else:
            values.ids[name] = number(op_key(view, name, [values.of(*i) for i in inputs]))
        for port in cut_ports.get(name, ()):
            values.alias[(name, port)] = cuts[(name, port)]
        _follow_branches(values, name, op, inputs)
        controls = view.dag.nodes[name]["control_inputs"]
        if any(c in values.dead_ops for c in controls):
            values.dead_ops.add(name)  # a constant pinned to a dead branch's pivot
        _count_unsure(values, name, op, [p for p, _ in inputs] + list(controls))
    return values


HOLE: Value = (-(2**62), 0)  # an input left open, in frontier.py's index of cut candidates
_ADDITIONS = frozenset({"AddV2", "Add", "BiasAdd"})


def op_key(view: GraphView, name: str, inputs: list[Value]) -> tuple:
    """What an op computes: its type, its attributes and its inputs' values (module
    docstring: additions and products of two values are one key, in either order)."""
    op = view.op(name)
    if len(inputs) == 2 and (op in _ADDITIONS or op == "Mul"):
        attrs = view.nodes[name].attr
        layout = attrs["data_format"].s if "data_format" in attrs else b""
        channels_last = op != "BiasAdd" or layout in (b"", b"NHWC")
        if channels_last:
            kind = "+" if op in _ADDITIONS else "*"
            return (kind, attrs["T"].type, tuple(sorted(inputs)))
    return (op, view.digests[name], tuple(inputs))


def _follow_branches(values: Values, name: str, op: str, inputs) -> None:
    """Inference mode: what a Switch on a False predicate passes on and leaves dead."""
    if op in ("Switch", "RefSwitch") and values.of(*inputs[1]) in values.false:
        values.alias[(name, 0)] = values.of(*inputs[0])
        values.dead.add((name, 1))
    elif op in ("Merge", "RefMerge"):
        live = [i for i in inputs if not values.is_dead(*i)]
        if len(live) == 1 and len(inputs) > 1:
            values.alias[(name, 0)] = values.of(*live[0])
        elif not live:
            values.dead_ops.add(name)
    elif any(values.is_dead(*i) for i in inputs):
        values.dead_ops.add(name)


def _count_unsure(values: Values, name: str, op: str, producers: list[str]) -> None:
    """How many conds whose predicate verify cannot know (computed from the inputs) `name`
    sits inside: a Switch not resolved by a False flag enters one, a Merge of both branches
    leaves it."""
    level = max((values.unsure.get(p, 0) for p in producers), default=0)
    if op in ("Switch", "RefSwitch") and (name, 1) not in values.dead:
        level += 1
    elif op in ("Merge", "RefMerge") and (name, 0) not in values.alias and level:
        level -= 1
    if level:
        values.unsure[name] = level


def _unique(view: GraphView, name: str, op: str, inputs) -> bool:
    """Ops that compute nothing another op can be proven to compute (module docstring)."""
    if op in VARIABLE_OPS or op in _PLACEHOLDERS or name in view.functional:
        return True  # a source no seed pairs
    if any(view.op(producer) in LOOP_BACK_EDGE_OPS for producer, _ in inputs):
        return True
    if any(_WRITES.search(view.op(c)) for c in view.dag.nodes[name]["control_inputs"]):
        return True
    return op not in _READS and op not in TRANSPARENT and _stateful(op)


_STATEFUL: dict[str, bool] = {}
_RANDOM = re.compile(r"Random|Rng|Multinomial|Shuffle|StatefulUniform|StatefulStandardNormal")


def varies(view: GraphView, name: str) -> bool:
    """An op whose value may change from one run to the next: random numbers (a noise layer,
    dropout left on), which no two runs of the same model reproduce."""
    op = view.op(name)
    return bool(_RANDOM.search(op)) and not op.startswith("Stateless") and _stateful(op)


def _stateful(op: str) -> bool:
    """TensorFlow's own word (OpDef.is_stateful); an op it does not know counts as stateful."""
    if op not in _STATEFUL:
        from graphdiff.tf_import import tensorflow

        tensorflow()
        from tensorflow.python.framework import op_def_registry

        definition = op_def_registry.get(op)
        _STATEFUL[op] = definition is None or definition.is_stateful
    return _STATEFUL[op]


def writes_state(op: str) -> bool:
    """An op that changes a variable (an assign, an optimizer's apply, a scatter)."""
    return bool(_WRITES.search(op))


def is_summary(op: str) -> bool:
    return bool(_SUMMARY.search(op))
