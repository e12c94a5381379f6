"""The plainest evidence: the new variable has the very name of a checkpoint key."""

from __future__ import annotations

from graphdiff.match.core import Assignments, MatchContext
from graphdiff.plan import Evidence, Match


def match_by_name(context: MatchContext, assignments: Assignments) -> None:
    """Pair free new variables with the checkpoint key of the same name, when shapes allow."""
    for name in context.primaries():
        if not assignments.is_free(name) or name not in context.checkpoint:
            continue
        if context.new_roles[name].kind == "optimizer" and _state_known(context):
            continue  # optimizer state follows its variables (slots.py), not its name
        fault = context.unfit(name, name)
        if fault:
            assignments.refuse(name, f"same name in the checkpoint, but {fault}", (name,))
            continue
        evidence = (Evidence("same_name", f"checkpoint key '{name}'"),)
        assignments.assign(name, name, Match("name", 1.0, evidence))


def _state_known(context: MatchContext) -> bool:
    """The old graph shows which variables its optimizer state served (its update ops)."""
    return any(role.kind == "optimizer" for role in context.old_roles.values())
