"""Optimizer slots follow their variable: `A/w/Adam` comes from the slot of `A/w`'s source."""

from __future__ import annotations

from graphdiff.match.core import Assignments, MatchContext, incompatibility
from graphdiff.plan import Evidence, Match


def follow_slots(context: MatchContext, assignments: Assignments) -> None:
    old_slots = {
        (role.primary, role.slot_name): key
        for key, role in context.old_roles.items()
        if role.kind == "slot" and key in context.checkpoint
    }
    for name, role in context.new_roles.items():
        if role.kind != "slot" or not assignments.is_free(name):
            continue
        if role.primary not in assignments.pairs:
            assignments.refuse(name, f"optimizer slot of '{role.primary}', which is initialized")
            continue
        primary_key, primary_match = assignments.pairs[role.primary]
        key = old_slots.get((primary_key, role.slot_name))
        if key is None:
            assignments.refuse(
                name,
                f"optimizer slot of '{role.primary}'; the checkpoint has no '{role.slot_name}' "
                f"slot for '{primary_key}'",
            )
            continue
        fault = incompatibility(context.new_variables[name], context.checkpoint[key])
        if fault:
            assignments.refuse(name, f"slot '{key}' found, but {fault}", (key,))
            continue
        evidence = (
            Evidence(
                "slot",
                f"'{role.slot_name}' slot of '{role.primary}', restored from '{primary_key}'",
            ),
        )
        assignments.assign(
            name, key, Match("slot", primary_match.confidence, evidence, primary_match.rule)
        )
