"""Match variables layer by layer where the op-by-op walk cannot pass.

Two implementations of one model rarely agree op for op: a fused batch norm on one side is six
arithmetic ops on the other, a dense layer is MatMul + BiasAdd here and an Einsum there. The
op walk (alignment.py) stops at the first such op; this stage sees the graph coarser:

1. Each graph's layers (layer_view.py): groups of variables whose ops touch, linked along
   the data path.
2. The two layer graphs are walked together, from the inputs, from the last layers and from
   layers holding variables already matched, each walk on its own; a layer's neighbours pair
   up when one on each side has the same variable shapes, activation and strides, or
   (several alike) when their names agree best both ways. A layer the walks place at two
   old layers is left alone, what each would give it listed.
3. In paired layers, variables pair by shape, and by leaf name where shapes repeat
   (`gamma`, `beta`, `moving_mean` of one batch norm).

Only what the earlier stages left without a candidate, or with the one candidate the layers
confirm, takes part: what they judged ambiguous stays so. Precision first, as everywhere.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict, deque
from functools import partial

import numpy as np

from graphdiff.match.boundaries import boundary_anchors
from graphdiff.match.core import Assignments, MatchContext
from graphdiff.match.layer_view import LayerView, activation_of, form_of, layer_view
from graphdiff.match.units import pair_members
from graphdiff.plan import Evidence, Match

CONFIDENCE = 0.85


def match_by_layers(context: MatchContext, assignments: Assignments) -> None:
    """Pair free new model variables with free keys through aligned layers."""
    # A variable refused with one candidate (a rename seen only once) may still take it when
    # the layers agree; one refused among several stays refused, and so do its candidates.
    refused = assignments.refused
    claimed = {k for _, candidates in refused.values() if len(candidates) > 1 for k in candidates}
    new_free = {
        n
        for n in context.models()
        if assignments.is_free(n) and len(refused.get(n, ("", ()))[1]) <= 1
    }
    old_free = set(context.old_models()) - assignments.used_keys() - claimed
    if not new_free or not old_free:
        return
    new_view = layer_view(context.new_dag, new_free | set(assignments.pairs))
    old_view = layer_view(context.old_dag, old_free | assignments.used_keys())
    inputs = boundary_inputs(context, list(old_view.inputs), list(new_view.inputs))
    matched = [
        (new_view.group_of[name], old_view.group_of[key])
        for name, (key, _) in assignments.pairs.items()
        if name in new_view.group_of and key in old_view.group_of
    ]
    seeds = {
        "inputs": [(new_view.inputs[n], old_view.inputs[o]) for n, o in inputs],
        "outputs": list(
            _pair_neighbours(new_view, old_view, _last(new_view), _last(old_view), context)
        ),
        "variables": matched,
    }
    paired, contested = _align(new_view, old_view, seeds, context)
    _list_contested(context, assignments, new_view, old_view, contested, new_free, old_free)
    for new_group, old_group in paired.items():
        _pair_variables(
            context,
            assignments,
            new_view.members[new_group],
            old_view.members[old_group],
            new_free,
            old_free,
        )


def boundary_inputs(context, old_inputs, new_inputs) -> list[tuple[str, str]]:
    return [(n, o) for n, o, _ in boundary_anchors(old_inputs, new_inputs, context, "input")]


# --- aligning the two layer graphs -----------------------------------------------------------


def _last(view: LayerView) -> list[int]:
    """The layers nothing follows: where the walk from the outputs starts."""
    return [g for g in view.members if not view.succ.get(g)]


def _align(new: LayerView, old: LayerView, seeds: dict[str, list], context):
    """(new group -> old group for every pair the walks reach without a conflict, new group
    -> the old groups of its conflicts).

    Each group of seeds (inputs, outputs, layers of variables matched so far) is walked on
    its own, so that a layer the two ends place differently (a block inserted beside one
    alike: the walk from the inputs takes the first, the one from the outputs the second) is
    a conflict, left alone, and not whichever walk came first."""
    proposals: dict[int, set[int]] = defaultdict(set)
    taken: dict[int, set[int]] = defaultdict(set)
    for group in seeds.values():
        walked_proposals, walked_taken = _walk_layers(new, old, group, context)
        for new_group, olds in walked_proposals.items():
            proposals[new_group] |= olds
        for old_group, news in walked_taken.items():
            taken[old_group] |= news
    paired, contested = {}, {}
    for n, olds in proposals.items():
        if len(olds) == 1 and len(taken[next(iter(olds))]) == 1:
            paired[n] = next(iter(olds))
        else:
            contested[n] = set(olds)
    for o, news in taken.items():  # one old layer placed at several new ones
        if len(news) > 1:
            for n in news:
                contested.setdefault(n, set()).add(o)
    return paired, contested


def _list_contested(context, assignments, new_view, old_view, contested, new_free, old_free):
    """Layers the walks place at several old layers (or an old layer at several new ones):
    initialized, with what each of those old layers would give each variable listed."""
    fits = partial(_fits, context)
    for new_group, old_groups in contested.items():
        members = new_view.members[new_group]
        options: dict[str, list[str]] = defaultdict(list)
        for old_group in sorted(old_groups):
            keys = [k for k in old_view.members[old_group] if k in old_free]
            paired = pair_members(members, keys, fits)
            for name in members:
                fitting = [paired[name]] if name in paired else [k for k in keys if fits(name, k)]
                options[name] += [k for k in fitting if k not in options[name]]
        olds = ", ".join(_label(old_view.members[o]) for o in sorted(old_groups))
        for name in members:
            if name not in new_free or not assignments.is_free(name):
                continue
            if options[name] and name not in assignments.refused:
                reason = (
                    f"the walks through the layers (from the inputs, from the outputs, from "
                    f"what is matched) do not agree: {olds} here, and elsewhere too; "
                    "confirm with --map"
                )
                assignments.refuse(name, reason, options[name])


def _fits(context, name: str, key: str) -> bool:
    return context.unfit(name, key) is None


def _walk_layers(new: LayerView, old: LayerView, seeds, context):
    """One walk over both layer graphs from `seeds`: (new -> old groups, old -> new groups)."""
    proposals: dict[int, set[int]] = defaultdict(set)
    taken: dict[int, set[int]] = defaultdict(set)
    queue = deque()
    for pair in seeds:
        if pair[1] not in proposals[pair[0]]:
            proposals[pair[0]].add(pair[1])
            taken[pair[1]].add(pair[0])
            queue.append(pair)
    while queue:
        new_group, old_group = queue.popleft()
        for links in ("succ", "pred"):
            new_next = [g for g in getattr(new, links)[new_group] if g not in proposals]
            old_next = [g for g in getattr(old, links)[old_group] if g not in taken]
            for pair in _pair_neighbours(new, old, new_next, old_next, context):
                proposals[pair[0]].add(pair[1])
                taken[pair[1]].add(pair[0])
                queue.append(pair)
    return proposals, taken


def _pair_neighbours(new, old, new_groups, old_groups, context):
    """Neighbours that pair up: alone with their signature on each side and fitting, or,
    several alike, each the other's best by the words of their names."""
    by_signature_new, by_signature_old = defaultdict(list), defaultdict(list)
    for g in new_groups:
        by_signature_new[_signature(new.members[g], context.new_variables)].append(g)
    for g in old_groups:
        by_signature_old[_signature(old.members[g], context.checkpoint)].append(g)
    for signature, news in by_signature_new.items():
        olds = [o for o in by_signature_old.get(signature, []) if signature != ("input",)]
        fitting = [
            (n, o)
            for n in news
            for o in olds
            if _fit(new.members[n], old.members[o], context) and _same_activation(new, n, old, o)
        ]
        if len(news) == 1 and len(olds) == 1:
            yield from fitting
        elif fitting:
            yield from _pair_by_names(fitting, new, old)


def _same_activation(new: LayerView, new_group: int, old: LayerView, old_group: int) -> bool:
    """Unless both apply an activation and not the same one (relu here, tanh there), or
    convolve with other strides."""
    new_act = activation_of(new, new.members[new_group])
    old_act = activation_of(old, old.members[old_group])
    if new_act and old_act and new_act != old_act:
        return False
    new_form = form_of(new, new.members[new_group])
    old_form = form_of(old, old.members[old_group])
    return not (new_form and old_form and new_form != old_form)


def _signature(members: list[str], table) -> tuple:
    """How many elements each variable of a layer holds, sorted: a reshaped kernel counts
    the same; whether the shapes really fit is `_fit`'s question."""
    if not members:
        return ("input",)
    sizes = []
    for name in members:
        shape = table[name].shape
        sizes.append(-1 if shape is None or None in shape else int(np.prod(shape, dtype=np.int64)))
    return tuple(sorted(sizes))


def _fit(new_members: list[str], old_members: list[str], context) -> bool:
    """Every variable of the new layer fits a variable of the old one, one each."""
    taken: set[str] = set()
    for name in new_members:
        options = [k for k in old_members if k not in taken and context.unfit(name, k) is None]
        if not options:
            return False
        taken.add(options[0])
    return True


def _pair_by_names(fitting, new, old):
    """Alike layers paired by the words of their names: each the other's one best match."""
    score = {
        (n, o): _similarity(_words(new.members[n]), _words(old.members[o])) for n, o in fitting
    }
    news = {n for n, _ in fitting}
    for n in news:
        best = _unique_best({o: s for (m, o), s in score.items() if m == n})
        if (
            best is not None
            and _unique_best({m: s for (m, o), s in score.items() if o == best}) == n
        ):
            yield n, best


def _words(names: list[str]) -> set[str]:
    return {w for name in names for w in re.split(r"[/_.\-]+", name.lower()) if w}


def _similarity(a: set[str], b: set[str]) -> float:
    """Words shared, a word matching another that starts like it (`pooled`, `pooler`)."""
    if not a or not b:
        return 0.0
    shared = sum(1 for w in a if any(_alike(w, v) for v in b))
    return shared / (len(a) + len(b) - shared)


def _alike(one: str, other: str) -> bool:
    if one == other:
        return True
    common = len(os.path.commonprefix([one, other]))
    return common >= 4 and common >= min(len(one), len(other)) - 1


def _unique_best(scores: dict):
    if not scores:
        return None
    best = max(scores.values())
    winners = [k for k, s in scores.items() if s == best]
    return winners[0] if len(winners) == 1 and best > 0 else None


# --- pairing variables inside paired layers --------------------------------------------------


def _pair_variables(context, assignments, new_members, old_members, new_free, old_free):
    """Inside one pair of layers: each free variable with the one free key that fits it (by
    shape, then by leaf name), when no other variable of the layer wants that key."""
    used = assignments.used_keys()
    news = [n for n in new_members if n in new_free and assignments.is_free(n)]
    olds = [o for o in old_members if o in old_free and o not in used]
    options = {n: _options(context, n, olds) for n in news}
    wanted = defaultdict(list)
    for n, keys in options.items():
        for key in keys:
            wanted[key].append(n)
    for n, keys in options.items():
        earlier = assignments.refused.get(n, ("", ()))[1]
        if earlier and keys != list(earlier):
            continue  # the op walk proposed another key, or none that fits: leave it
        if len(keys) > 1:
            assignments.refuse(n, "several variables of the layer at the same place fit it", keys)
        elif len(keys) == 1 and len(wanted[keys[0]]) > 1:
            assignments.refuse(n, "another variable of the layer fits its key as well", keys)
        elif len(keys) == 1:
            where = f"{_label(old_members)} ~ {_label(new_members)}"
            evidence = (Evidence("layer", f"in the layer at the same place: {where}"),)
            assignments.assign(n, keys[0], Match("structure", CONFIDENCE, evidence))


def _options(context, name: str, keys: list[str]) -> list[str]:
    fitting = [k for k in keys if context.unfit(name, k) is None]
    if len(fitting) > 1:
        leaf = name.rsplit("/", 1)[-1]
        same_leaf = [k for k in fitting if k.rsplit("/", 1)[-1] == leaf]
        return same_leaf if same_leaf else fitting
    return fitting


def _label(members: list[str]) -> str:
    scopes = sorted({m.rsplit("/", 1)[0] for m in members})
    return ", ".join(scopes[:3]) + (" ..." if len(scopes) > 3 else "")
