"""Embedding tables, paired by shapes unique among the tables and by being summed alike.

A *table* is a model variable a lookup reads: a gather, a slice (a position table), or a
matmul with a one-hot (Google's BERT looks token types up so). Two implementations of one
model wire their lookups differently (a one-hot matmul here, a gather there; position and
token tables added in another order), so the op walk stops at them, and the layer walk,
which starts from what is paired, never starts. Two pieces of evidence do not depend on the
wiring:

- a shape that one table alone has, among the tables of each side (`[vocab, H]`,
  `[max_positions, H]`, `[type_vocab, H]`);
- the tables being summed into one tensor (the embeddings' sum, before their LayerNorm).

Tables pair when both hold: each table of a sum pairs by unique shape with a table of one sum
on the other side, and at least two tables do. A lone table, or one whose shape another table
shares, is left to the other matchers.
"""

from __future__ import annotations

from collections import defaultdict

import networkx as nx

from graphdiff.graph_model import VARIABLE_OPS
from graphdiff.match.core import Assignments, MatchContext
from graphdiff.plan import Evidence, Match

CONFIDENCE = 0.9
_GATHERS = frozenset({"Gather", "GatherV2", "ResourceGather", "GatherNd"})
_SLICES = frozenset({"Slice", "StridedSlice"})
_READS = frozenset({"Identity", "ReadVariableOp", "Cast"})
_CARRIES = frozenset({"Reshape", "BroadcastTo", "ExpandDims", "Squeeze", "Identity", "Cast"})
_SUMS = frozenset({"Add", "AddV2"})


def match_lookup_tables(context: MatchContext, assignments: Assignments) -> None:
    """Pair the free tables of sums that pair table for table by unique shapes."""
    old_sums = _sums(context.old_dag, context.old_models())
    new_sums = _sums(context.new_dag, context.models())
    old_tables = [k for tables in old_sums.values() for k in tables]
    new_tables = [n for tables in new_sums.values() for n in tables]
    if len(old_tables) < 2 or len(new_tables) < 2:
        return
    partner = _unique_partners(context, new_tables, old_tables)
    old_sum_of = {key: root for root, keys in old_sums.items() for key in keys}
    for tables in new_sums.values():
        pairs = {n: partner[n] for n in tables if n in partner}
        roots = {old_sum_of[k] for k in pairs.values()}
        if len(pairs) < 2 or len(pairs) != len(tables) or len(roots) != 1:
            continue
        if not _free(context, assignments, pairs):
            continue
        for name, key in pairs.items():
            if name in assignments.pairs:
                continue
            others = ", ".join(f"'{o}'" for o in sorted(set(pairs.values()) - {key}))
            shape = list(context.checkpoint[key].shape)
            evidence = (
                Evidence("unique_shape", f"the one table of shape {shape} on each side"),
                Evidence("summed_with", f"summed with {others} on both sides"),
            )
            assignments.assign(name, key, Match("structure", CONFIDENCE, evidence))


def _free(context, assignments, pairs) -> bool:
    """Every pair is already made, or both its ends are free and undisputed."""
    used = assignments.used_keys()
    for name, key in pairs.items():
        if name in assignments.pairs:
            if assignments.pairs[name][0] != key:
                return False
        elif not assignments.is_free(name) or key in used:
            return False
        elif len(assignments.refused.get(name, ("", ()))[1]) > 1:
            return False  # the graph saw several candidates: not for shapes to settle
    return True


def _unique_partners(context, new_tables, old_tables) -> dict[str, str]:
    """New table -> the one old table it fits, when that old table fits no other new one."""
    fits = {n: [k for k in old_tables if context.unfit(n, k) is None] for n in new_tables}
    takers = defaultdict(int)
    for keys in fits.values():
        for key in keys:
            takers[key] += 1
    return {n: keys[0] for n, keys in fits.items() if len(keys) == 1 and takers[keys[0]] == 1}


def _sums(dag: nx.DiGraph, variables) -> dict[str, list[str]]:
    """Sum op -> the tables whose lookups it adds up (only sums of two tables or more)."""
    consumers = defaultdict(list)
    for name, attrs in dag.nodes(data=True):
        for producer, _ in attrs["inputs"]:
            consumers[producer].append(name)
    found = defaultdict(list)
    for variable in variables:
        if variable not in dag or dag.nodes[variable]["op"] not in VARIABLE_OPS:
            continue
        roots = {_sum_root(dag, consumers, op) for op in _lookups(dag, consumers, variable)}
        roots.discard(None)
        if len(roots) == 1:
            found[roots.pop()].append(variable)
    return {root: sorted(tables) for root, tables in found.items() if len(tables) > 1}


def _lookups(dag, consumers, variable: str):
    """The lookup ops reading `variable` (through its reads)."""
    frontier, seen = [variable], {variable}
    while frontier:
        node = frontier.pop()
        for consumer in consumers.get(node, ()):
            if consumer in seen:
                continue
            seen.add(consumer)
            op = dag.nodes[consumer]["op"]
            if op in _READS:
                frontier.append(consumer)
            elif op in _GATHERS or op in _SLICES or (op == "MatMul" and _one_hot(dag, consumer)):
                yield consumer


def _one_hot(dag, matmul: str) -> bool:
    return any(dag.nodes[p]["op"] == "OneHot" for p, _ in dag.nodes[matmul]["inputs"])


def _sum_root(dag, consumers, lookup: str) -> str | None:
    """The last of the additions the lookup's result flows through (None: none)."""
    node, root = lookup, None
    for _ in range(16):
        following = [c for c in consumers.get(node, ()) if dag.nodes[c]["op"] in _CARRIES | _SUMS]
        if len(following) != 1:
            return root
        node = following[0]
        if dag.nodes[node]["op"] in _SUMS:
            root = node
    return root
