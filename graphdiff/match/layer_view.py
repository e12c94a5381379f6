"""The layers of one graph, read from its ops, for layers.py and layer_graph.py.

1. The *stream* is what depends on the model's inputs. A variable is *attached* to the stream
   ops it reaches through parameter-only ops (reads, casts, `rsqrt(variance + eps) * gamma`).
2. A *layer* is a group of variables whose attached ops touch: they share an op, or one op
   feeds the other directly. Conv + batch norm, MatMul + BiasAdd, a batch norm's moving-average
   updates hanging off its fused op: one layer each. Layers are linked along the stream.

What a layer applies to its output (its activation) and how it convolves (its strides) are
read here too.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field

import networkx as nx

from graphdiff.match.activations import PASS_THROUGH, applied
from graphdiff.match.alignment import forward_graph

_RESHAPES = frozenset({"Reshape", "ExpandDims", "Squeeze"})
_SHAPE_OPS = frozenset({"Shape", "ShapeN", "Size", "Rank"})
_ATTACH_DEPTH = 8


@dataclass
class LayerView:
    """The layers of one DAG: variables grouped, groups linked along the stream."""

    group_of: dict[str, int] = field(default_factory=dict)  # variable -> group id
    members: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    succ: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    pred: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    inputs: dict[str, int] = field(default_factory=dict)  # input placeholder -> its group id
    attached: dict[str, set[str]] = field(default_factory=dict)  # variable -> its stream ops
    graph: object = None  # the ForwardGraph it was built from
    stream: set[str] = field(default_factory=set)  # what depends on the inputs' values


def layer_view(dag: nx.DiGraph, variables: set[str]) -> LayerView:
    graph = forward_graph(dag)
    stream = _stream(graph)
    attached: dict[str, set[str]] = defaultdict(set)  # stream op -> variables attached to it
    for variable in variables:
        if variable in graph.nodes:
            for op in _attachment(graph, stream, variable):
                attached[op].add(variable)
    view = LayerView(graph=graph, stream=stream)
    for op, held in attached.items():
        for variable in held:
            view.attached.setdefault(variable, set()).add(op)
    op_group = _groups(graph, stream, attached, view)
    for name in graph.inputs:
        view.inputs[name] = op_group[name] = len(view.members) + len(view.inputs)
    for earlier, later in _layer_edges(graph, stream, op_group):
        view.succ[earlier].add(later)
        view.pred[later].add(earlier)
    return view


def _groups(graph, stream, attached, view: LayerView) -> dict[str, int]:
    """Union the variables that share an op or whose ops follow each other directly (a
    bias after its kernel's MatMul, maybe through a reshape); fill `view`; op -> group."""
    parent = {v: v for held in attached.values() for v in held}

    def find(v):
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    for op, held in attached.items():
        first = next(iter(held))
        for v in held:
            parent[find(v)] = find(first)
        for consumer in _direct_stream_consumers(graph, stream, op, attached):
            parent[find(next(iter(attached[consumer])))] = find(first)
    ids: dict[str, int] = {}
    for v in sorted(parent):
        group = ids.setdefault(find(v), len(ids))
        view.group_of[v] = group
        view.members[group].append(v)
    return {op: view.group_of[next(iter(held))] for op, held in attached.items()}


def _stream(graph) -> set[str]:
    """What depends on the inputs' values (a tensor's shape is not its value)."""
    seen, queue = set(graph.inputs), deque(graph.inputs)
    while queue:
        node = queue.popleft()
        if graph.dag.nodes[node]["op"] in _SHAPE_OPS:
            continue
        for consumer, _, _ in graph.consumers.get(node, ()):
            if consumer in graph.nodes and consumer not in seen:
                seen.add(consumer)
                queue.append(consumer)
    return seen


def _attachment(graph, stream: set[str], variable: str) -> set[str]:
    """The stream ops `variable` reaches through ops that depend on no input."""
    found, frontier, seen = set(), [variable], {variable}
    for _ in range(_ATTACH_DEPTH):
        following = []
        for node in frontier:
            for consumer, _, _ in graph.consumers.get(node, ()):
                if consumer not in graph.nodes or consumer in seen:
                    continue
                seen.add(consumer)
                (found.add if consumer in stream else following.append)(consumer)
        frontier = following
    return found


def _direct_stream_consumers(graph, stream, op: str, attached):
    """Attached stream ops right after `op`: through identities and casts, and through
    reshapes to an op whose variables are vectors (a bias after a reshaped MatMul)."""
    frontier, seen = [(op, False)], {op}
    while frontier:
        node, reshaped = frontier.pop()
        for consumer, _, _ in graph.consumers.get(node, ()):
            if consumer not in stream or consumer in seen:
                continue
            seen.add(consumer)
            kind = graph.dag.nodes[consumer]["op"]
            if kind in PASS_THROUGH or kind in _RESHAPES:
                frontier.append((consumer, reshaped or kind in _RESHAPES))
            elif consumer in attached and (not reshaped or _vectors(graph, attached[consumer])):
                yield consumer


def _vectors(graph, variables) -> bool:
    return all(len(graph.dag.nodes[v]["shape"] or ()) <= 1 for v in variables)


def _layer_edges(graph, stream, op_group: dict[str, int]):
    """(earlier, later) groups: `later` takes the output of `earlier` with no layer between.

    Walked in topological order, each stream op carries the groups whose output it still is
    (its *front*) and every group it depends on (a bit set): where several fronts meet, a
    group that another one of them depends on is already behind (a residual input, the
    mean a normalization subtracts), so it is dropped.
    """
    order = [n for n in nx.topological_sort(graph.dag) if n in stream]
    front: dict[str, frozenset[int]] = {}
    behind: dict[str, int] = {}  # op -> bit set of the groups it depends on
    group_behind: dict[int, int] = defaultdict(int)
    edges = set()
    for node in order:
        producers = [p for p, _ in graph.dag.nodes[node]["inputs"] if p in front]
        incoming = frozenset().union(*(front[p] for p in producers))
        depends = 0
        for p in producers:
            depends |= behind[p]
        group = op_group.get(node)
        if group is not None:
            edges.update((g, group) for g in incoming if g != group)
            group_behind[group] |= depends & ~(1 << group)
            front[node], behind[node] = frozenset({group}), depends | (1 << group)
        else:
            front[node] = frozenset(
                g
                for g in incoming
                if not any(h != g and (group_behind[h] >> g) & 1 for h in incoming)
            )
            behind[node] = depends
    return edges


def activation_of(view: LayerView, members) -> tuple[str, ...]:
    """What the layer of these variables applies to its output (activations.py), read after
    each of its outputs: its attached ops that no other of them reads."""
    ops = set().union(*(view.attached.get(m, set()) for m in members))
    keep = view.stream.__contains__
    found = set()
    for op in ops:
        if any(c in ops for c in _stream_consumers(view, op)):
            continue
        found.add(applied(view.graph, op, keep))
    found.discard(None)
    return tuple(sorted(found))


def form_of(view: LayerView, members) -> tuple:
    """How the layer's ops apply its weights beyond their shapes: each convolution's op,
    strides and dilations (graph_model.py), sorted; empty for a layer without one."""
    ops = set().union(*(view.attached.get(m, set()) for m in members))
    dag = view.graph.dag
    return tuple(
        sorted({(dag.nodes[o]["op"], dag.nodes[o]["form"]) for o in ops if "form" in dag.nodes[o]})
    )


def _stream_consumers(view, op: str):
    """Stream consumers of `op`, looking through identities and casts."""
    frontier, seen = [op], {op}
    while frontier:
        node = frontier.pop()
        for consumer, _, _ in view.graph.consumers.get(node, ()):
            if consumer not in view.stream or consumer in seen:
                continue
            seen.add(consumer)
            if view.graph.dag.nodes[consumer]["op"] in PASS_THROUGH:
                frontier.append(consumer)
            else:
                yield consumer
