"""A layer is a unit: its variables go to one new layer together, or none of them does.

After every matcher has spoken, an old layer (units.py: a scope's variables) whose variables
went to several new layers is checked: a new layer that took part of it while another part,
which it could have taken too, went elsewhere has half a layer: the old classifier's kernel
in an inserted Dense and its bias in the classifier. Of such a split, the link with the
strongest evidence stays and the others are withdrawn (initialized, the key listed). Copies
of one layer (towers) each take all of it and are no split; a layer whose kernel changed
shape and whose bias alone is restored went to one layer, not two.
"""

from __future__ import annotations

from collections import defaultdict

from graphdiff.match.core import Assignments, MatchContext
from graphdiff.match.units import group_units, pair_members, unit_of

# How much a pair's method says for its layer (a user's --map most, a lone inferred rule least).
_WEIGHT = {"user_rule": 5, "name": 4, "structure": 3, "inferred_rule": 2}


def keep_layers_whole(context: MatchContext, assignments: Assignments) -> None:
    """Withdraw the weaker parts of old layers split across new layers."""
    links: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for name in context.models():
        if name in assignments.pairs:
            key, _ = assignments.pairs[name]
            links[unit_of(key)][unit_of(name)].append(name)
    old_units = group_units(context.old_models())
    new_units = group_units(context.models())
    for old_unit, by_new in links.items():
        if context.old_layers:
            _keep_only_whole(context, assignments, old_units.get(old_unit, []), by_new)
        by_new = {u: [n for n in names if n in assignments.pairs] for u, names in by_new.items()}
        by_new = {u: names for u, names in by_new.items() if names}
        if len(by_new) < 2:
            continue
        partial = {
            new_unit
            for new_unit, names in by_new.items()
            if _could_take_more(
                context, assignments, old_units.get(old_unit, []), new_units[new_unit]
            )
        }
        if not partial:
            continue
        weight = {u: _weight(context, assignments, names) for u, names in by_new.items()}
        best = max(weight.values())
        leaders = [u for u in by_new if weight[u] == best]
        keep = leaders[0] if len(leaders) == 1 else None
        for new_unit, names in by_new.items():
            # A partial link goes, unless it is the strongest; when the strongest is partial,
            # what went elsewhere was its own.
            if new_unit != keep and (new_unit in partial or keep in partial):
                _withdraw(assignments, names, old_unit, keep)


def _keep_only_whole(context, assignments, old_members, by_new) -> None:
    """Keras layers are known for what they are: one restored in part (its kernel changed
    shape, its bias did not) is initialized whole, as a new layer."""
    for new_unit, names in by_new.items():
        if any(assignments.pairs[n][1].method == "user_rule" for n in names):
            continue
        restored = {assignments.pairs[n][0] for n in names}
        missing = sorted(set(old_members) - restored)
        if not missing:
            continue
        for name in names:
            key, _ = assignments.pairs[name]
            assignments.withdraw(
                name,
                f"'{key}' fits here, but its layer's '{missing[0]}' fits nothing in "
                f"'{new_unit}': a layer is restored whole, or not at all",
            )


def _could_take_more(context, assignments, old_members, new_members) -> bool:
    """Some variable of the old layer that went elsewhere (or nowhere) fits a variable of this
    new layer that restores nothing."""
    used_here = {assignments.pairs[n][0] for n in new_members if n in assignments.pairs}
    idle = [n for n in new_members if n not in assignments.pairs]
    rest = [k for k in old_members if k not in used_here]
    if not idle or not rest:
        return False
    return bool(pair_members(idle, rest, lambda n, k: context.unfit(n, k) is None))


def _weight(context, assignments, names) -> int:
    best = 0
    for name in names:
        method = assignments.pairs[name][1].method
        weight = _WEIGHT.get(method, 1)
        if method == "name" and name in context.counted:
            weight = 2  # a counted name is a position, not an identity
        best = max(best, weight)
    return best


def _withdraw(assignments, names, old_unit, kept) -> None:
    where = f"'{kept}'" if kept else "several layers alike"
    for name in names:
        key, _ = assignments.pairs[name]
        assignments.withdraw(
            name,
            f"'{key}' fits here, but the rest of its layer '{old_unit}' goes to {where}: a "
            "layer is restored whole into one layer, or not at all",
        )
