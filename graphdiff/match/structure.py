"""Match variables by where they sit in the computation, checked against the renames it implies.

1. Align the forward graphs from inputs and outputs alone (the *blind* walk). A same-name
   match that the blind walk cleanly contradicts (the graph puts that name where another key
   was, on both sides) is withdrawn: the names were reused for other variables.
2. Align again, anchored also on the variables matched so far. Every free variable the walk
   reaches gets candidate keys; single-candidate pairs vote for rename edits (renames.py).
3. For each free variable: the key the rename rules predict, if the structure does not place
   it elsewhere; else its one structural candidate, if no stronger rule or same name claims
   that key or name. Several takers of one key are towers when their renames are equally
   supported, else the best-supported one wins, else none.

Precision first: what is left unsure is initialized, and the plan lists the candidates.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import replace

from graphdiff.match.alignment import Alignment, align, canonical_op, forward_graph
from graphdiff.match.core import Assignments, MatchContext, incompatibility
from graphdiff.match.renames import RenameBook, as_rule, rename_edits
from graphdiff.plan import Evidence, Match, Rule


def match_by_structure(context: MatchContext, assignments: Assignments) -> list[Rule]:
    """Add structural and rule-based pairs to `assignments`; return the inferred rules used."""
    old, new = forward_graph(context.old_dag), forward_graph(context.new_dag)
    compatible = _compatibility(context)
    boundary = _boundary_anchors(old.inputs, new.inputs, context, "input")
    boundary += _boundary_anchors(old.outputs, new.outputs, context, "output")
    boundary = [a for a in boundary if compatible(a[0], a[1])]
    demoted = _withdraw_contradicted_names(
        context, assignments, align(old, new, boundary, compatible)
    )
    anchors = [(name, key, "anchor") for name, (key, _) in assignments.pairs.items()]
    alignment = align(old, new, anchors + boundary, compatible)
    candidates = _variable_candidates(context, assignments, alignment)
    support = Counter(
        edit
        for name, keys in candidates.items()
        if len(keys) == 1
        for edit in rename_edits(next(iter(keys)), name)
    )
    book = RenameBook(support, context.new_variables, context.checkpoint, demoted)
    choices = _choose(context, assignments, alignment, candidates, book)
    used_edits = _settle_choices(assignments, choices, book, demoted)
    rules = {
        edit: as_rule(edit, f"inferred-{i}", count)
        for i, (edit, count) in enumerate(used_edits.most_common(), start=1)
    }
    _link_rules(assignments, choices, rules)
    return list(rules.values())


def _link_rules(assignments: Assignments, choices, rules) -> None:
    """Point each match at the rule behind it (the scope rule, when there is also a leaf one)."""
    for name in choices:
        if name not in assignments.pairs:
            continue
        key, match = assignments.pairs[name]
        edits = sorted(rename_edits(key, name), key=lambda e: e[0] != "prefix")
        if edits:
            assignments.pairs[name] = (key, replace(match, rule=rules[edits[0]].id))


def _compatibility(context: MatchContext):
    def compatible(new_node: str, old_node: str) -> bool:
        if new_node not in context.new_dag or old_node not in context.old_dag:
            return False
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

    return compatible


def _boundary_anchors(old_nodes, new_nodes, context, kind):
    """Pair inputs (or outputs) by name, else by the longest common name suffix, if unique."""
    by_suffix: dict[tuple, list[str]] = defaultdict(list)  # (op, last k name parts) -> old
    for old_name in old_nodes:
        parts = old_name.split("/")
        op = canonical_op(context.old_dag.nodes[old_name]["op"])
        for k in range(1, len(parts) + 1):
            by_suffix[(op, *parts[-k:])].append(old_name)
    anchors = []
    for name in new_nodes:
        parts = name.split("/")
        op = canonical_op(context.new_dag.nodes[name]["op"])
        for k in range(len(parts), 0, -1):  # the longest suffix some old name shares wins
            found = by_suffix.get((op, *parts[-k:]))
            if found:
                if len(found) == 1:
                    why = f"{kind} of the same name" if found[0] == name else f"{kind} '{found[0]}'"
                    anchors.append((name, found[0], why))
                break
    if not anchors and len(old_nodes) == 1 and len(new_nodes) == 1:
        anchors.append((new_nodes[0], old_nodes[0], f"the only {kind}"))
    return anchors


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


def _withdraw_contradicted_names(context, assignments: Assignments, blind: Alignment) -> set[str]:
    """Same names that the graph, read without names, gives to other variables on both sides."""
    primaries = set(context.old_primaries())
    demoted = set()
    for name, (key, match) in list(assignments.pairs.items()):
        if match.method != "name":
            continue
        placed = blind.proposals.get(name, set()) & primaries
        takers = blind.proposers.get(key, set()) & set(context.new_variables)
        if len(placed) != 1 or len(takers) != 1:
            continue
        other_key, other_name = next(iter(placed)), next(iter(takers))
        if other_key == key or other_name == name:
            continue
        if blind.proposers.get(other_key, set()) & set(context.new_variables) != {name}:
            continue
        assignments.release(name)
        demoted.add(name)
    return demoted


def _choose(context, assignments, alignment, candidates, book) -> dict[str, tuple]:
    """Each free primary's proposed key, with method and evidence; refusals go to assignments."""
    used = assignments.used_keys()

    def acceptable(key: str) -> bool:
        return key not in used and context.old_roles[key].kind != "slot"

    primaries = set(context.old_primaries())
    alike = {
        name: {k for k in keys if k in primaries and _fits(context, name, k)}
        for name, keys in alignment.alike.items()
        if name in context.new_variables
    }

    choices = {}
    for name in context.primaries():
        if not assignments.is_free(name):
            continue
        keys = candidates.get(name, set())
        predicted = book.predict(name, acceptable)
        if predicted is not None and not _fits(context, name, predicted):
            predicted = None
        if predicted is not None:
            # Structural candidates that a stronger rename gives to other variables are the
            # walk's own mistakes (a shifted chain), not evidence against the prediction.
            credible = {k for k in keys if book.contradiction(name, k) is None}
            if credible and predicted not in keys:
                where = ", ".join(sorted(credible))
                assignments.refuse(
                    name,
                    f"the renames say '{predicted}', but the graph places it where {where} was",
                    sorted(keys | {predicted}),
                )
                continue
            method = "structure" if predicted in keys else "inferred_rule"
            choices[name] = (predicted, method, _evidence(alignment, book, name, predicted))
        elif len(keys) == 1:
            key = next(iter(keys))
            edits = rename_edits(key, name)
            reason = book.contradiction(name, key)
            if reason is None and not book.supported(edits):
                reason = "the rename is seen nowhere else; confirm it with --map"
            if reason is None and key in used:
                reason = "that key already restores another variable"
            if reason:
                assignments.refuse(
                    name, f"same place in the graph as '{key}', but {reason}", (key,)
                )
                continue
            choices[name] = (key, "structure", _evidence(alignment, book, name, key))
        elif keys or alike.get(name):
            assignments.refuse(
                name,
                "several checkpoint variables fit the same place in the graph",
                sorted(keys or alike[name]),
            )
    return choices


def _fits(context, name: str, key: str) -> bool:
    return incompatibility(context.new_variables[name], context.checkpoint[key]) is None


def _evidence(alignment, book, name, key) -> tuple[Evidence, ...]:
    evidence = []
    if (name, key) in alignment.how:
        evidence.append(Evidence("data_path", alignment.how[(name, key)]))
    edits = rename_edits(key, name)
    if edits:
        evidence.append(Evidence("rename", book.describe(edits)))
    return tuple(evidence)


def _settle_choices(assignments, choices, book, demoted) -> Counter:
    """One key, several takers: towers when equally supported, else the strongest, else none."""
    by_key = defaultdict(list)
    for name, (key, _, _) in choices.items():
        by_key[key].append(name)
    used_edits: Counter = Counter()
    for key, takers in by_key.items():
        strength = {n: book.strength(rename_edits(key, n)) for n in takers}
        best = max(strength.values())
        leaders = [n for n in takers if strength[n] == best]
        if len(leaders) < len(takers) and len(leaders) > 1:
            leaders = []
        for name in takers:
            _, method, evidence = choices[name]
            if name not in leaders:
                assignments.refuse(
                    name,
                    f"same place in the graph as '{key}', which goes to a better-supported rename",
                    (key,),
                )
                continue
            confidence = {"structure": 0.95, "inferred_rule": 0.8}[method]
            if len(takers) > 1:
                evidence += (Evidence("copies", f"one of {len(takers)} copies of '{key}'"),)
                confidence = 0.9
            if name in demoted:
                evidence += (
                    Evidence("same_name", f"'{name}' is in the checkpoint too, at another place"),
                )
            assignments.assign(name, key, Match(method, confidence, evidence))
            used_edits.update(rename_edits(key, name))
    return used_edits
