"""The layers of both sides side by side: does a new layer take an old one whole, and is it
alike (the same activation, the same strides)? Shared by the stages that place counted
layers (counted_names.py, counted_neighbours.py, alike_runs.py)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from graphdiff.match.core import MatchContext
from graphdiff.match.layer_graph import LayerGraph
from graphdiff.match.units import fits_whole


@dataclass
class LayerSides:
    """Both sides' layer graphs (layer_graph.py) and what compares a layer of one with a
    layer of the other: fits whole, alike (the same activation and strides too)."""

    context: MatchContext
    old: LayerGraph
    new: LayerGraph
    _index: dict | None = None

    def fits(self, name: str, key: str) -> bool:
        return self.context.unfit(name, key) is None

    def whole(self, new_unit: str, old_unit: str) -> dict[str, str] | None:
        return fits_whole(self.new.units[new_unit], self.old.units[old_unit], self.fits)

    def by_shapes(self, side: str, unit: str) -> list[str]:
        """The units of `side` whose variables have the shapes of `unit`'s (other side)."""
        if self._index is None:
            self._index = {
                "new": _shape_index(self.new, self.context.new_variables),
                "old": _shape_index(self.old, self.context.checkpoint),
            }
        other, table = (
            (self.old, self.context.checkpoint)
            if side == "new"
            else (self.new, self.context.new_variables)
        )
        return self._index[side].get(_shapes(other.units[unit], table), [])

    def alike(self, new_unit: str, old_unit: str) -> bool:
        """The new layer takes the old one whole and applies the same activation, with the
        same strides."""
        return (
            self.whole(new_unit, old_unit) is not None
            and self.new.activation.get(new_unit) == self.old.activation.get(old_unit)
            and self.same_form(new_unit, old_unit)
        )

    def same_form(self, new_unit: str, old_unit: str) -> bool:
        new_form, old_form = self.new.form.get(new_unit), self.old.form.get(old_unit)
        return not (new_form and old_form and new_form != old_form)


def _shapes(members, table) -> tuple:
    return tuple(sorted(str(table[m].shape) for m in members))


def _shape_index(graph: LayerGraph, table) -> dict[tuple, list[str]]:
    index: dict[tuple, list[str]] = defaultdict(list)
    for unit, members in graph.units.items():
        index[_shapes(members, table)].append(unit)
    return index
