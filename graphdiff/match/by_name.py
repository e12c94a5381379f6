"""The plainest evidence: the new variable has the very name of a checkpoint key."""

from __future__ import annotations

from graphdiff.match.core import Assignments, MatchContext, incompatibility
from graphdiff.plan import Evidence, Match


def match_by_name(context: MatchContext, assignments: Assignments) -> None:
    """Pair free new variables with the checkpoint key of the same name, when shapes allow."""
    for name in context.primaries():
        if not assignments.is_free(name) or name not in context.checkpoint:
            continue
        variable = context.new_variables[name]
        fault = incompatibility(variable, context.checkpoint[name])
        if fault:
            assignments.refuse(name, f"same name in the checkpoint, but {fault}", (name,))
            continue
        evidence = (Evidence("same_name", f"checkpoint key '{name}'"),)
        assignments.assign(name, name, Match("name", 1.0, evidence))
