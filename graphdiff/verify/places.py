"""Misplaced restores: a restored variable read where the old model read another restored one.

The frontier only grows through what the plan pairs, so a plan that puts an old tensor into the
wrong variable does not make a shared tensor differ: the frontier stops short of it, silently.
Yet the place shows it. Where a new op is not shared, every input but one is shared, that one
is the value of a restored variable (source `b`), and the old graph has exactly one op of the
same type and attributes with the same other inputs, reading variable `a` there, then the new
model computes, on the same values, with `b` what the old one computed with `a`. When `a` is
restored too, into another variable of the new model, the two were most likely swapped: the
pair (the new op, the old op) is compared bit for bit, and differs unless their values are
equal. (A block removed, whose successor now reads at its place, is no such case: the removed
block's variables are restored nowhere.)

Takes the Correspondence (frontier.py) and the plan; gives TensorPairs (`misplaced`) with the
reason in words.
"""

from __future__ import annotations

from collections import defaultdict

from graphdiff.graph_model import VARIABLE_OPS
from graphdiff.plan import Plan
from graphdiff.verify.values import HOLE, TRANSPARENT, op_key

MISPLACED = "misplaced"


def misplaced_pairs(correspondence, plan: Plan) -> list:
    """(new op:0, old op:0, reason) for every misplaced restore (module docstring)."""
    from graphdiff.verify.frontier import TensorPair

    keys = _old_variable_keys(correspondence)
    restored_into = {}
    for entry in plan.restored:
        if not entry.transforms:
            restored_into.setdefault(entry.source, entry.name)
    index = _place_index(correspondence, keys)
    pairs = []
    new, values = correspondence.new, correspondence.new_values
    for name in new.order:
        found = _place(correspondence, name, keys)
        if found is None:
            continue
        place, source, ids = found
        key = op_key(new, name, [HOLE if k == place else v for k, v in enumerate(ids)])
        candidates = index.get(key, [])
        if len(candidates) != 1:
            continue
        old_op, old_source = candidates[0]
        if old_source == source or old_source not in restored_into:
            continue
        variable = correspondence.entry_of.get(_variable_of(new, new.inputs(name)[place][0]))
        sources = {entry.name: entry.source for entry in plan.restored}
        renamed = [
            f"{n} from {sources[n]!r}"
            for n in correspondence.restored_upstream([name])
            if n in sources and sources[n] != n
        ]
        reason = (
            f"on the same values the old model read {old_source!r} where the new model reads "
            f"{variable} (restored from {source!r}), and the plan restores {old_source!r} into "
            f"{restored_into[old_source]}: swapped?"
        )
        if renamed:
            shown = ", ".join(renamed[:5]) + (
                f" ({len(renamed) - 5} more)" if len(renamed) > 5 else ""
            )
            reason += f" Restored upstream from another name: {shown}"
        if not values.is_dead(name):
            pairs.append(TensorPair(f"{name}:0", f"{old_op}:0", False, MISPLACED, reason))
    return pairs


def _old_variable_keys(correspondence) -> dict[int, str]:
    """Old value id -> the checkpoint key of the variable it is the value of."""
    old = correspondence.old
    return {
        correspondence.old_values.ids[name]: correspondence.old_keys.get(name, name)
        for name in old.order
        if old.op(name) in VARIABLE_OPS
    }


def _place_index(correspondence, keys: dict[int, str]) -> dict[tuple, list]:
    """Each old op's key with one variable input left open -> (old op, that variable's key)."""
    old, values = correspondence.old, correspondence.old_values
    index: dict[tuple, list] = defaultdict(list)
    for name in old.order:
        inputs = old.inputs(name)
        if (
            len(inputs) < 2
            or name not in old.forward.nodes
            or old.op(name) in TRANSPARENT
            or values.ids.get(name, -1) < 0
            or values.may_not_run(name)
        ):
            continue
        ids = [values.of(*i) for i in inputs]
        for place, value in enumerate(ids):
            if value[0] in keys:
                key = op_key(old, name, [HOLE if k == place else v for k, v in enumerate(ids)])
                index[key].append((name, keys[value[0]]))
    return index


def _place(correspondence, name: str, keys: dict[int, str]):
    """(place, source key, input ids) when new op `name` reads a restored variable at one
    place and shared values everywhere else, and is not itself shared; else None."""
    new, values = correspondence.new, correspondence.new_values
    inputs = new.inputs(name)
    if (
        len(inputs) < 2
        or name not in new.forward.nodes
        or new.op(name) in TRANSPARENT
        or new.op(name) in VARIABLE_OPS
        or name in correspondence.cut_ops
        or correspondence.shared(name)
        or values.may_not_run(name)
    ):
        return None
    ids = [values.of(*i) for i in inputs]
    variables = [k for k, v in enumerate(ids) if v[0] in keys]
    others_shared = all(v[0] >= 0 for k, v in enumerate(ids) if k not in variables)
    if len(variables) != 1 or not others_shared:
        return None
    place = variables[0]
    return place, keys[ids[place][0]], ids


def _variable_of(view, op: str) -> str:
    """The variable op a chain of reads (Identity, ReadVariableOp) starts from."""
    while view.op(op) in TRANSPARENT and view.inputs(op):
        op = view.inputs(op)[0][0]
    return op
