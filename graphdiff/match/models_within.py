"""Keras models inside models: where the layers of an old model went, and its one layer of a kind.

A keras.applications net saved alone and then wrapped in a new model (a layer made before it,
a head after it) keeps its chosen layer names (`block1a_dwconv`), so those pair by name, and
they all land inside the wrapped model (`efficientnetb0`). A counted layer of the old net
(`normalization`) may have no place in the graph to tell (Keras folds a Normalization's mean and
variance into constants: no op reads them), and its name is a position that the layer made
first took. The wrapped model holds one layer of its kind, where every other layer of the old
model went: that is where it goes, as `base.load_weights(old_file)` would put it.

Only pairs of chosen names witness where a model went (counted names are positions), and only
a model that moved (the root into `efficientnetb0`): within the same model, the one alike layer
is no more than the position Keras's own loading goes by.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from graphdiff.match.core import Assignments, MatchContext
from graphdiff.match.layer_sides import LayerSides
from graphdiff.match.renames import MIN_SUPPORT


def model_moves(context: MatchContext, assignments: Assignments) -> dict[str, str]:
    """Old model -> the new model where every chosen-name pair from it went (at least
    MIN_SUPPORT of them, all to one other model)."""
    went: dict[str, Counter] = defaultdict(Counter)
    for name, (key, _) in assignments.pairs.items():
        if key in context.counted or name in context.counted:
            continue
        old, new = context.old_within.get(key), context.new_within.get(name)
        if old is not None and new is not None:
            went[old][new] += 1
    moves = {}
    for old, news in went.items():
        if len(news) == 1:
            new, count = next(iter(news.items()))
            if new != old and count >= MIN_SUPPORT:
                moves[old] = new
    return moves


def model_partner(layers: LayerSides, old_unit: str, moves: dict[str, str]) -> str | None:
    """The new layer alike to `old_unit`, the one of its kind in the model its old model
    went to, when `old_unit` is the one of its kind in its own model too."""
    context = layers.context
    old_models = {context.old_within.get(k) for k in layers.old.units[old_unit]}
    if len(old_models) != 1:
        return None
    old_model = old_models.pop()
    new_model = moves.get(old_model)
    if new_model is None:
        return None
    news = [
        unit
        for unit in layers.by_shapes("new", old_unit)
        if _within(layers.new.units[unit], context.new_within) == new_model
        and layers.alike(unit, old_unit)
    ]
    if len(news) != 1:
        return None
    olds = [
        unit
        for unit in layers.by_shapes("old", news[0])
        if _within(layers.old.units[unit], context.old_within) == old_model
        and layers.alike(news[0], unit)
    ]
    return news[0] if olds == [old_unit] else None


def _within(members, within: dict[str, str]) -> str | None:
    models = {within.get(m) for m in members}
    return models.pop() if len(models) == 1 else None
