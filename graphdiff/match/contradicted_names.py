"""Same names the graph contradicts: a name reused for another layer is withdrawn.

Layers renumbered (`dense`, `dense_1` -> `dense_1`, `dense_2`), a block inserted among blocks
named by a loop's counter with the rest renumbered: the names now label other layers, and
keeping them would restore each layer into its neighbour. The graph read without names (the
walks from the inputs and from the outputs) says so when both walks agree, when the names
would split a layer the graph keeps whole, or when one walk gives the shift and the other
stopped at the layer the name was given to (it applies another activation: its op refuses
the old one), saying nothing of the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from graphdiff.match.activations import ActivationAfter
from graphdiff.match.alignment import Alignment, ForwardGraph, canonical_op, forward_graph
from graphdiff.match.core import Assignments

_NUMBERED = re.compile(r"\d+$")


@dataclass(frozen=True)
class Sides:
    """The two forward graphs and what each layer applies after its op (activations.py)."""

    old: ForwardGraph
    new: ForwardGraph
    old_activation: ActivationAfter
    new_activation: ActivationAfter

    def refuses(self, name: str, key: str) -> bool:
        """The op reading `name` applies another activation than the one reading `key`.
        Only the activation: other strides are no refusal here (tf_slim's resnet made deeper
        keeps its strided last unit's name on a unit of stride 1)."""
        new_reader, old_reader = _reader(self.new, name), _reader(self.old, key)
        if not new_reader or not old_reader:
            return False
        new_applies = self.new_activation.of(new_reader)
        old_applies = self.old_activation.of(old_reader)
        return bool(new_applies and old_applies and new_applies != old_applies)


def renumbered_families(context, assignments: Assignments) -> set:
    """Numbered families whose same names the graph refuses somewhere (a block of another
    activation took a member's name): renumbered around an inserted block, not grown, so a
    member they did not have may well be an old one moved up (see in_family)."""
    old, new = forward_graph(context.old_dag), forward_graph(context.new_dag)
    sides = Sides(old, new, ActivationAfter(old), ActivationAfter(new))
    return _vetoed_families(assignments, sides)


def in_family(name: str, families: set) -> bool:
    return _family(name) in families


def withdraw_contradicted_names(context, assignments: Assignments, blind: Alignment, sides):
    """Release the same-name pairs the graph gives to other variables; return their names."""
    vetoed = _vetoed_families(assignments, sides)
    return _withdraw_contradicted_names(context, assignments, blind, vetoed)


class RefusedPredictions:
    """Rename predictions the graph refuses: the op reading the new variable is not the one
    reading the predicted key (another activation), as when a renamed stack had a block of
    another kind inserted and the rest renumbered. The block under that name and its numbered
    family lose the names' word: the block is initialized, and in the family a prediction the
    graph places elsewhere is not taken."""

    def __init__(self, predictions: dict[str, str], sides: Sides):
        self.blocks, self.families = set(), set()
        for name, key in predictions.items():
            if sides.refuses(name, key):
                self.blocks.add(_numbered_scope(name))
                self.families.add(_family(name))
        self.blocks.discard(None)
        self.families.discard(None)

    def in_refused_block(self, name: str) -> bool:
        return _numbered_scope(name) in self.blocks

    def in_doubted_family(self, name: str) -> bool:
        return _family(name) in self.families


def _vetoed_families(assignments: Assignments, sides: Sides) -> set:
    """Numbered families (`encoder/layer_`) with a same-name pair whose op the graph refuses
    (the layer under that name now applies another activation): the name was given to
    another layer, and the walk that stops there is no witness for the names after it."""
    return {
        _family(name)
        for name, (key, match) in assignments.pairs.items()
        if match.method == "name" and _family(name) is not None and sides.refuses(name, key)
    }


def _reader(graph, variable: str) -> str | None:
    """The one op that reads `variable` (through its reads and casts), or None."""
    node = variable
    for _ in range(4):
        readers = [c for c, _, _ in graph.consumers.get(node, ()) if c in graph.nodes]
        if len(readers) != 1:
            return None
        node = readers[0]
        if canonical_op(graph.dag.nodes[node]["op"]) not in ("Identity", "Cast"):
            return node
    return None


def _family(name: str) -> tuple[str, str] | None:
    """(scope, stem) of the innermost numbered scope of `name` (`enc`, `layer_` for
    `enc/layer_1/fc/kernel`), or None."""
    scope = _numbered_scope(name)
    if scope is None:
        return None
    parent, _, last = scope.rpartition("/")
    return parent, _NUMBERED.sub("", last)


def _withdraw_contradicted_names(
    context, assignments: Assignments, blind: Alignment, vetoed: set
) -> set[str]:
    """Same names that the graph, read without names, gives to other variables on both sides.

    Only when each side has exactly one other partner, and either the walk from the inputs
    and the walk from the outputs agree, or the names split a layer that the graph keeps
    whole (a sibling cannot take its same-named key, its shape differs, and the graph puts
    both in one other layer): the names were reused for other variables (layers renumbered),
    and keeping them would restore each into its neighbour.
    """
    primaries = set(context.old_models())
    variables = set(context.new_variables)
    demoted = set()
    for name, (key, match) in list(assignments.pairs.items()):
        if match.method != "name":
            continue
        placed = blind.proposals.get(name, set()) & primaries
        takers = blind.proposers.get(key, set()) & variables
        one_walk = _family(name) in vetoed
        if _name_reused(blind, name, key, placed, takers, assignments, one_walk):
            assignments.release(name)
            demoted.add(name)
            continue
        if len(placed) != 1 or len(takers) != 1:
            continue
        other_key, other_name = next(iter(placed)), next(iter(takers))
        if other_key == key or other_name == name:
            continue
        if blind.proposers.get(other_key, set()) & variables != {name}:
            continue
        agreed = _boundary_walks_agree(blind, [(name, other_key), (other_name, key)], one_walk)
        if not agreed and not _layer_split(context, blind, name, other_key):
            continue
        assignments.release(name)
        demoted.add(name)
    demoted |= _discredit_reused_blocks(assignments, blind, demoted)
    return demoted


def _discredit_reused_blocks(assignments: Assignments, blind: Alignment, demoted) -> set[str]:
    """A name the graph shows reused (`layer_1` now labels an inserted block) says nothing of
    the rest of that block either: its other same-name pairs stand only where both walks
    confirm them."""
    blocks = {_numbered_scope(name) for name in demoted} - {None}
    released = set()
    for name, (key, match) in list(assignments.pairs.items()):
        if match.method != "name" or _numbered_scope(name) not in blocks:
            continue
        if {"inputs", "outputs"} <= blind.walks[(name, key)]:
            continue
        assignments.release(name)
        released.add(name)
    return released


def _numbered_scope(name: str) -> str | None:
    """The scope up to the innermost numbered part of `name` (`enc/layer_1` in
    `enc/layer_1/fc/kernel`), or None."""
    parts = name.split("/")[:-1]
    for end in range(len(parts), 0, -1):
        if _NUMBERED.search(parts[end - 1]):
            return "/".join(parts[:end])
    return None


def _name_reused(blind: Alignment, name, key, placed, takers, assignments, one_walk) -> bool:
    """The name now labels a variable the graph reaches from nowhere (a new layer on a new
    input), while both walks put its key at one other, unmatched variable: that one is it."""
    if placed or len(takers) != 1:
        return False
    other = next(iter(takers))
    if other == name or not _boundary_walks_agree(blind, [(other, key)], one_walk):
        return False
    if other not in assignments.pairs:
        return True
    # `other` holds its own same name for now: both names shifted by a layer inserted before
    # them; the walk that reaches them stops at `name`, a layer of another kind.
    held = assignments.pairs[other]
    return held[1].method == "name" and not blind.walks[(other, held[0])]


def _boundary_walks_agree(
    blind: Alignment, pairs: list[tuple[str, str]], one_walk: bool = False
) -> bool:
    """The walks from the inputs and from the outputs both give every pair; or, with
    `one_walk` (a same name among these layers is vetoed by its op: another activation), one
    gives them and the other says nothing of any of their variables: it stopped at that layer
    of another kind, which is no contradiction."""
    both = {"inputs", "outputs"}
    if all(both <= blind.walks[pair] for pair in pairs):
        return True
    if not one_walk:
        return False
    names = {name for name, _ in pairs}
    keys = {key for _, key in pairs}
    for one, other in (("inputs", "outputs"), ("outputs", "inputs")):
        if all(one in blind.walks[pair] for pair in pairs) and not _mentions(
            blind, other, names, keys
        ):
            return True
    return False


def _mentions(blind: Alignment, walk: str, names: set[str], keys: set[str]) -> bool:
    """Whether `walk` proposed anything for these new variables or checkpoint keys."""
    for name in names:
        if any(walk in blind.walks[(name, key)] for key in blind.proposals.get(name, ())):
            return True
    for key in keys:
        if any(walk in blind.walks[(name, key)] for name in blind.proposers.get(key, ())):
            return True
    return False


def _layer_split(context, blind: Alignment, name: str, other_key: str) -> bool:
    """A sibling of `name` lost its same-named key to a shape change, and the graph places it
    in the layer where it places `name`."""
    scope, other_scope = name.rpartition("/")[0], other_key.rpartition("/")[0]
    for sibling in context.new_variables:
        if sibling == name or sibling.rpartition("/")[0] != scope:
            continue
        spec = context.checkpoint.get(sibling)
        if spec is None or not context.unfit(sibling, sibling):
            continue
        placed = blind.proposals.get(sibling, set())
        if len(placed) == 1 and next(iter(placed)).rpartition("/")[0] == other_scope:
            return True
    return False
