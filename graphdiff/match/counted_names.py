"""Same names that were counted, not chosen: Keras's `dense`, `dense_1`, `dense_2`.

Keras names a layer nobody named by its kind and its place among layers of that kind, so
inserting a Dense layer renumbers every Dense layer after it. A same name is then evidence of
position only, the very evidence `load_weights` goes by. When the graph, read without names,
offers that key to another variable as well (a layer of the same kind and shapes inserted or
removed beside it), which of the two is new only the code's author knows: both are
initialized, with the key as their candidate, and `--map` settles it.
"""

from __future__ import annotations

from graphdiff.match.alignment import Alignment
from graphdiff.match.core import Assignments, MatchContext


def refuse_counted_names(context: MatchContext, assignments: Assignments, blind: Alignment):
    """Withdraw same-name pairs of counted names that the graph also gives to another free
    variable; refuse both for good. Returns the names withdrawn."""
    withdrawn = set()
    mapped = {k: n for n, (k, m) in assignments.pairs.items() if m.method == "user_rule"}
    for name, (key, match) in list(assignments.pairs.items()):
        if match.method != "name" or name not in context.counted:
            continue
        if key in mapped:  # the user sent this key elsewhere: the count says nothing more
            assignments.release(name)
            withdrawn.add(name)
            reason = f"--map gives '{key}' to '{mapped[key]}'; its name here only counts layers"
            assignments.refuse(name, reason, (key,), final=True)
            continue
        rivals = {
            other
            for other in blind.proposers.get(key, set())
            if other != name
            and other in context.new_variables
            and other not in assignments.pairs
            and context.unfit(other, key) is None
            and _whole_layer_fits(context, other, key)
        }
        if not rivals:
            continue
        assignments.release(name)
        withdrawn.add(name)
        for taker in sorted({name} | rivals):
            others = ", ".join(sorted(({name} | rivals) - {taker}))
            reason = (
                f"'{key}' fits here and at {others} alike, and the name '{key}' only counts "
                "layers of a kind (Keras names unnamed layers dense, dense_1, ...): which "
                "layer is new, only the code says; name the layers, or confirm with --map"
            )
            assignments.refuse(taker, reason, (key,), final=True)
    return withdrawn


def _whole_layer_fits(context: MatchContext, name: str, key: str) -> bool:
    """Every variable of `name`'s layer takes the same-leaf variable of `key`'s layer (a
    wider layer whose bias alone fits is no rival)."""
    scope, old_scope = name.rpartition("/")[0], key.rpartition("/")[0]
    new_leaves = {
        n.rpartition("/")[2] for n in context.new_variables if n.rpartition("/")[0] == scope
    }
    old_leaves = {
        k.rpartition("/")[2] for k in context.checkpoint if k.rpartition("/")[0] == old_scope
    }
    if new_leaves != old_leaves:
        return False
    return all(
        context.unfit(
            f"{scope}/{leaf}" if scope else leaf, f"{old_scope}/{leaf}" if old_scope else leaf
        )
        is None
        for leaf in new_leaves
    )
