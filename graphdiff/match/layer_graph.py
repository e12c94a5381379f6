"""The layers of one graph as a graph of units: which follows which, and what each applies
to its output (its activation).

Built on layers.py's view of the stream: a unit (units.py: a scope's variables) follows
another when one of its variable groups takes the other's output with no layer between. The
*activation* of a unit is the activation ops (Relu, Tanh, ...) that read its output directly:
`Dense(16, "relu")` and `Dense(16, "tanh")` hold the same shapes but compute other things,
which is evidence no shape gives.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import networkx as nx

from graphdiff.match.layers import layer_view
from graphdiff.match.units import unit_of

ACTIVATIONS = frozenset(
    {
        "Relu",
        "Relu6",
        "Elu",
        "Selu",
        "Tanh",
        "Sigmoid",
        "Softplus",
        "Softsign",
        "LeakyRelu",
        "Softmax",
        "LogSoftmax",
        "Gelu",
    }
)
_THROUGH = frozenset({"Identity", "IdentityN", "Cast", "StopGradient"})


@dataclass
class LayerGraph:
    units: dict[str, list[str]] = field(default_factory=dict)  # unit -> its variables
    succ: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    pred: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    activation: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def neighbours(self, unit: str) -> set[str]:
        return self.succ.get(unit, set()) | self.pred.get(unit, set())


def layer_graph(dag: nx.DiGraph, variables: set[str]) -> LayerGraph:
    """The units of `variables` in `dag`, linked along the data path, with their activations."""
    view = layer_view(dag, variables)
    graph = LayerGraph()
    for name in sorted(variables):
        graph.units.setdefault(unit_of(name), []).append(name)
    for group, later_groups in view.succ.items():
        for later in later_groups:
            for a in view.members.get(group, ()):
                for b in view.members.get(later, ()):
                    if unit_of(a) != unit_of(b):
                        graph.succ[unit_of(a)].add(unit_of(b))
                        graph.pred[unit_of(b)].add(unit_of(a))
    for unit, members in graph.units.items():
        ops = set().union(*(view.attached.get(m, set()) for m in members))
        graph.activation[unit] = _activation(view, ops)
    return graph


def _activation(view, ops: set[str]) -> tuple[str, ...]:
    """Activation ops reading the unit's outputs (its attached ops no other of them reads)."""
    found = set()
    for op in ops:
        consumers = list(_consumers(view, op))
        if any(c in ops for c in consumers):
            continue
        found.update(view.graph.dag.nodes[c]["op"] for c in consumers)
    return tuple(sorted(found & ACTIVATIONS))


def _consumers(view, op: str):
    """Stream consumers of `op`, looking through identities and casts."""
    frontier, seen = [op], {op}
    while frontier:
        node = frontier.pop()
        for consumer, _, _ in view.graph.consumers.get(node, ()):
            if consumer not in view.stream or consumer in seen:
                continue
            seen.add(consumer)
            if view.graph.dag.nodes[consumer]["op"] in _THROUGH:
                frontier.append(consumer)
            else:
                yield consumer
