"""The layers of one graph as a graph of units: which follows which, and what each applies
to its output (its activation).

Built on layer_view.py's view of the stream: a unit (units.py: a scope's variables) follows
another when one of its variable groups takes the other's output with no layer between. The
*activation* of a unit is the activation ops (Relu, Tanh, ...) that read its output directly:
`Dense(16, "relu")` and `Dense(16, "tanh")` hold the same shapes but compute other things,
which is evidence no shape gives; so do a convolution of stride 2 and one of stride 1 (its
*form*: the strides and dilations of its convolution ops).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import pairwise

import networkx as nx

from graphdiff.match.layer_view import activation_of, form_of, layer_view
from graphdiff.match.units import unit_of


@dataclass
class LayerGraph:
    units: dict[str, list[str]] = field(default_factory=dict)  # unit -> its variables
    succ: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    pred: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    activation: dict[str, tuple[str, ...]] = field(default_factory=dict)
    form: dict[str, tuple] = field(default_factory=dict)  # its convolutions' strides
    group: dict[str, int | None] = field(default_factory=dict)  # its variable group (layer_view.py)
    _blocks: dict[str, set[str]] | None = None

    def mates(self, unit: str) -> set[str]:
        """Units of the same variable group: a conv and the batch norm right after it."""
        group = self.group.get(unit)
        return {u for u, g in self.group.items() if g is not None and g == group and u != unit}

    def block_mates(self, unit: str) -> set[str]:
        """Units under the same scope as this one, when that scope holds only part of the
        layers (a block of a model, not the model itself)."""
        return self.blocks().get(unit.rpartition("/")[0], {unit}) - {unit}

    def blocks(self) -> dict[str, set[str]]:
        """Scope -> the units right under it, for scopes that hold part of the layers only."""
        if self._blocks is None:
            found = defaultdict(set)
            for u in self.units:
                found[u.rpartition("/")[0]].add(u)
            self._blocks = {
                block: units
                for block, units in found.items()
                if block and len(units) < len(self.units)
            }
        return self._blocks

    def neighbours(self, unit: str) -> set[str]:
        return self.succ.get(unit, set()) | self.pred.get(unit, set())


def layer_graph(dag: nx.DiGraph, variables: set[str]) -> LayerGraph:
    """The units of `variables` in `dag`, linked along the data path, with their activations."""
    view = layer_view(dag, variables)
    graph = LayerGraph()
    for name in sorted(variables):
        graph.units.setdefault(unit_of(name), []).append(name)
    ordered = _units_in_order(dag, view)
    for group, units in ordered.items():
        for earlier, later in pairwise(units):  # a conv, then its batch norm
            _link(graph, earlier, later)
        for following in view.succ.get(group, ()):
            if ordered.get(following):
                _link(graph, units[-1], ordered[following][0])
    for unit, members in graph.units.items():
        graph.activation[unit] = activation_of(view, members)
        graph.form[unit] = form_of(view, members)
        graph.group[unit] = view.group_of.get(members[0])
    return graph


def _units_in_order(dag, view) -> dict[int, list[str]]:
    """Each variable group's units, in the order the data meets them."""
    rank = {op: i for i, op in enumerate(nx.topological_sort(dag))}
    first: dict[str, int] = {}
    for variable, ops in view.attached.items():
        position = min((rank[o] for o in ops), default=len(rank))
        unit = unit_of(variable)
        first[unit] = min(first.get(unit, position), position)
    ordered = {}
    for group, members in view.members.items():
        units = sorted({unit_of(m) for m in members}, key=lambda u: (first.get(u, 0), u))
        ordered[group] = units
    return ordered


def _link(graph: LayerGraph, earlier: str, later: str) -> None:
    if earlier != later:
        graph.succ[earlier].add(later)
        graph.pred[later].add(earlier)
