"""Match variables by where they sit in the computation, and infer the renames that explain it.

1. Align the two forward graphs from anchors (alignment.py): variables already matched,
   inputs and outputs. Every variable the walk reaches gets proposed checkpoint keys.
2. A proposal is *clean* when the new variable has one candidate and the key one taker.
   From the clean pairs, count rename edits (a scope prefix swapped, a leaf renamed).
3. Accept a clean pair when every edit it needs is seen at least twice: structure and names
   then agree. Towers: one key taken by several copies, each a rename with the same support.
   Ambiguous variables are settled by a well-supported rule when it picks one candidate.
4. Apply the supported rules to variables the walk never reached (optimizer state, unused
   variables), refusing anything that contradicts the structure.

Precision first: what is left unsure is initialized, and the plan lists the candidates.
"""

from __future__ import annotations

from collections import Counter

from graphdiff.match.alignment import Alignment, align, canonical_op, forward_graph
from graphdiff.match.core import Assignments, MatchContext, incompatibility
from graphdiff.match.rules import rewrite
from graphdiff.plan import Evidence, Match, Rule

MIN_SUPPORT = 2  # a rename seen once is a coincidence, not a rule

Edit = tuple[str, str, str]  # (kind, old, new): ("prefix", "enc", "encoder"), ("leaf", ...)


def rename_edits(key: str, name: str) -> tuple[Edit, ...]:
    """The edits that turn checkpoint key `key` into new name `name` (empty when equal)."""
    old, new = key.split("/"), name.split("/")
    edits = []
    if old[-1] != new[-1]:
        edits.append(("leaf", old[-1], new[-1]))
    old, new = old[:-1], new[:-1]
    same = 0
    while same < min(len(old), len(new)) and old[len(old) - 1 - same] == new[len(new) - 1 - same]:
        same += 1
    old_head, new_head = old[: len(old) - same], new[: len(new) - same]
    if old_head != new_head:
        edits.append(("prefix", "/".join(old_head), "/".join(new_head)))
    return tuple(edits)


def match_by_structure(context: MatchContext, assignments: Assignments) -> list[Rule]:
    """Add structural and rule-based pairs to `assignments`; return the inferred rules used."""
    alignment = _align(context, assignments)
    candidates = _variable_candidates(context, assignments, alignment)
    support = Counter(
        edit
        for name, keys in candidates.items()
        if len(keys) == 1
        for edit in rename_edits(next(iter(keys)), name)
    )
    used_edits: Counter = Counter()
    _accept_clean(context, assignments, alignment, candidates, support, used_edits)
    _accept_towers(context, assignments, alignment, candidates, support, used_edits)
    _settle_ambiguous(context, assignments, candidates, support, used_edits)
    _apply_rules(context, assignments, candidates, support, used_edits)
    return _rules(used_edits)


def _align(context: MatchContext, assignments: Assignments) -> Alignment:
    old, new = forward_graph(context.old_dag), forward_graph(context.new_dag)

    def compatible(new_node: str, old_node: str) -> bool:
        new_attrs, old_attrs = context.new_dag.nodes[new_node], context.old_dag.nodes[old_node]
        if canonical_op(new_attrs["op"]) != canonical_op(old_attrs["op"]):
            return False
        if new_attrs["dtype"] and old_attrs["dtype"] and new_attrs["dtype"] != old_attrs["dtype"]:
            return False
        if len(new_attrs["inputs"]) != len(old_attrs["inputs"]):
            return False
        if new_node in context.new_variables:
            spec = context.checkpoint.get(old_node)
            return spec is not None and not incompatibility(context.new_variables[new_node], spec)
        return True

    anchors = [(name, key, "anchor") for name, (key, _) in assignments.pairs.items()]
    anchors += _boundary_anchors(old.inputs, new.inputs, context, "input")
    anchors += _boundary_anchors(old.outputs, new.outputs, context, "output")
    anchors = [a for a in anchors if a[0] in new.dag and a[1] in old.dag and compatible(a[0], a[1])]
    return align(old, new, anchors, compatible)


def _boundary_anchors(old_nodes, new_nodes, context, kind):
    """Pair inputs (or outputs) by name, else by the longest common name suffix, if unique."""
    old_ops = {n: canonical_op(context.old_dag.nodes[n]["op"]) for n in old_nodes}
    anchors = []
    for name in new_nodes:
        op = canonical_op(context.new_dag.nodes[name]["op"])
        if old_ops.get(name) == op:
            anchors.append((name, name, f"{kind} of the same name"))
            continue
        scored = [(_common_suffix(name, o), o) for o, o_op in old_ops.items() if o_op == op]
        scored = sorted((s, o) for s, o in scored if s > 0)
        if scored and (len(scored) == 1 or scored[-1][0] > scored[-2][0]):
            anchors.append((name, scored[-1][1], f"{kind} '{scored[-1][1]}'"))
    if not anchors and len(old_nodes) == 1 and len(new_nodes) == 1:
        anchors.append((new_nodes[0], old_nodes[0], f"the only {kind}"))
    return anchors


def _common_suffix(a: str, b: str) -> int:
    x, y = a.split("/"), b.split("/")
    n = 0
    while n < min(len(x), len(y)) and x[-1 - n] == y[-1 - n]:
        n += 1
    return n


def _variable_candidates(context, assignments, alignment) -> dict[str, set[str]]:
    """Free new primaries -> checkpoint keys the walk proposed for them."""
    primaries = set(context.old_primaries())
    found = {}
    for name in context.primaries():
        if not assignments.is_free(name):
            continue
        keys = {k for k in alignment.proposals.get(name, ()) if k in primaries}
        if keys:
            found[name] = keys
    return found


def _supported(edits, support) -> bool:
    return all(support[edit] >= MIN_SUPPORT for edit in edits)


def _evidence(alignment, name, key, edits, support) -> tuple[Evidence, ...]:
    evidence = [Evidence("data_path", alignment.how.get((name, key), "anchor"))]
    for kind, old, new in edits:
        evidence.append(
            Evidence("rename", f"{kind} '{old}' -> '{new}' seen {support[(kind, old, new)]} times")
        )
    return tuple(evidence)


def _accept_clean(context, assignments, alignment, candidates, support, used_edits) -> None:
    used = assignments.used_keys()
    for name, keys in candidates.items():
        key = next(iter(keys))
        takers = alignment.proposers.get(key, set()) & set(candidates)
        if len(keys) != 1 or len(takers) != 1 or key in used:
            continue
        edits = rename_edits(key, name)
        if not _supported(edits, support):
            assignments.refuse(
                name,
                f"same place in the graph as '{key}', but the rename is seen nowhere else; "
                "confirm it with --map",
                (key,),
            )
            continue
        confidence = 0.95 if edits else 0.99
        assignments.assign(
            name,
            key,
            Match("structure", confidence, _evidence(alignment, name, key, edits, support)),
        )
        used_edits.update(edits)


def _accept_towers(context, assignments, alignment, candidates, support, used_edits) -> None:
    """One key, several single-candidate takers: copies of one net (towers) or a trap."""
    by_key: dict[str, list[str]] = {}
    for name, keys in candidates.items():
        if len(keys) == 1 and assignments.is_free(name):
            by_key.setdefault(next(iter(keys)), []).append(name)
    names_of_kept = {key for name, (key, _) in assignments.pairs.items() if name == key}
    for key, takers in by_key.items():
        if len(takers) < 2:
            continue
        edits = {name: rename_edits(key, name) for name in takers}
        prefix_support = {
            name: min((support[e] for e in es if e[0] == "prefix"), default=0)
            for name, es in edits.items()
        }
        best = max(prefix_support.values())
        leaders = [n for n in takers if prefix_support[n] == best and _supported(edits[n], support)]
        copies = key not in names_of_kept and len(leaders) == len(takers)
        if not copies and len(leaders) == 1 and key not in names_of_kept:
            leader = leaders[0]
            others = ", ".join(sorted(set(takers) - {leader}))
            evidence = _evidence(alignment, leader, key, edits[leader], support) + (
                Evidence("candidates", f"also fits {others}, by a rename seen less often"),
            )
            assignments.assign(leader, key, Match("structure", 0.85, evidence))
            used_edits.update(edits[leader])
            takers = [n for n in takers if n != leader]
        if not copies:
            taken = key in names_of_kept or len(leaders) == 1
            for name in takers:
                reason = (
                    f"same place in the graph as '{key}', which restores a variable that "
                    "fits it better"
                    if taken
                    else f"'{key}' fits {len(takers)} variables equally; not guessing"
                )
                assignments.refuse(name, reason, (key,))
            continue
        for name in takers:
            evidence = _evidence(alignment, name, key, edits[name], support) + (
                Evidence("copies", f"one of {len(takers)} copies of '{key}'"),
            )
            assignments.assign(name, key, Match("structure", 0.9, evidence))
            used_edits.update(edits[name])


def _settle_ambiguous(context, assignments, candidates, support, used_edits) -> None:
    for name, keys in candidates.items():
        if not assignments.is_free(name) or len(keys) < 2:
            continue
        fitting = [
            k for k in keys if rename_edits(k, name) and _supported(rename_edits(k, name), support)
        ]
        if len(fitting) == 1 and fitting[0] not in assignments.used_keys():
            key = fitting[0]
            evidence = (
                Evidence("candidates", "the graph allows " + ", ".join(sorted(keys))),
                Evidence("rename", "only '" + key + "' follows a rename seen elsewhere"),
            )
            assignments.assign(name, key, Match("structure", 0.85, evidence))
            used_edits.update(rename_edits(key, name))
        else:
            assignments.refuse(
                name, "several checkpoint variables fit the same place in the graph", sorted(keys)
            )


def _apply_rules(context, assignments, candidates, support, used_edits) -> None:
    """Supported renames reach what the walk did not: optimizer state, dangling variables."""
    rules = [edit for edit, count in support.most_common() if count >= MIN_SUPPORT]
    if not rules:
        return
    used = assignments.used_keys()
    for name in context.primaries():
        if not assignments.is_free(name) or name in candidates:
            continue
        key = _key_through_rules(name, rules, context.checkpoint)
        if key is None or key in used:
            continue
        fault = incompatibility(context.new_variables[name], context.checkpoint[key])
        if fault:
            assignments.refuse(name, f"an inferred rename gives '{key}', but {fault}", (key,))
            continue
        edits = rename_edits(key, name)
        evidence = tuple(
            Evidence("rename", f"{k} '{o}' -> '{n}' seen {support[(k, o, n)]} times")
            for k, o, n in edits
        )
        assignments.assign(name, key, Match("inferred_rule", 0.8, evidence))
        used.add(key)
        used_edits.update(edits)


def _key_through_rules(name: str, rules, checkpoint) -> str | None:
    """Undo one prefix rule and at most one leaf rule, most supported first."""
    prefixes = [
        Rule("", "prefix", new, old, "inferred") for kind, old, new in rules if kind == "prefix"
    ]
    leaves = [Rule("", "leaf", new, old, "inferred") for kind, old, new in rules if kind == "leaf"]
    for prefix in [None, *prefixes]:
        base = name if prefix is None else rewrite(prefix, name)
        if base is None:
            continue
        for leaf in [None, *leaves]:
            key = base if leaf is None else rewrite(leaf, base)
            if key is not None and key != name and key in checkpoint:
                return key
    return None


def _rules(used_edits: Counter) -> list[Rule]:
    rules = []
    for index, ((kind, old, new), count) in enumerate(used_edits.most_common(), start=1):
        rules.append(Rule(f"inferred-{index}", kind, old, new, "inferred", count))
    return rules
