"""Match variables by where they sit in the computation, checked against the renames it implies.

1. Align the forward graphs from the inputs and from the outputs, each walk on its own and
   without names (alignment.py). A same-name match that both walks cleanly contradict (they
   put that name where another key was, on both sides) is withdrawn: the names were reused.
2. Align again, with a third walk from the variables matched so far. Every free variable gets
   the keys the walks propose, or, in a chain of alike blocks, the keys the chain aligned with
   gaps allows (chains.py); a variable whose one key another, undecided variable also fits
   is *contested* (a shifted chain). Variables vote for the rename edits all their possible
   keys agree on (renames.py), or for the choice the names of a whole chain of alike blocks
   single out (chain_names.py: one rename explains a candidate of every block).
3. For each free variable: the key the rename rules predict, if the structure does not place
   it elsewhere; else its one uncontested candidate, if no stronger rule or same name claims
   that key or name. Several takers of one key are towers when their renames are equally
   supported, else the best-supported one wins, else none.

Precision first: what is left unsure is initialized, and the plan lists the candidates.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import replace
from functools import partial

from graphdiff.match.activations import ActivationAfter
from graphdiff.match.alignment import (
    canonical_op,
    forward_graph,
    merge_walks,
    through_reads,
    walk,
)
from graphdiff.match.boundaries import boundary_anchors, by_order
from graphdiff.match.chain_names import (
    CountedNames,
    decisive_choices,
    release_counted_same_names,
)
from graphdiff.match.chains import chain_candidates
from graphdiff.match.contradicted_names import (
    RefusedPredictions,
    Sides,
    withdraw_contradicted_names,
)
from graphdiff.match.core import Assignments, MatchContext
from graphdiff.match.counted_names import settle_counted_layers
from graphdiff.match.renames import RenameBook, as_rule, rename_edits
from graphdiff.match.towers import in_series, one_feeds_another, side_by_side
from graphdiff.plan import Evidence, Match, Rule


def match_by_structure(context: MatchContext, assignments: Assignments) -> list[Rule]:
    """Add structural and rule-based pairs to `assignments`; return the inferred rules used."""
    old, new = forward_graph(context.old_dag), forward_graph(context.new_dag)
    old_activation, new_activation = ActivationAfter(old), ActivationAfter(new)
    compatible = _compatibility(context, old_activation, new_activation)
    sides = Sides(old, new, old_activation, new_activation)
    boundary = {
        "inputs": boundary_anchors(old.inputs, new.inputs, context, "input"),
        "outputs": boundary_anchors(old.outputs, new.outputs, context, "output"),
    }
    boundary = {
        walk: [a for a in pairs if compatible(a[0], a[1])] for walk, pairs in boundary.items()
    }
    blind_walks = {
        walk_name: walk(old, new, anchors, compatible) for walk_name, anchors in boundary.items()
    }
    blind = merge_walks(blind_walks)
    demoted = withdraw_contradicted_names(context, assignments, blind, sides)
    weak = {
        w
        for w, ends in (
            ("inputs", (old.inputs, new.inputs)),
            ("outputs", (old.outputs, new.outputs)),
        )
        if by_order(*ends)
    }
    demoted |= settle_counted_layers(context, assignments, blind, weak)
    counted = CountedNames(context.checkpoint, context.new_variables, context.counted)
    demoted |= release_counted_same_names(context, assignments, counted)
    anchors = [(name, key, "anchor") for name, (key, _) in assignments.pairs.items()]
    # The walks from the inputs and the outputs do not read names: walked again, they would
    # give the same pairs. Only the walk from the variables matched so far is new.
    from_variables = walk(old, new, anchors, compatible)
    alignment = merge_walks({**blind_walks, "variables": from_variables})
    candidates = _variable_candidates(context, assignments, alignment)
    chains = chain_candidates(context, assignments, old, new)
    _veto_parts_of_chain_blocks(assignments, candidates, chains)
    chain = chains.candidates
    for name, (keys, _, _) in chain.items():
        if name in chains.narrowing:
            candidates[name] = candidates.get(name, set()) & keys
        else:
            candidates[name] = set(keys)  # none: an inserted block, whatever a walk said
    candidates = {name: keys for name, keys in candidates.items() if keys}
    unsettled = {
        name for name, (_, _, settled) in chain.items() if not settled and name in candidates
    }
    contested = _contested(candidates, unsettled)
    decided = decisive_choices(candidates, contested, counted)
    support = _votes(candidates, contested, decided, counted)
    book = RenameBook(
        support,
        context.new_variables,
        context.checkpoint,
        partial(_fits, context),
        demoted,
        model_keys=context.old_models(),
    )
    choices = _choose(
        context, assignments, alignment, candidates, contested, book, counted, chain, sides
    )
    used_edits = _settle_choices(assignments, choices, book, demoted, chain, new)
    rules = {
        edit: as_rule(edit, f"inferred-{i}", count)
        for i, (edit, count) in enumerate(used_edits.most_common(), start=1)
    }
    _link_rules(assignments, choices, rules)
    return list(rules.values())


def _veto_parts_of_chain_blocks(assignments, candidates, chains) -> None:
    """Keys inside a block of an aligned chain go to that chain's blocks only (Chains.allows);
    a variable outside it that the walks put only there is settled as new."""
    for name in list(candidates):
        vetoed = {k for k in candidates[name] if not chains.allows(name, k)}
        if not vetoed:
            continue
        candidates[name] -= vetoed
        if not candidates[name]:
            blocks = ", ".join(sorted({f"'{chains.reserved[k]}'" for k in vetoed}))
            reason = (
                f"the graph puts it where parts of {blocks} were, a block of a chain of alike "
                "blocks that goes whole to the new chain or nowhere"
            )
            assignments.refuse(name, reason, sorted(vetoed), final=True)


def _link_rules(assignments: Assignments, choices, rules) -> None:
    """Point each match at the rule behind it (the scope rule, when there is also a leaf one)."""
    for name in choices:
        if name not in assignments.pairs:
            continue
        key, match = assignments.pairs[name]
        edits = sorted(rename_edits(key, name), key=lambda e: e[0] != "prefix")
        if edits:
            assignments.pairs[name] = (key, replace(match, rule=rules[edits[0]].id))


def _compatibility(context: MatchContext, old_activation, new_activation):
    """compatible(new_node, old_node): the same op (type, dtype, arity), weights that could
    come from each other's, and, for an op with weights, not another activation after it
    (a Dense with relu is not a Dense with tanh) nor other strides (a convolution's). Each
    node's part is worked out once: walks ask millions of times on a stack of 1,600 blocks."""
    new_sides = _Signatures(context.new_dag)
    old_sides = _Signatures(context.old_dag)
    fits: dict[tuple[str, str], bool] = {}

    def compatible(new_node: str, old_node: str) -> bool:
        new_sig, old_sig = new_sides.get(new_node), old_sides.get(old_node)
        if new_sig is None or old_sig is None:
            return False
        (new_op, new_dtype, new_vars), (old_op, old_dtype, old_vars) = new_sig, old_sig
        if new_op != old_op or len(new_vars) != len(old_vars):
            return False
        if new_dtype and old_dtype and new_dtype != old_dtype:
            return False
        if new_node in context.new_variables:
            return variables_fit(new_node, old_node)
        # An op whose weights cannot come from the other's weights is not the same op, nor is
        # one whose layer applies another activation (Dense relu against Dense tanh).
        weighted = False
        for new_var, old_var in zip(new_vars, old_vars, strict=True):
            if new_var and old_var and not variables_fit(new_var, old_var):
                return False
            weighted |= bool(new_var and old_var)
        if weighted:
            new_act, old_act = new_activation.of(new_node), old_activation.of(old_node)
            if new_act and old_act and new_act != old_act:
                return False
            new_form = context.new_dag.nodes[new_node].get("form")
            old_form = context.old_dag.nodes[old_node].get("form")
            if new_form and old_form and new_form != old_form:
                return False  # a convolution of stride 2 is not one of stride 1
        return True

    def variables_fit(new_var: str, old_var: str) -> bool:
        pair = (new_var, old_var)
        if pair not in fits:
            spec = context.checkpoint.get(old_var)
            variable = context.new_variables.get(new_var)
            fits[pair] = (
                spec is not None and variable is not None and not context.unfit(new_var, old_var)
            )
        return fits[pair]

    return compatible


class _Signatures(dict):
    """node -> (canonical op, dtype, the variable behind each input or None), on demand."""

    def __init__(self, dag):
        super().__init__()
        self.dag = dag

    def __missing__(self, node: str):
        if node not in self.dag:
            return None
        attrs = self.dag.nodes[node]
        behind = tuple(through_reads(self.dag, producer) for producer, _ in attrs["inputs"])
        self[node] = signature = (canonical_op(attrs["op"]), attrs["dtype"], behind)
        return signature

    def get(self, node: str):
        return self[node]


def _variable_candidates(context, assignments, alignment) -> dict[str, set[str]]:
    """Free new primaries -> checkpoint keys the walk proposed for them."""
    primaries = set(context.old_models())
    found = {}
    for name in context.models():
        if not assignments.is_free(name):
            continue
        keys = {k for k in alignment.proposals.get(name, ()) if k in primaries}
        if keys:
            found[name] = keys
    return found


def _votes(
    candidates: dict[str, set[str]], contested: dict[str, set[str]], decided, counted
) -> Counter:
    """Each variable votes for the rename edits that every key it might be shares.

    A clean pair votes for all its edits. Where the graph leaves a choice (several candidates,
    or a key other variables fit as well), only what all the choices agree on counts: a leaf
    renamed `weights` -> `kernel` survives a shifted chain; the shifted scope pairs do not.
    A choice the names of the whole chain single out (`decided`, chain_names.py) counts in full.
    A word renamed in a counted name is no vote: that name is a position.
    """
    votes: Counter = Counter()

    def edits_of(key: str, name: str) -> set:
        edits = set(rename_edits(key, name))
        if counted.positional(key, name):
            edits = {e for e in edits if e[0] != "word"}
        return edits

    for name, keys in candidates.items():
        if name in decided:
            votes.update(edits_of(decided[name], name))
            continue
        choices = set(keys)
        for rival in contested.get(name, ()):
            choices |= candidates.get(rival, set())
        common = None
        for key in choices:
            edits = edits_of(key, name)
            common = edits if common is None else common & edits
        votes.update(common or ())
    return votes


def _contested(candidates: dict[str, set[str]], unsettled: set[str]) -> dict[str, set[str]]:
    """New variables whose one candidate key some other variable also fits, among others.

    That is the mark of a shifted chain (a block added or removed among look-alikes): the
    walk from one side pairs a block with its neighbour's key. Copies of one net (towers) are
    not contested: each copy fits that key and nothing else. In a chain aligned with gaps
    (`unsettled`: places some best alignment leaves empty), sharing the key is enough.
    """
    proposers: dict[str, set[str]] = defaultdict(set)
    for name, keys in candidates.items():
        for key in keys:
            proposers[key].add(name)
    contested = {}
    for name, keys in candidates.items():
        if len(keys) != 1:
            continue
        key = next(iter(keys))
        rivals = {
            other
            for other in proposers[key]
            if other != name
            and (len(candidates[other]) > 1 or name in unsettled or other in unsettled)
        }
        if rivals:
            contested[name] = rivals
    return contested


def _choose(
    context, assignments, alignment, candidates, contested, book, counted, chain, sides
) -> dict[str, tuple]:
    """Each free primary's proposed key, with method and evidence; refusals go to assignments."""
    used = assignments.used_keys()

    def same_role(name: str):
        role = context.new_roles[name].kind
        return lambda key: (
            key not in used
            and context.old_roles[key].kind == role
            and not counted.positional(key, name)  # a counted name is no identity
        )

    primaries = set(context.old_models())
    alike = {
        name: {k for k in keys if k in primaries and _fits(context, name, k)}
        for name, keys in alignment.alike.items()
        if name in context.new_variables
    }

    choices = {}
    steps = [n for n, role in context.new_roles.items() if role.kind == "global_step"]
    free = [name for name in context.models() + steps if assignments.is_free(name)]
    predictions = {}
    for name in free:
        predicted = book.predict(name, same_role(name))
        if predicted is not None and _fits(context, name, predicted):
            predictions[name] = predicted
    refused = RefusedPredictions(predictions, sides)

    def shifted(name: str, keys: set[str]) -> str | None:
        """In a family whose renames the graph refused, the one key the graph places here
        and nowhere else (the blocks after an inserted one, renumbered)."""
        if len(keys) != 1 or not refused.in_doubted_family(name):
            return None
        key = next(iter(keys))
        takers = alignment.proposers.get(key, set()) & set(context.new_variables)
        return key if takers == {name} and key not in used else None

    for name in free:
        keys = candidates.get(name, set())
        predicted = predictions.get(name)
        moved_up = shifted(name, keys)
        if moved_up and predicted not in keys:
            key = moved_up
            choices[name] = (key, "structure", _evidence(alignment, book, name, key, chain))
            continue
        if predicted is not None and refused.in_refused_block(name):
            assignments.refuse(
                name,
                f"the renames say '{predicted}', but the graph refuses it: a layer of this block "
                "applies another op than the old one (a block inserted under a renumbered name)",
                (predicted,),
            )
            continue
        if predicted is not None:
            # Structural candidates that a stronger rename gives to other variables are the
            # walk's own mistakes (a shifted chain), not evidence against the prediction;
            # unless the renames were refused in this numbered family.
            credible = {k for k in keys if book.contradiction(name, k) is None}
            if refused.in_doubted_family(name):
                credible = set(keys)
            if credible and predicted not in keys:
                where = ", ".join(sorted(credible))
                assignments.refuse(
                    name,
                    f"the renames say '{predicted}', but the graph places it where {where} was",
                    sorted(keys | {predicted}),
                )
                continue
            taken = _placed_elsewhere(context, book, alignment, name, predicted)
            if not keys and taken:
                assignments.refuse(
                    name,
                    f"the renames say '{predicted}', but the graph places it at {taken} and "
                    "nothing here (the name was given to an inserted layer)",
                    (predicted,),
                )
                continue
            method = "structure" if predicted in keys else "inferred_rule"
            choices[name] = (predicted, method, _evidence(alignment, book, name, predicted, chain))
        elif len(keys) == 1:
            key = next(iter(keys))
            edits = rename_edits(key, name)
            reason = book.contradiction(name, key)
            if reason is None and not book.supported(edits):
                reason = "the rename is seen nowhere else; confirm it with --map"
            if reason is None and key in used:
                reason = "that key already restores another variable"
            if reason is None and name in contested:
                others = ", ".join(sorted(contested[name]))
                reason = f"the graph fits {others} there too"
            if reason:
                assignments.refuse(
                    name, f"same place in the graph as '{key}', but {reason}", (key,)
                )
                continue
            choices[name] = (key, "structure", _evidence(alignment, book, name, key, chain))
        elif keys or alike.get(name):
            assignments.refuse(
                name,
                "several checkpoint variables fit the same place in the graph",
                sorted(keys or alike[name]),
            )
    return choices


def _placed_elsewhere(context, book, alignment, name: str, key: str) -> str | None:
    """Another new variable the graph puts `key` at, with no rename against it, if one."""
    takers = sorted(
        other
        for other in alignment.proposers.get(key, ())
        if other != name
        and other in context.new_variables
        and book.contradiction(other, key) is None
    )
    return takers[0] if len(takers) == 1 else None


def _fits(context, name: str, key: str) -> bool:
    return context.unfit(name, key) is None


def _evidence(alignment, book, name, key, chain) -> tuple[Evidence, ...]:
    evidence = []
    if name in chain and key in chain[name][0]:
        evidence.append(Evidence("chain", chain[name][1]))
    elif (name, key) in alignment.how:
        evidence.append(Evidence("data_path", alignment.how[(name, key)]))
    edits = rename_edits(key, name)
    if edits:
        evidence.append(Evidence("rename", book.describe(edits)))
    return tuple(evidence)


def _settle_choices(assignments, choices, book, demoted, chain, new) -> Counter:
    """One key, several takers: copies of one scope (towers) all take it, else the strongest.
    Takers in series or side by side on one tensor are no towers (towers.py): none takes it."""
    by_key = defaultdict(list)
    for name, (key, _, _) in choices.items():
        by_key[key].append(name)
    used_edits: Counter = Counter()
    for key, takers in by_key.items():
        if in_series(key, takers, chain):
            _refuse_all(assignments, takers, key, "one after another")
            continue
        edits = {n: rename_edits(key, n) for n in takers}
        strength = {n: book.strength(edits[n]) for n in takers}
        best = max(strength.values())
        leaders = [n for n in takers if strength[n] == best]
        if len(leaders) > 1 and len(leaders) < len(takers):
            leaders = []
        elif len(leaders) == 1 and key not in demoted:
            leader = leaders[0]
            leaders += [
                n
                for n in takers
                if n != leader
                and book.supported(edits[n])
                and 2 * strength[n] >= best  # a whole copy, not one layer named alike
                and book.copies(edits[n], edits[leader])
            ]
        if len(leaders) > 1 and side_by_side(new, leaders):
            _refuse_all(assignments, takers, key, "reading the same tensor")
            continue
        if len(leaders) > 1 and one_feeds_another(new, leaders):
            _refuse_all(assignments, takers, key, "one after another")
            continue
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


def _refuse_all(assignments, takers, key: str, how: str) -> None:
    for name in takers:
        assignments.refuse(
            name,
            f"alike layers {how} each fit '{key}' (the others are new): which one it was, "
            "only the code says; confirm with --map",
            (key,),
        )
