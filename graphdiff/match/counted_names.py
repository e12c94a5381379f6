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

Where the modules are: layer_sides.py compares a new layer with an old one (whole, alike),
counted_neighbours.py settles an open layer by the layers around it, alike_runs.py checks
the runs of alike layers and leaves what is undecided to the user.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from graphdiff.match.alignment import Alignment
from graphdiff.match.alike_runs import components, leave_to_user, run_matches, runs_around
from graphdiff.match.chain_names import CountedNames
from graphdiff.match.core import Assignments, MatchContext
from graphdiff.match.counted_neighbours import settle_by_neighbours
from graphdiff.match.layer_graph import layer_graph
from graphdiff.match.layer_sides import LayerSides
from graphdiff.match.models_within import model_moves, model_partner
from graphdiff.match.units import group_units, unit_of
from graphdiff.plan import Evidence, Match

CONFIDENCE = 0.9
STRONG, WEAK = 2, 1  # what a witness counts for
BLOCK = "in the block of the same name"
MODEL = "in the model where its old model's layers went"


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
    layers = LayerSides(
        context,
        layer_graph(context.old_dag, set(context.old_models())),
        layer_graph(context.new_dag, set(context.models())),
    )
    counted_blocks = CountedNames(context.checkpoint, context.new_variables, context.counted)
    moves = model_moves(context, assignments)
    options = {
        u: _options(layers, u, blind, weak_walks, counted_blocks, moves) for u in counted_units
    }
    for unit in counted_units:
        withdrawn |= _veto_counts(assignments, layers, unit, options[unit])
    decided, open_ = _decide(layers, options)
    decided = settle_by_neighbours(layers, options, decided, open_)
    claimed = (set(decided.values()), set(decided))
    undecided = []
    for unit in counted_units:
        candidates = [u for u in options[unit].witnesses if u not in decided.values()]
        if _user_taken(assignments, layers, [decided.get(unit), *candidates], user_fixed):
            continue
        if unit in decided and run_matches(layers, decided[unit], unit, claimed):
            withdrawn |= _place(assignments, layers, decided[unit], unit, options[unit], blind)
        elif unit in decided or unit in open_:
            places = [decided[unit]] if unit in decided else open_[unit]
            undecided.append(runs_around(layers, unit, places, claimed))
    for new_spots, old_spots in components(undecided):
        withdrawn |= leave_to_user(assignments, layers, new_spots, old_spots)
    return withdrawn


def _options(
    layers: LayerSides,
    old_unit: str,
    blind: Alignment,
    weak_walks,
    counted_blocks: CountedNames,
    moves: dict[str, str],
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
    in_model = model_partner(layers, old_unit, moves)
    if in_model is not None:
        found.witnesses[in_model].append(MODEL)
        found.score[in_model] += STRONG
    partner = _position_partner(layers, old_unit)
    if partner is not None and (block is None or unit_of(partner) == unit_of(block)):
        # A count of Dense layers across blocks says nothing against the block's name.
        found.witnesses[partner].append("same position name")
        found.score[partner] += WEAK
    only = _only_alike(layers, old_unit)
    if only is not None:
        found.witnesses[only].append("the one layer of its shapes and activation")
        found.score[only] += WEAK
    if found.witnesses and not placed_by and not found.siblings:
        for unit in _unplaced(layers, old_unit, blind):
            found.witnesses[unit]  # no walk places either: a candidate, with no witness
    for unit in list(found.witnesses):
        if not layers.alike(unit, old_unit):
            del found.witnesses[unit]
            found.score.pop(unit, None)
    return found


def _unplaced(layers: LayerSides, old_unit: str, blind: Alignment) -> list[str]:
    """The new layers of the old one's shapes that no walk places anywhere, as no walk places
    it (a Normalization's mean and variance, which Keras folds into constants, are read by no
    op): the graph cannot tell them apart, and each is a candidate."""
    return [
        unit
        for unit in layers.by_shapes("new", old_unit)
        if not any(blind.proposals.get(m) for m in layers.new.units[unit])
    ]


def _block_partner(layers: LayerSides, old_unit: str, counted_blocks: CountedNames):
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


def _only_alike(layers: LayerSides, old_unit: str) -> str | None:
    """The one new layer alike to the old one, when it is alike to no other old layer."""
    news = [u for u in layers.by_shapes("new", old_unit) if layers.alike(u, old_unit)]
    if len(news) != 1:
        return None
    olds = [u for u in layers.by_shapes("old", news[0]) if layers.alike(news[0], u)]
    return news[0] if olds == [old_unit] else None


def _position_partner(layers: LayerSides, old_unit: str) -> str | None:
    """The new counted layer of the same position name (`conv2d_1`), if one."""
    last = old_unit.rpartition("/")[2]
    found = [
        u
        for u, members in layers.new.units.items()
        if u.rpartition("/")[2] == last and all(m in layers.context.counted for m in members)
    ]
    return found[0] if len(found) == 1 else None


def _decide(layers: LayerSides, options) -> tuple[dict[str, str], dict[str, list[str]]]:
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


def _veto_counts(assignments, layers: LayerSides, old_unit: str, found: _Options) -> set[str]:
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
        assignments.withdraw(
            name, f"'{pair[0]}' has the same name, which only counts layers of a kind, and {why}"
        )
        withdrawn.add(name)
    return withdrawn


def _mismatch(layers: LayerSides, new_unit: str, old_unit: str) -> str:
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
            assignments.withdraw(
                name, f"--map gives '{key}' to '{mapped[key]}'; its name here only counts layers"
            )
            withdrawn.add(name)
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


def _place(assignments, layers: LayerSides, new_unit, old_unit, found, blind) -> set[str]:
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


def _evidence(layers: LayerSides, new_unit: str, old_unit: str, found) -> tuple[Evidence, ...]:
    evidence = [
        Evidence("place", f"{w} puts '{old_unit}' at '{new_unit}'")
        for w in found.witnesses.get(new_unit, ())
        if w.startswith("walk")
    ]
    if BLOCK in found.witnesses.get(new_unit, ()):
        block = new_unit.rpartition("/")[0].rpartition("/")[2]
        evidence.append(Evidence("block", f"the one layer of its kind in '{block}' on both sides"))
    if MODEL in found.witnesses.get(new_unit, ()):
        model = layers.context.new_within.get(layers.new.units[new_unit][0]) or "(root)"
        evidence.append(
            Evidence(
                "block",
                f"the one layer of its kind in model '{model}', where the old model's layers "
                "of chosen names went",
            )
        )
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
