"""Names that were counted, not chosen: Keras's `dense`, `dense_1`, `dense_2`.

Keras names a layer nobody named by its kind and its place among layers of that kind, so
inserting a Dense layer renumbers every Dense layer after it. Such a name is evidence of
position only, the very evidence `load_weights` goes by, whatever container holds the layer:
`sequential/conv2d_1` (a Sequential), `conv2d_1` (the same Sequential rebuilt from a `.keras`
archive) and `functional/conv2d_1` all say "the second Conv2D".

So each old layer with a counted name goes where the graph, read without names, puts it:
the new layers the walks from the inputs and from the outputs place its variables in, that
take the whole layer (every variable, each shape fitting) and apply the same activation. One
such layer: that is where it goes, whatever the names say. Several, or one inside a run of
alike layers longer (or shorter) than the old run around it (a layer added among identical
ones): which layer is new only the code's author knows; they are initialized, with the old
keys as candidates, and `--map` settles it. None: the graph says nothing, and the name, a
position, stands for what it is (a same name, or a prefix rule, may pair it).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from graphdiff.match.alignment import Alignment
from graphdiff.match.core import Assignments, MatchContext
from graphdiff.match.layer_graph import LayerGraph, layer_graph
from graphdiff.match.units import fits_whole, group_units, pair_members, position_name, unit_of
from graphdiff.plan import Evidence, Match

CONFIDENCE = 0.9
_COUNTS = (
    "only counts layers of a kind (Keras names unnamed layers dense, dense_1, ...): which "
    "layer is new, only the code says; name the layers, or confirm with --map"
)


@dataclass
class _Layers:
    """Both sides' units and layer graphs, and the fit test."""

    context: MatchContext
    old: LayerGraph
    new: LayerGraph

    def fits(self, name: str, key: str) -> bool:
        return self.context.unfit(name, key) is None

    def whole(self, new_unit: str, old_unit: str) -> dict[str, str] | None:
        return fits_whole(self.new.units[new_unit], self.old.units[old_unit], self.fits)

    def alike(self, new_unit: str, old_unit: str) -> bool:
        """The new layer takes the old one whole and applies the same activation."""
        return self.whole(new_unit, old_unit) is not None and self.new.activation.get(
            new_unit
        ) == self.old.activation.get(old_unit)


def settle_counted_layers(context: MatchContext, assignments: Assignments, blind: Alignment):
    """Put each counted old layer where the graph puts it, or leave it to the user; returns
    the new variables whose same-name pair was withdrawn."""
    withdrawn = _withdraw_where_mapped(context, assignments)
    counted_units = _counted_old_units(context)
    if not counted_units:
        return withdrawn
    layers = _Layers(
        context,
        layer_graph(context.old_dag, set(context.old_models())),
        layer_graph(context.new_dag, set(context.models())),
    )
    placed = {unit: sorted(_placed(layers, unit, blind)) for unit in counted_units}
    candidates = {unit: [n for n in placed[unit] if layers.alike(n, unit)] for unit in placed}
    wanted = defaultdict(list)
    for unit, news in candidates.items():
        for new_unit in news:
            wanted[new_unit].append(unit)
    for unit, news in candidates.items():
        if not news:
            # No new layer takes it whole: where the graph puts part of it at the layer of
            # its position (a kernel that changed shape), the name and the graph agree.
            same = [n for n in placed[unit] if _same_position(layers, n, unit)]
            if len(same) == 1 and not _user_taken(assignments, layers, same):
                pairing = pair_members(
                    layers.new.units[same[0]], layers.old.units[unit], layers.fits
                )
                withdrawn |= _place(assignments, layers, same[0], unit, pairing, blind)
            continue
        if _user_taken(assignments, layers, news):
            continue
        if len(news) == 1 and len(wanted[news[0]]) == 1 and _run_matches(layers, news[0], unit):
            pairing = layers.whole(news[0], unit)
            withdrawn |= _place(assignments, layers, news[0], unit, pairing, blind)
        else:
            withdrawn |= _leave_to_user(assignments, layers, unit, news)
    return withdrawn


def _withdraw_where_mapped(context, assignments) -> set[str]:
    """A counted same name whose key --map sends elsewhere: the count says nothing more."""
    withdrawn = set()
    mapped = {k: n for n, (k, m) in assignments.pairs.items() if m.method == "user_rule"}
    for name, (key, match) in list(assignments.pairs.items()):
        if match.method == "name" and name in context.counted and key in mapped:
            assignments.release(name)
            withdrawn.add(name)
            reason = f"--map gives '{key}' to '{mapped[key]}'; its name here only counts layers"
            assignments.refuse(name, reason, (key,), final=True)
    return withdrawn


def _counted_old_units(context) -> list[str]:
    units = group_units(context.old_models())
    return sorted(u for u, members in units.items() if all(m in context.counted for m in members))


def _placed(layers: _Layers, old_unit: str, blind: Alignment) -> set[str]:
    """New layers the walks put some variable of `old_unit` in."""
    found = set()
    for key in layers.old.units[old_unit]:
        for name in blind.proposers.get(key, ()):
            if name in layers.context.new_variables and unit_of(name) in layers.new.units:
                found.add(unit_of(name))
    return found


def _user_taken(assignments, layers, news) -> bool:
    """The user decided for one of these layers (--map, --exclude): leave them to it."""
    for unit in news:
        for name in layers.new.units[unit]:
            pair = assignments.pairs.get(name)
            if pair is not None and pair[1].method == "user_rule":
                return True
            if pair is None and name in assignments.fixed:
                return True
    return False


def _run_matches(layers: _Layers, new_unit: str, old_unit: str) -> bool:
    """As many alike layers in a row around the new layer as around the old one: else a layer
    was added (or removed) among identical ones, and which one the graph cannot say."""
    new_run = _run(layers.new, new_unit, lambda u: layers.alike(u, old_unit))
    old_run = _run(layers.old, old_unit, lambda u: layers.alike(new_unit, u))
    return len(new_run) == len(old_run)


def _run(graph: LayerGraph, start: str, alike) -> set[str]:
    run, frontier = {start}, [start]
    while frontier:
        for neighbour in graph.neighbours(frontier.pop()):
            if neighbour not in run and neighbour in graph.units and alike(neighbour):
                run.add(neighbour)
                frontier.append(neighbour)
    return run


def _same_position(layers: _Layers, new_unit: str, old_unit: str) -> bool:
    """The two layers' counted names are the same position, and they compute alike."""
    return (
        new_unit.rpartition("/")[2] == old_unit.rpartition("/")[2]
        and all(n in layers.context.counted for n in layers.new.units[new_unit])
        and layers.new.activation.get(new_unit) == layers.old.activation.get(old_unit)
    )


def _place(assignments, layers: _Layers, new_unit, old_unit, pairing, blind) -> set[str]:
    """Restore `old_unit` into `new_unit` as `pairing` says; withdraw same names that put its
    keys (or other keys) elsewhere."""
    withdrawn = set()
    keys = set(pairing.values())
    for name, (key, match) in list(assignments.pairs.items()):
        if match.method != "name":
            continue
        if (key in keys and name not in pairing) or (name in pairing and pairing[name] != key):
            assignments.release(name)
            withdrawn.add(name)
            if name not in pairing:
                reason = (
                    f"'{key}' has the same name, which only counts layers of a kind; the graph "
                    f"puts its layer at '{new_unit}'"
                )
                assignments.refuse(name, reason, (key,))
    for name, key in pairing.items():
        if name in assignments.pairs and assignments.pairs[name][0] == key:
            continue
        evidence = _evidence(layers, name, key, new_unit, old_unit, pairing, blind)
        assignments.assign(name, key, Match("structure", CONFIDENCE, evidence))
    return withdrawn


def _evidence(layers, name, key, new_unit, old_unit, pairing, blind) -> tuple[Evidence, ...]:
    walks = set()
    for member, other in pairing.items():
        walks |= blind.walks.get((member, other), set())
    found = [
        Evidence(
            "data_path",
            f"the walks from the {' and the '.join(sorted(walks))} place "
            f"'{old_unit}' at '{new_unit}'",
        ),
    ]
    if len(pairing) == len(layers.old.units[old_unit]) == len(layers.new.units[new_unit]):
        found.append(
            Evidence("whole_layer", f"every variable of '{old_unit}' fits one of '{new_unit}'")
        )
    activation = layers.new.activation.get(new_unit)
    if activation:
        found.append(Evidence("signature", f"{', '.join(activation)} after it on both sides"))
    if position_name(name) == position_name(key):
        found.append(Evidence("position", f"'{position_name(key)}': a counted name, position only"))
    return tuple(found)


def _leave_to_user(assignments, layers: _Layers, old_unit: str, news: list[str]) -> set[str]:
    """Several new layers fit the old one alike: initialize them all, the old keys listed."""
    withdrawn = set()
    spots = list(news)
    for new_unit in news:
        spots += [
            u
            for u in _run(layers.new, new_unit, lambda u: layers.alike(u, old_unit))
            if u not in spots
        ]
    for new_unit in spots:
        pairing = layers.whole(new_unit, old_unit) or {}
        others = ", ".join(sorted(set(spots) - {new_unit}))
        for name, key in pairing.items():
            if name in assignments.pairs:
                if assignments.pairs[name][1].method != "name":
                    continue
                assignments.release(name)
                withdrawn.add(name)
            reason = f"'{key}' fits here and at {others} alike, and the name '{key}' {_COUNTS}"
            assignments.refuse(name, reason, (key,), final=True)
    return withdrawn
