"""Cuts: a restored layer fed something new is fed, instead, what the old layer read.

A layer inserted before restored ones (a bottleneck between encoder and decoder) leaves
nothing after it shared: the decoder's input is new. Yet the restored decoder must still
compute what the old one did on the same input. So where a new op is not shared, has exactly
one input that is not shared, and the old graph has exactly one op of the same type and
attributes whose other inputs have the same values (at least one computed from a restored
variable), that new input is *cut*: verify feeds it the value the old op's input had in the
old graph's run. What follows is numbered again, and is shared when it computes what the old
graph computed from there; repeated until nothing more is cut, the cuts nearest the inputs
first (one further down would cut the comparison short).

Only new data is cut: both tensors must be computed from the inputs, never parameters alone (a
new, initialized bias fed the old one's value would hide that it was not restored), and the
new tensor from something the old graph does not have (a variable initialized or transformed,
an input paired with none). A tensor computed from restored variables and paired inputs alone
that the old graph does not compute is no layer inserted but a difference: an op changed, or
a restore misplaced (places.py), and cutting after it would hide it. The old value must fit
the new tensor (`fits`: dtype, static shape). Two candidates, or one new
tensor claimed by two old ones, make no cut. A cut is sound whatever it pairs: it only says
which array a tensor is fed, and the comparison after it is still of the same ops on the same
values.
"""

from __future__ import annotations

from collections import defaultdict

from graphdiff.graph_model import VARIABLE_OPS
from graphdiff.verify.values import HOLE, TRANSPARENT, GraphView, Values, op_key

MAX_ROUNDS = 16


def cut_index(
    old: GraphView, values: Values, depth: dict, from_inputs: dict[str, bool]
) -> dict[tuple, list[str]]:
    """Each old op's key with one data input left open -> the old tensors at that place."""
    index: dict[tuple, list[str]] = defaultdict(list)
    for name in old.order:
        inputs = old.inputs(name)
        if not _keyed(old, name, values, depth) or len(inputs) < 2:
            continue
        ids = [values.of(*i) for i in inputs]
        for place, (producer, port) in enumerate(inputs):
            if not from_inputs.get(producer) or values.may_not_run(producer, port):
                continue
            key = op_key(old, name, [HOLE if k == place else v for k, v in enumerate(ids)])
            index[key].append(f"{producer}:{port}")
    return index


def _keyed(view: GraphView, name: str, values: Values, depth: dict) -> bool:
    """An op numbered by what it computes (not a source, a read or a stateful op)."""
    return (
        name in view.forward.nodes
        and name in values.ids
        and values.ids[name] >= 0
        and view.op(name) not in TRANSPARENT
        and not depth.get(name)
        and not values.may_not_run(name)
    )


def find_cuts(
    correspondence, index: dict, fits, anchored: dict, from_inputs: dict, novel: dict
) -> dict:
    """New tensor -> old tensor, for the cuts the new graph's numbering now allows."""
    new, values = correspondence.new, correspondence.new_values
    found: dict[str, str] = {}
    clashes: set[str] = set()
    for name in new.order:
        inputs = new.inputs(name)
        if len(inputs) < 2 or not _open_op(correspondence, name):
            continue
        ids = [values.of(*i) for i in inputs]
        open_places = [k for k, v in enumerate(ids) if v[0] < 0]  # the old graph has none
        if len(open_places) != 1:
            continue
        place = open_places[0]
        producer, port = inputs[place]
        others = [p for k, (p, _) in enumerate(inputs) if k != place]
        if not (from_inputs.get(producer) and novel.get(producer)):
            continue
        if not any(anchored.get(p) for p in others):
            continue
        key = op_key(new, name, [HOLE if k == place else v for k, v in enumerate(ids)])
        candidates = set(index.get(key, ()))
        if len(candidates) != 1:
            continue
        tensor, old_tensor = f"{producer}:{port}", candidates.pop()
        if found.get(tensor, old_tensor) != old_tensor:
            clashes.add(tensor)
        found[tensor] = old_tensor
    found = {t: o for t, o in found.items() if t not in clashes and fits(t, o)}
    return _first(new, found)


def _first(view: GraphView, found: dict[str, str]) -> dict[str, str]:
    """The cuts no other one is upstream of: once those are fed, what follows them may be
    shared again, and a cut further down would only cut the comparison short."""
    ops = {tensor.rsplit(":", 1)[0] for tensor in found}
    below = computed_from(view, ops)
    return {
        tensor: old
        for tensor, old in found.items()
        if not any(below.get(p) for p, _ in view.inputs(tensor.rsplit(":", 1)[0]))
    }


def _open_op(correspondence, name: str) -> bool:
    new, values = correspondence.new, correspondence.new_values
    return (
        name in new.forward.nodes
        and new.op(name) not in VARIABLE_OPS
        and new.op(name) not in TRANSPARENT
        and name not in correspondence.new_sources
        and not correspondence.shared(name)
        and not values.may_not_run(name)
        and not correspondence.new_depth[name]
    )


def computed_from(view: GraphView, sources) -> dict[str, bool]:
    """Op -> whether some of `sources` (ops) is upstream of it (through data inputs)."""
    sources = set(sources)
    found: dict[str, bool] = {}
    for name in view.order:
        found[name] = name in sources or any(
            found.get(producer, False) for producer, _ in view.inputs(name)
        )
    return found
