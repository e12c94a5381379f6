"""Chains of alike blocks, aligned block by block with gaps where blocks were added or removed.

A *block* is a scope holding model variables; its *signature* is the shapes and dtypes of
what it holds, whatever they are called. A *family* is the blocks of one signature under one
parent scope (`encoder/layer_0` ... `encoder/layer_5`). When each side has exactly one family
of a signature, and on each side every member feeds the next one along the data path (a
chain, not parallel heads or towers), the two chains are aligned: members paired in order,
the extra ones on the longer side gaps. With alike members, where the gaps go is free, so a
new member may sit with any old member some best alignment gives it; members already paired
(same names, --map) pin the alignment and split it into independent stretches.

The result replaces what the op walks proposed for the members' variables: a walk reaches a
stretch from one side only (an inserted layer norm, an adapter, stops it) and then pairs it as
if nothing had been inserted there. The candidates say what the chain allows; the names may
still single one out (chain_names.py), and where they do not, the plan lists them.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from itertools import pairwise

from graphdiff.match.alignment import ForwardGraph, canonical_op
from graphdiff.match.core import Assignments, MatchContext


@dataclass(frozen=True)
class ChainPlace:
    """Why a variable has its chain candidates: its block's place in its chain."""

    block: str  # the new variable's block scope
    index: int  # its place among its family's members, from 0
    old_blocks: tuple[str, ...]  # the old members some best alignment gives it
    settled: bool  # every best alignment gives it the one old member

    def describe(self, total: int, old_total: int) -> str:
        where = ", ".join(f"'{b}'" for b in self.old_blocks)
        return (
            f"block {self.index + 1} of a chain of {total} alike blocks, aligned with a chain "
            f"of {old_total}: at {where}"
        )


@dataclass
class Chains:
    """What the aligned chains say about the free new model variables."""

    candidates: dict[str, tuple[set[str], str, bool]] = field(default_factory=dict)
    # new variable in a chain -> (keys of the old blocks some best alignment puts its block
    # with, at the same path inside the block; why; whether every best alignment agrees)
    narrowing: set[str] = field(default_factory=set)
    # variables whose chain only narrows what the walks proposed (their blocks' ops are not
    # named inside them, as in a traced Keras model: the chain cannot tell a relu layer from
    # a sigmoid one, the walks can)
    reserved: dict[str, str] = field(default_factory=dict)  # key in an old member -> member
    members: set[str] = field(default_factory=set)  # new variables of new members

    def allows(self, name: str, key: str) -> bool:
        """A key inside an old chain member goes to a new member of that chain, or to no one:
        a block is a unit, and a layer norm inserted where a removed block's layer norm was
        is not that block."""
        return key not in self.reserved or name in self.members


def chain_candidates(
    context: MatchContext, assignments: Assignments, old: ForwardGraph, new: ForwardGraph
) -> Chains:
    """Align every pair of chains of alike blocks (one family a signature on each side)."""
    old_blocks = _blocks({k: context.checkpoint[k] for k in context.old_models()}, old)
    new_blocks = _blocks({n: context.new_variables[n] for n in context.models()}, new)
    chains = Chains()
    for old_family, new_family in _paired_families(old_blocks, new_blocks):
        old_chain = _chain(old, old_family, old_blocks)
        new_chain = _chain(new, new_family, new_blocks)
        if old_chain is None or new_chain is None:
            continue
        places = _align(old_chain, new_chain, _anchors(assignments, old_chain, new_chain))
        if places is None:
            continue
        for block in old_chain:
            chains.reserved.update(dict.fromkeys(old_blocks.members[block], block))
        ops_named = all(old_blocks.signature[b][1] for b in old_chain) and all(
            new_blocks.signature[b][1] for b in new_chain
        )
        for index, (block, (olds, settled)) in enumerate(zip(new_chain, places, strict=True)):
            place = ChainPlace(block, index, tuple(olds), settled)
            why = place.describe(len(new_chain), len(old_chain))
            chains.members.update(new_blocks.members[block])
            for name in new_blocks.members[block]:
                if not assignments.is_free(name):
                    continue
                inside = name[len(block) + 1 :]
                keys = {
                    f"{o}/{inside}"
                    for o in olds
                    if f"{o}/{inside}" in context.checkpoint
                    and context.unfit(name, f"{o}/{inside}") is None
                }
                if keys or not olds:
                    chains.candidates[name] = (keys, why, settled)
                    if not ops_named:
                        chains.narrowing.add(name)
    return chains


@dataclass
class _Blocks:
    """Every scope holding variables of one side: its variables and its signature."""

    members: dict[str, list[str]]  # scope -> the variables under it
    signature: dict[str, tuple]  # scope -> what it holds and computes (see _blocks)
    children: dict[str, list[str]]  # parent scope -> its child scopes that hold variables


def _blocks(variables: dict, graph: ForwardGraph) -> _Blocks:
    """A block's signature: the sorted dtypes and shapes of its variables, and the op types
    of the forward ops named inside it (an adapter with a layer's shapes but a relu where
    the layer has attention is another kind of block)."""
    members: dict[str, list[str]] = defaultdict(list)
    children: dict[str, list[str]] = defaultdict(list)
    for name in variables:
        parts = name.split("/")
        for depth in range(1, len(parts)):
            scope = "/".join(parts[:depth])
            if scope not in members:
                children["/".join(parts[: depth - 1])].append(scope)
            members[scope].append(name)
    ops = _ops_inside(graph, members)
    signature = {
        scope: (
            tuple(sorted((str(variables[n].dtype), _shape(variables[n].shape)) for n in names)),
            tuple(sorted(ops[scope].items())),
        )
        for scope, names in members.items()
    }
    return _Blocks(members, signature, children)


def _ops_inside(graph: ForwardGraph, scopes) -> dict[str, Counter]:
    """Scope -> how many forward ops of each type are named inside it (reads and variables
    left out: optimizer slots add those, and they compute nothing)."""
    inside: dict[str, Counter] = defaultdict(Counter)
    for node in graph.nodes:
        op = canonical_op(graph.dag.nodes[node]["op"])
        if op in ("Variable", "Identity"):
            continue
        parts = node.split("/")
        for depth in range(1, len(parts)):
            scope = "/".join(parts[:depth])
            if scope in scopes:
                inside[scope][op] += 1
    return inside


def _shape(shape) -> str:
    return "?" if shape is None else ",".join("?" if d is None else str(d) for d in shape)


def _families(blocks: _Blocks) -> dict[tuple, list[tuple[str, list[str]]]]:
    """signature -> [(parent, its children of that signature)]."""
    found: dict[tuple, list[tuple[str, list[str]]]] = defaultdict(list)
    for parent, children in blocks.children.items():
        by_signature: dict[tuple, list[str]] = defaultdict(list)
        for child in children:
            by_signature[blocks.signature[child]].append(child)
        for signature, alike in by_signature.items():
            found[signature].append((parent, alike))
    return found


def _paired_families(old_blocks: _Blocks, new_blocks: _Blocks):
    """(old members, new members) for each signature that one family holds on each side,
    with more than one member on some side."""
    old_families, new_families = _families(old_blocks), _families(new_blocks)
    for signature, olds in old_families.items():
        news = new_families.get(signature, [])
        if len(olds) != 1 or len(news) != 1:
            continue
        (_, old_members), (_, new_members) = olds[0], news[0]
        if max(len(old_members), len(new_members)) > 1:
            yield old_members, new_members


def _chain(graph: ForwardGraph, members: list[str], blocks: _Blocks) -> list[str] | None:
    """The members in data-path order, if each one reads the one before it and no later
    one; None when they are not a chain (parallel heads, towers, unread variables)."""
    order = _topological_index(graph)
    first_use = {}
    for member in members:
        uses = [order[op] for v in blocks.members[member] for op in _uses(graph, v) if op in order]
        if not uses:
            return None
        first_use[member] = min(uses)
    chain = sorted(members, key=first_use.__getitem__)
    return chain if _each_reads_the_previous(graph, chain, blocks, order) else None


def _each_reads_the_previous(graph, chain, blocks, order) -> bool:
    """Walk the graph once in order, carrying for each op the latest member it depends on."""
    if len(chain) < 2:
        return True
    member_of = {}  # read op of a member's variable -> its index
    for index, member in enumerate(chain):
        for variable in blocks.members[member]:
            member_of[variable] = index
            for op in _reads(graph, variable):
                member_of[op] = index
    latest: dict[str, int] = {}  # op -> the latest member it depends on
    needs: dict[int, int] = defaultdict(lambda: -1)  # member -> the latest other one it reads
    for node in sorted(order, key=order.__getitem__):
        if node in member_of:
            latest[node] = member_of[node]
            continue
        inputs = [p for p, _ in graph.dag.nodes[node]["inputs"] if p in latest]
        own = {member_of[p] for p in inputs if p in member_of}
        for index in own:
            for other in (latest[p] for p in inputs if latest[p] != index):
                needs[index] = max(needs[index], other if other < index else len(chain))
        if inputs:
            latest[node] = max(latest[p] for p in inputs)
    return needs[0] == -1 and all(needs[i] == i - 1 for i in range(1, len(chain)))


def _align(old_chain, new_chain, anchors) -> list[tuple[list[str], bool]] | None:
    """For each new member, the old members some best alignment pairs it with (empty: it is
    an insertion in every one), and whether every best alignment pairs it with that one
    member. Anchors (new index, old index) must rise together."""
    anchors = sorted(anchors)
    if any(b[0] <= a[0] or b[1] <= a[1] for a, b in pairwise(anchors)):
        return None  # the names pair the blocks out of order: not one chain
    bounds = [(-1, -1), *anchors, (len(new_chain), len(old_chain))]
    places: list[tuple[list[str], bool]] = [([], True) for _ in new_chain]
    for (new_start, old_start), (new_end, old_end) in pairwise(bounds):
        if new_end < len(new_chain):
            places[new_end] = ([old_chain[old_end]], True)
        news = range(new_start + 1, new_end)
        olds = range(old_start + 1, old_end)
        extra = len(news) - len(olds)  # > 0: blocks added in this stretch; < 0: removed
        for j, new_index in enumerate(news):
            low, high = max(0, j - max(extra, 0)), min(j - min(extra, 0), len(olds) - 1)
            settled = extra == 0 or not olds  # in the stretch alone, or nothing to pair with
            places[new_index] = ([old_chain[olds[i]] for i in range(low, high + 1)], settled)
    return places


def _anchors(assignments: Assignments, old_chain, new_chain) -> set[tuple[int, int]]:
    """(new index, old index) of members whose variables are already paired between them."""
    old_index = {block: i for i, block in enumerate(old_chain)}
    new_index = {block: i for i, block in enumerate(new_chain)}
    anchors = set()
    for name, (key, _) in assignments.pairs.items():
        new_block = _block_of(name, new_index)
        old_block = _block_of(key, old_index)
        if new_block is not None and old_block is not None:
            anchors.add((new_index[new_block], old_index[old_block]))
    return anchors


def _block_of(name: str, index: dict[str, int]) -> str | None:
    parts = name.split("/")
    for depth in range(len(parts) - 1, 0, -1):
        scope = "/".join(parts[:depth])
        if scope in index:
            return scope
    return None


def _uses(graph: ForwardGraph, variable: str):
    """The forward ops that read `variable` (through its read ops)."""
    for op in _reads(graph, variable):
        for consumer, _, _ in graph.consumers.get(op, ()):
            if consumer in graph.nodes and canonical_op(graph.dag.nodes[consumer]["op"]) != (
                "Identity"
            ):
                yield consumer


def _reads(graph: ForwardGraph, variable: str):
    """`variable` and the Identity / ReadVariableOp ops that read it."""
    yield variable
    for consumer, _, _ in graph.consumers.get(variable, ()):
        if consumer in graph.nodes and canonical_op(graph.dag.nodes[consumer]["op"]) == "Identity":
            yield consumer


def _topological_index(graph: ForwardGraph) -> dict[str, int]:
    """Forward op -> its place in one topological order (kept on the graph: asked per family)."""
    if graph.order is None:
        pending = {
            node: sum(1 for p, _ in graph.dag.nodes[node]["inputs"] if p in graph.nodes)
            for node in graph.nodes
        }
        queue = deque(sorted(node for node, count in pending.items() if count == 0))
        order: dict[str, int] = {}
        while queue:
            node = queue.popleft()
            order[node] = len(order)
            for consumer, _, _ in graph.consumers.get(node, ()):
                if consumer in pending:
                    pending[consumer] -= 1
                    if pending[consumer] == 0:
                        queue.append(consumer)
        graph.order = order
    return graph.order
