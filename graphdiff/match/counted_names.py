"""Names that were counted, not chosen: Keras's `dense`, `dense_1`, `dense_2`.

Keras names a layer nobody named by its kind and its place among layers of that kind, so
inserting a Dense layer renumbers every Dense layer after it. Such a name is evidence of
position only, the very evidence `load_weights` goes by, whatever container holds the layer:
`sequential/conv2d_1` (a Sequential), `conv2d_1` (the same Sequential rebuilt from a `.keras`
archive) and `functional/conv2d_1` all say "the second Conv2D".

So each old layer with a counted name goes where the evidence puts it. A new layer is a
candidate when it takes the old one whole (every variable, each shape fitting) and applies
the same activation with the same strides (a convolution's); its witnesses are:

- the walks from the inputs and from the outputs, read without names (alignment.py), that
  place the old layer's variables in it: strong, unless the walk started from inputs or
  outputs paired by their order (a model's outputs `Identity`, `Identity_1`): then weak;
- the same position name (`conv2d_1` on both sides): weak;
- being the one alike sibling (same input, same shapes) that applies the same activation;
- being the one alike layer in the block of the same chosen name (`encoder/layer_3/dense_3`
  and `model/layer_3/dense_4`): strong; weak when the block's name only counts too.

The best-supported candidate wins when it has two weak witnesses or a strong one, and no
other candidate comes close; several alike: the layers around it decide when they are
settled (a conv goes where its batch norm went). Otherwise, or inside a run of alike layers
longer (or shorter) than the old run around it (a layer added among identical ones), which
layer is new only the code's author knows: the new layers are initialized, the old keys
listed, and `--map` settles it. A same position name whose layer does not take the old one
whole or applies another activation is withdrawn: the activation vetoes the count.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import partial

from graphdiff.match.alignment import Alignment
from graphdiff.match.chain_names import CountedNames
from graphdiff.match.core import Assignments, MatchContext
from graphdiff.match.layer_graph import LayerGraph, layer_graph
from graphdiff.match.units import fits_whole, group_units, unit_of
from graphdiff.plan import Evidence, Match

CONFIDENCE = 0.9
STRONG, WEAK = 2, 1  # what a witness counts for
BLOCK = "in the block of the same name"
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


@dataclass
class _Options:
    """The new layers an old layer may go to, each with its witnesses."""

    witnesses: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    score: Counter = field(default_factory=Counter)
    siblings: set[str] = field(default_factory=set)  # alike by place, any activation
    placed: set[str] = field(default_factory=set)  # where a strong walk puts it

    @property
    def conflicting(self) -> bool:
        """Strong walks put it at two places (from the inputs here, from the outputs there):
        an alike block was added on one side of it, and which one only the code says."""
        return len(self.placed) > 1

    def ranked(self) -> list[str]:
        return sorted(self.witnesses, key=lambda u: (-self.score[u], u))


def settle_counted_layers(
    context: MatchContext, assignments: Assignments, blind: Alignment, weak_walks=frozenset()
) -> set[str]:
    """Put each counted old layer where the evidence puts it, or leave it to the user; return
    the new variables whose same-name pair was withdrawn."""
    withdrawn = _withdraw_where_mapped(context, assignments)
    user_fixed = {n for n in assignments.fixed if n not in assignments.pairs}
    counted_units = _counted_old_units(context)
    if not counted_units:
        return withdrawn
    layers = _Layers(
        context,
        layer_graph(context.old_dag, set(context.old_models())),
        layer_graph(context.new_dag, set(context.models())),
    )
    counted_blocks = CountedNames(context.checkpoint, context.new_variables)
    options = {u: _options(layers, u, blind, weak_walks, counted_blocks) for u in counted_units}
    for unit in counted_units:
        withdrawn |= _veto_counts(assignments, layers, unit, options[unit])
    decided, open_ = _decide(layers, options)
    decided = _settle_by_neighbours(layers, options, decided, open_)
    claimed = (set(decided.values()), set(decided))
    undecided = []
    for unit in counted_units:
        candidates = [u for u in options[unit].witnesses if u not in decided.values()]
        if _user_taken(assignments, layers, [decided.get(unit), *candidates], user_fixed):
            continue
        if unit in decided and _run_matches(layers, decided[unit], unit, claimed):
            withdrawn |= _place(assignments, layers, decided[unit], unit, options[unit], blind)
        elif unit in decided or unit in open_:
            spots = [decided[unit]] if unit in decided else open_[unit]
            undecided.append(_spots(layers, unit, spots, claimed))
    for new_spots, old_spots in _components(undecided):
        withdrawn |= _leave_to_user(assignments, layers, new_spots, old_spots)
    return withdrawn


def _options(
    layers: _Layers, old_unit: str, blind: Alignment, weak_walks, counted_blocks: CountedNames
) -> _Options:
    """Every alike new layer with what speaks for it (each witness once per layer)."""
    found = _Options()
    keys = set(layers.old.units[old_unit])
    placed_by: dict[str, set[str]] = defaultdict(set)  # walk -> the new layers it names
    for key in keys:
        for name in blind.proposers.get(key, ()):
            if unit_of(name) in layers.new.units:
                for walk in blind.walks.get((name, key), ()):
                    placed_by[walk].add(unit_of(name))
    for walk, units in sorted(placed_by.items()):
        if len(units) > 1:  # copies of it everywhere (towers): one of them, no more
            found.siblings |= units
            for unit in units:
                found.witnesses[unit]
            continue
        unit = next(iter(units))
        found.witnesses[unit].append(f"walk from the {walk}")
        found.score[unit] += WEAK if walk in weak_walks else STRONG
        if walk not in weak_walks:
            found.placed.add(unit)
    for name, olds in blind.alike.items():
        if olds & keys and unit_of(name) in layers.new.units:
            found.siblings.add(unit_of(name))
            found.witnesses[unit_of(name)]  # a candidate, with no witness of its own yet
    block, weight = _block_partner(layers, old_unit, counted_blocks)
    if block is not None:
        found.witnesses[block].append(BLOCK)
        found.score[block] += weight
    partner = _position_partner(layers, old_unit)
    if partner is not None and (block is None or unit_of(partner) == unit_of(block)):
        # A count of Dense layers across blocks says nothing against the block's name.
        found.witnesses[partner].append("same position name")
        found.score[partner] += WEAK
    only = _only_alike(layers, old_unit)
    if only is not None:
        found.witnesses[only].append("the one layer of its shapes and activation")
        found.score[only] += WEAK
    for unit in list(found.witnesses):
        if not layers.alike(unit, old_unit):
            del found.witnesses[unit]
            found.score.pop(unit, None)
    return found


def _block_partner(layers: _Layers, old_unit: str, counted_blocks: CountedNames):
    """(The new layer alike to the old one in the block of the same name, what that weighs),
    or (None, 0). `encoder/layer_3/dense_3` and `model/layer_3/dense_4`: the layer's own name
    only counts Dense layers, but `layer_3` was chosen, one block of that name on each side,
    one alike layer in each: strong. A block name that only counts (`block_1` beside
    `block`) weighs as a position, and nothing once the number of such blocks changed."""
    old_block = old_unit.rpartition("/")[0]
    if old_block not in layers.old.blocks():
        return None, 0
    last = old_block.rpartition("/")[2]
    olds = [b for b in layers.old.blocks() if b.rpartition("/")[2] == last]
    news = [b for b in layers.new.blocks() if b.rpartition("/")[2] == last]
    if len(olds) != 1 or len(news) != 1:
        return None, 0
    alike = [u for u in layers.new.blocks()[news[0]] if layers.alike(u, old_unit)]
    if len(alike) != 1:
        return None, 0
    olds_alike = [u for u in layers.old.blocks()[old_block] if layers.alike(alike[0], u)]
    if olds_alike != [old_unit] or counted_blocks.positional(f"{old_block}/", f"{news[0]}/"):
        return None, 0
    return alike[0], WEAK if counted_blocks.counts(old_block) else STRONG


def _only_alike(layers: _Layers, old_unit: str) -> str | None:
    """The one new layer alike to the old one, when it is alike to no other old layer."""
    news = [u for u in layers.by_shapes("new", old_unit) if layers.alike(u, old_unit)]
    if len(news) != 1:
        return None
    olds = [u for u in layers.by_shapes("old", news[0]) if layers.alike(news[0], u)]
    return news[0] if olds == [old_unit] else None


def _position_partner(layers: _Layers, old_unit: str) -> str | None:
    """The new counted layer of the same position name (`conv2d_1`), if one."""
    last = old_unit.rpartition("/")[2]
    found = [
        u
        for u, members in layers.new.units.items()
        if u.rpartition("/")[2] == last and all(m in layers.context.counted for m in members)
    ]
    return found[0] if len(found) == 1 else None


def _decide(layers: _Layers, options) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Old layer -> its new layer where one candidate stands out and no other old layer wants
    it; the others -> their candidates (none: the graph says nothing, the names stand)."""
    chosen, open_ = {}, {}
    for unit, found in options.items():
        ranked = found.ranked()
        if not ranked:
            continue
        best = ranked[0]
        score = found.score[best]
        second = found.score[ranked[1]] if len(ranked) > 1 else 0
        # Alike in place (one of the layers reading the same tensor), and the one of them
        # that computes the same: place and signature.
        by_signature = ranked == [best] and best in found.siblings
        # A strong witness wins over weak ones (a walk over a position name), not over
        # another strong one; two weak ones that agree are as good as a strong one.
        # A strong witness and a chosen block name outweigh one strong witness (the walks
        # from the two ends disagree about an inserted block; the block names do not).
        outweighs = score >= 2 * STRONG and second <= STRONG
        if (score >= STRONG and second < STRONG and score > second) or outweighs or by_signature:
            chosen[unit] = best
        else:
            open_[unit] = ranked
    wanted = Counter(chosen.values())
    for unit, new_unit in list(chosen.items()):
        if wanted[new_unit] > 1:
            open_[unit] = options[unit].ranked()
            del chosen[unit]
    return chosen, open_


def _settle_by_neighbours(layers: _Layers, options, decided, open_) -> dict[str, str]:
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


def _joins_normalization(layers: _Layers, related, unit: str) -> bool:
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


def _normalization(layers: _Layers, unit: str) -> bool:
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


def _veto_counts(assignments, layers: _Layers, old_unit: str, found: _Options) -> set[str]:
    """A same position name whose layer does not take the old one whole, or applies another
    activation: the count is no evidence against that, the name pair goes."""
    partner = _position_partner(layers, old_unit)
    if partner is None or partner in found.witnesses:
        return set()
    keys = set(layers.old.units[old_unit])
    withdrawn = set()
    why = _mismatch(layers, partner, old_unit)
    for name in layers.new.units[partner]:
        pair = assignments.pairs.get(name)
        if pair is None or pair[0] not in keys or pair[1].method != "name":
            continue
        assignments.release(name)
        withdrawn.add(name)
        reason = f"'{pair[0]}' has the same name, which only counts layers of a kind, and {why}"
        assignments.refuse(name, reason, (pair[0],), final=True)
    return withdrawn


def _mismatch(layers: _Layers, new_unit: str, old_unit: str) -> str:
    new_act = layers.new.activation.get(new_unit) or ("none",)
    old_act = layers.old.activation.get(old_unit) or ("none",)
    if layers.whole(new_unit, old_unit) is None:
        return f"'{new_unit}' does not take '{old_unit}' whole"
    if not layers.same_form(new_unit, old_unit):
        return f"'{new_unit}' convolves with other strides than '{old_unit}'"
    return (
        f"'{new_unit}' applies {', '.join(new_act)} where '{old_unit}' applied {', '.join(old_act)}"
    )


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


def _user_taken(assignments, layers, units, user_fixed) -> bool:
    """The user decided for one of these layers (--map, --exclude): leave them to it."""
    for unit in units:
        for name in layers.new.units.get(unit, ()):
            pair = assignments.pairs.get(name)
            if pair is not None and pair[1].method == "user_rule":
                return True
            if pair is None and name in user_fixed:
                return True
    return False


def _run_matches(layers: _Layers, new_unit: str, old_unit: str, claimed) -> bool:
    """As many alike layers in a row around the new layer as around the old one, not counting
    those placed elsewhere: else a layer was added (or removed) among identical ones, and
    which one the graph cannot say."""
    new_claimed, old_claimed = claimed
    new_run = _run(
        layers.new, new_unit, lambda u: u not in new_claimed and layers.alike(u, old_unit)
    )
    old_run = _run(layers.old, old_unit, partial(_alike_old, layers, new_unit, old_claimed))
    return len(new_run) == len(old_run)


def _alike_old(layers: _Layers, new_unit: str, old_claimed, old_unit: str) -> bool:
    return old_unit not in old_claimed and layers.alike(new_unit, old_unit)


def _run(graph: LayerGraph, start: str, alike) -> set[str]:
    run, frontier = {start}, [start]
    while frontier:
        for neighbour in graph.neighbours(frontier.pop()):
            if neighbour not in run and neighbour in graph.units and alike(neighbour):
                run.add(neighbour)
                frontier.append(neighbour)
    return run


def _place(assignments, layers: _Layers, new_unit, old_unit, found, blind) -> set[str]:
    """Restore `old_unit` whole into `new_unit`; withdraw same names that put its keys (or
    other keys) elsewhere."""
    withdrawn = set()
    pairing = layers.whole(new_unit, old_unit)
    keys = set(pairing.values())
    for name, (key, match) in list(assignments.pairs.items()):
        if match.method != "name":
            continue
        if (key in keys and name not in pairing) or (name in pairing and pairing[name] != key):
            assignments.release(name)
            withdrawn.add(name)
            if name not in pairing:
                reason = (
                    f"'{key}' has the same name, which only counts layers of a kind; the "
                    f"evidence puts its layer at '{new_unit}'"
                )
                assignments.refuse(name, reason, (key,))
    evidence = _evidence(layers, new_unit, old_unit, found)
    for name, key in pairing.items():
        if name in assignments.pairs and assignments.pairs[name][0] == key:
            _, match = assignments.pairs[name]
            assignments.pairs[name] = (key, Match(match.method, match.confidence, evidence))
            continue
        assignments.assign(name, key, Match("structure", CONFIDENCE, evidence))
    return withdrawn


def _evidence(layers: _Layers, new_unit: str, old_unit: str, found) -> tuple[Evidence, ...]:
    evidence = [
        Evidence("place", f"{w} puts '{old_unit}' at '{new_unit}'")
        for w in found.witnesses.get(new_unit, ())
        if w.startswith("walk")
    ]
    if BLOCK in found.witnesses.get(new_unit, ()):
        block = new_unit.rpartition("/")[0].rpartition("/")[2]
        evidence.append(Evidence("block", f"the one layer of its kind in '{block}' on both sides"))
    if "same position name" in found.witnesses.get(new_unit, ()):
        evidence.append(
            Evidence("position", f"'{new_unit}': a counted name, a position, not an identity")
        )
    activation = layers.new.activation.get(new_unit)
    if activation:
        evidence.append(Evidence("signature", f"{', '.join(activation)} after it on both sides"))
    strides = sorted({form[0] for _, form in layers.new.form.get(new_unit, ()) if form[0]})
    if strides:
        said = ", ".join(str(list(s)) for s in strides)
        evidence.append(Evidence("signature", f"convolves with strides {said} on both sides"))
    if len(found.siblings) > 1 and not evidence:
        evidence.append(Evidence("place", f"one of {len(found.siblings)} alike layers in place"))
    evidence.append(
        Evidence("whole_layer", f"every variable of '{old_unit}' fits one of '{new_unit}'")
    )
    return tuple(evidence)


def _spots(layers: _Layers, old_unit, spots, claimed) -> tuple[set[str], set[str]]:
    """The old layer fits several new layers alike, or sits in a run of alike layers longer
    or shorter than the new run around its place: (the new run, the old run)."""
    new_claimed, old_claimed = claimed
    new_spots, old_spots = set(spots), {old_unit}
    for new_unit in spots:
        new_spots |= _run(
            layers.new,
            new_unit,
            lambda u: u not in new_claimed and layers.alike(u, old_unit),
        )
        old_spots |= _run(layers.old, old_unit, partial(_alike_old, layers, new_unit, old_claimed))
    return new_spots, old_spots


def _components(undecided) -> list[tuple[set[str], set[str]]]:
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


def _leave_to_user(assignments, layers: _Layers, new_spots, old_spots) -> set[str]:
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
        f"({news}) at this place, and their names {_COUNTS}"
    )
