"""Counted layers the witnesses left open, settled by the layers around them: a conv where
its batch norm went, a layer where the rest of its block went, a normalization after the
layer it reads from (counted_names.py decides the rest)."""

from __future__ import annotations

from graphdiff.match.layer_graph import LayerGraph
from graphdiff.match.layer_sides import LayerSides


def settle_by_neighbours(layers: LayerSides, options, decided, open_) -> dict[str, str]:
    """A layer left open goes where its mate went (a conv and the batch norm right after it,
    one variable group with no activation between them, stay together), or where the other
    layers of its block went (`block_1/dense_4` with `block_1/dense_3`); failing that, after
    the layer its input comes from (a normalization goes with what it normalizes). A layer
    strong walks put at two places (from the inputs here, from the outputs there) only by
    its normalization or its block: a chain of steps from one end is that end's walk again
    (a Dense after a linear Dense, a layer after the last one settled)."""
    decided = dict(decided)
    for related in (_mates, _block_mates, _predecessors):
        changed = True
        while changed:
            changed = False
            taken = set(decided.values())
            for unit, candidates in list(open_.items()):
                if options[unit].conflicting and not _joins_normalization(layers, related, unit):
                    continue
                places = {decided[m] for m in related(layers.old, unit) if m in decided}
                fitting = [
                    c
                    for c in candidates
                    if c not in taken and places and places <= related(layers.new, c)
                ]
                if len(fitting) == 1:
                    decided[unit] = fitting[0]
                    del open_[unit]
                    changed = True
                    taken.add(fitting[0])
    return decided


def _joins_normalization(layers: LayerSides, related, unit: str) -> bool:
    """For a layer strong walks put at two places, only what keeps a normalization with the
    layer it normalizes (a conv and its batch norm, a Dense and the LayerNorm after it), or a
    block together, settles it: a Dense after a Dense is not that."""
    if related is _block_mates:
        return True
    if related is _predecessors:
        return _normalization(layers, unit) and not any(
            _normalization(layers, p) for p in _predecessors(layers.old, unit)
        )
    mates = [_normalization(layers, u) for u in (unit, *_mates(layers.old, unit))]
    return any(mates) and not all(mates)


def _normalization(layers: LayerSides, unit: str) -> bool:
    """A layer of vectors only (a batch norm, a layer norm), as old layers go."""
    table = layers.context.checkpoint
    return unit in layers.old.units and all(
        len(table[k].shape or ()) <= 1 for k in layers.old.units[unit]
    )


def _mates(graph: LayerGraph, unit: str) -> set[str]:
    return graph.mates(unit)


def _block_mates(graph: LayerGraph, unit: str) -> set[str]:
    """The other layers of the block (the scope) that holds this one, when it is not the
    whole model: a subclassed model's `block_1/dense_3` and `block_1/layer_normalization_1`."""
    return graph.block_mates(unit)


def _predecessors(graph: LayerGraph, unit: str) -> set[str]:
    return set(graph.pred.get(unit, ()))
