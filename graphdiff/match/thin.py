"""Thin evidence, marked where a reviewer will see it.

Some pairs rest on thin evidence and are still made, because nothing speaks against them and
a person would make them too: a head at the same place under another name, restored through
an inferred rule seen twice (its kernel and its bias: structure cannot know intent); a
counted name (Keras's `dense_1`, a position) that nothing in the graph confirms, because the
graph has nothing to say; a member of a numbered family that grew by members alike to it
(numbered_families.py). Their match gets an Evidence("thin", why); `show` lists them and
`render` colours them, so that a reviewer can `--exclude` what they disagree with.
"""

from __future__ import annotations

from dataclasses import replace

from graphdiff.match.core import Assignments, MatchContext
from graphdiff.match.numbered_families import NumberedFamilies
from graphdiff.match.rules import describe
from graphdiff.plan import Evidence, Rule

THIN_SUPPORT = 2  # an inferred rule restoring this few variables is one witness
GRAPH_KINDS = frozenset({"data_path", "place", "layer", "unique_shape", "summed_with"})


def mark_thin(context: MatchContext, assignments: Assignments, rules: list[Rule]) -> None:
    """Add an Evidence("thin", why) to every pair that rests on a single weak witness."""
    by_id = {rule.id: rule for rule in rules}
    families = NumberedFamilies(context)
    for name, (key, match) in list(assignments.pairs.items()):
        why = _thin(context, name, match, by_id) or families.grown(name, key)
        if why is not None:
            evidence = (*match.evidence, Evidence("thin", why))
            assignments.pairs[name] = (key, replace(match, evidence=evidence))


def _thin(context, name, match, rules) -> str | None:
    rule = rules.get(match.rule) if match.rule else None
    if rule is not None and rule.support <= THIN_SUPPORT:
        return (
            f"the inferred rule {describe(rule)} restores {rule.support} variables: the same "
            "place under another name, which only the code's author can confirm"
        )
    kinds = {e.kind for e in match.evidence}
    if match.method == "name" and name in context.counted and not kinds & GRAPH_KINDS:
        return "a counted name (a position among layers of a kind), and nothing in the graph"
    return None
