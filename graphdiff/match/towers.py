"""When several new variables take one old key: copies side by side (towers), or not.

Towers are whole copies of one net, each on its own input: every copy restores from the
same keys. Two layers that read the same tensor, or alike layers one after another, are not
copies: one of them is the old layer and the others are new, and only the code says which.
"""

from __future__ import annotations

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


def _computed_with(graph: ForwardGraph, variable: str) -> set[tuple[str, int]]:
    """The other inputs (producer, output) of the ops that compute with `variable`, past the
    one-input ops (reads, casts) between them."""
    found = set()
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
                found |= {(p, port) for p, port in inputs if p not in path}
        frontier = following
    return found
