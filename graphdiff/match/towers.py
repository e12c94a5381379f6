"""When several new variables take one old key: copies side by side (towers), or not.

Towers are whole copies of one net, each on its own input: every copy restores from the
same keys. Two layers that read the same tensor, or alike layers one after another (one feeds
the other), are not copies: one of them is the old layer and the others are new, and only the
code says which.
"""

from __future__ import annotations

from collections import deque

from graphdiff.match.alignment import ForwardGraph

_HOPS = 4  # a variable's reads and casts before the op that computes with it


def in_series(key: str, takers: list[str], chain) -> bool:
    """Several takers of `key` are members of one chain that its alignment leaves unsure: one
    feeds the next, so only one of them was the old layer."""
    unsure = [n for n in takers if n in chain and key in chain[n][0] and not chain[n][2]]
    return len(unsure) > 1


def side_by_side(graph: ForwardGraph, takers: list[str]) -> bool:
    """Two takers are computed with the same tensor (two heads on one trunk): no towers."""
    seen: set[tuple[str, int]] = set()
    for name in takers:
        beside = _computed_with(graph, name)
        if beside & seen:
            return True
        seen |= beside
    return False


def one_feeds_another(graph: ForwardGraph, takers: list[str]) -> bool:
    """What one taker computes reaches where another meets the data: they are in series.
    (A batch norm's gamma meets the data only after rsqrt(variance) * gamma.)"""
    data = _data_ops(graph)
    entries = {name: _entries(graph, name, data) for name in takers}
    for name in takers:
        others = set().union(*(entries[n] for n in takers if n != name))
        if _reaches(graph, entries[name], others):
            return True
    return False


def _data_ops(graph: ForwardGraph) -> set[str]:
    """The forward ops the inputs reach (worked out once per graph)."""
    if "graphdiff_data_ops" not in graph.dag.graph:
        graph.dag.graph["graphdiff_data_ops"] = _reachable(graph, graph.inputs)
    return graph.dag.graph["graphdiff_data_ops"]


def _entries(graph: ForwardGraph, variable: str, data: set[str]) -> set[str]:
    """The first ops on the way from `variable` that the inputs reach too."""
    found, seen, queue = set(), {variable}, deque([variable])
    while queue:
        for consumer, _, _ in graph.consumers.get(queue.popleft(), ()):
            if consumer not in graph.nodes or consumer in seen:
                continue
            seen.add(consumer)
            if consumer in data:
                found.add(consumer)
            else:
                queue.append(consumer)
    return found


def _reaches(graph: ForwardGraph, starts: set[str], targets: set[str]) -> bool:
    return bool(targets) and bool(_reachable(graph, starts, targets) & targets)


def _reachable(graph: ForwardGraph, starts, stop_at=frozenset()) -> set[str]:
    """The forward ops reachable from `starts`; stops early once one of `stop_at` is met."""
    seen, queue = set(starts), deque(starts)
    while queue:
        for consumer, _, _ in graph.consumers.get(queue.popleft(), ()):
            if consumer in graph.nodes and consumer not in seen:
                seen.add(consumer)
                if consumer in stop_at:
                    return seen
                queue.append(consumer)
    return seen


def _computed_with(graph: ForwardGraph, variable: str) -> set[tuple[str, int]]:
    """The other inputs (producer, output) of the ops that compute with `variable`."""
    return {beside for _, inputs in _computations(graph, variable) for beside in inputs}


def _computations(graph: ForwardGraph, variable: str) -> list[tuple[str, set]]:
    """(op, its other inputs) for each op that computes with `variable`, past the one-input
    ops (reads, casts) between them."""
    found = []
    frontier, path = [variable], {variable}
    for _ in range(_HOPS):
        following = []
        for node in frontier:
            for consumer, _, _ in graph.consumers.get(node, ()):
                if consumer not in graph.nodes or consumer in path:
                    continue
                inputs = graph.dag.nodes[consumer]["inputs"]
                if len(inputs) == 1:
                    following.append(consumer)
                    path.add(consumer)
                    continue
                found.append((consumer, {(p, port) for p, port in inputs if p not in path}))
        frontier = following
    return found
