"""Runs of alike layers: an old counted layer placed in a run of alike layers as long as its
own is placed; in one longer or shorter (a layer added among identical ones), or at several
places, the runs that share a layer are one question, left to the user with the candidates.
"""

from __future__ import annotations

from collections import defaultdict
from functools import partial

from graphdiff.match.layer_graph import LayerGraph
from graphdiff.match.layer_sides import LayerSides

COUNTS = (
    "only counts layers of a kind (Keras names unnamed layers dense, dense_1, ...): which "
    "layer is new, only the code says; name the layers, or confirm with --map"
)


def run_matches(layers: LayerSides, new_unit: str, old_unit: str, claimed) -> bool:
    """As many alike layers in a row around the new layer as around the old one, not counting
    those placed elsewhere: else a layer was added (or removed) among identical ones, and
    which one the graph cannot say."""
    new_claimed, old_claimed = claimed
    new_run = _run(
        layers.new, new_unit, lambda u: u not in new_claimed and layers.alike(u, old_unit)
    )
    old_run = _run(layers.old, old_unit, partial(_alike_old, layers, new_unit, old_claimed))
    return len(new_run) == len(old_run)


def _alike_old(layers: LayerSides, new_unit: str, old_claimed, old_unit: str) -> bool:
    return old_unit not in old_claimed and layers.alike(new_unit, old_unit)


def _run(graph: LayerGraph, start: str, alike) -> set[str]:
    run, frontier = {start}, [start]
    while frontier:
        for neighbour in graph.neighbours(frontier.pop()):
            if neighbour not in run and neighbour in graph.units and alike(neighbour):
                run.add(neighbour)
                frontier.append(neighbour)
    return run


def runs_around(layers: LayerSides, old_unit, places, claimed) -> tuple[set[str], set[str]]:
    """The old layer fits several new layers alike (`places`), or sits in a run of alike
    layers longer or shorter than the new run around its place: (the new run, the old run)."""
    new_claimed, old_claimed = claimed
    new_spots, old_spots = set(places), {old_unit}
    for new_unit in places:
        new_spots |= _run(
            layers.new,
            new_unit,
            lambda u: u not in new_claimed and layers.alike(u, old_unit),
        )
        old_spots |= _run(layers.old, old_unit, partial(_alike_old, layers, new_unit, old_claimed))
    return new_spots, old_spots


def components(undecided) -> list[tuple[set[str], set[str]]]:
    """Runs that share a layer, merged: an identical block inserted among two makes the
    first old block fit new blocks 0 and 1, the second 1 and 2; all five are one question."""
    merged: list[tuple[set[str], set[str]]] = []
    for new_spots, old_spots in undecided:
        new_spots, old_spots = set(new_spots), set(old_spots)
        for other in [m for m in merged if m[0] & new_spots or m[1] & old_spots]:
            merged.remove(other)
            new_spots |= other[0]
            old_spots |= other[1]
        merged.append((new_spots, old_spots))
    return merged


def leave_to_user(assignments, layers: LayerSides, new_spots, old_spots) -> set[str]:
    """Initialize the new layers of one undecided component, each listing the old layers'
    keys that fit it as candidates."""
    candidates: dict[str, list[str]] = defaultdict(list)
    for new_unit in sorted(new_spots):
        for old in sorted(old_spots):
            for name, key in (layers.whole(new_unit, old) or {}).items():
                candidates[name].append(key)
    withdrawn = set()
    reason = _ambiguity(new_spots, old_spots)
    for name, keys in candidates.items():
        pair = assignments.pairs.get(name)
        if pair is not None and pair[1].method != "name":
            continue
        if pair is not None:
            assignments.release(name)
            withdrawn.add(name)
        assignments.refuse(name, reason, keys, final=True)
    return withdrawn


def _ambiguity(new_spots: set[str], old_spots: set[str]) -> str:
    olds, news = ", ".join(sorted(old_spots)), ", ".join(sorted(new_spots))
    return (
        f"{len(old_spots)} alike old layer(s) ({olds}) fit {len(new_spots)} alike new layer(s) "
        f"({news}) at this place, and their names {COUNTS}"
    )
