"""Optimizer state follows the variables it belongs to.

A slot (`A/w/Adam`) comes from the slot of `A/w`'s source: by slot name, or, when the optimizer
was renamed, by its place on the update op (Adam's m is input 1 of ApplyAdam). Shared state
(`beta1_power`) comes from the old state that sits at the same place on the update ops of the
same variables: its name is worth little, since TensorFlow numbers `beta1_power_1` in
build order, and two optimizers built in the other order swap their names.
"""

from __future__ import annotations

from graphdiff.match.core import Assignments, MatchContext
from graphdiff.plan import Evidence, Match


def follow_slots(context: MatchContext, assignments: Assignments) -> None:
    old_by_name, old_by_position = {}, {}
    for key, role in context.old_roles.items():
        if role.kind == "slot" and key in context.checkpoint:
            old_by_name[(role.primary, role.slot_name)] = key
            old_by_position.setdefault((role.primary, role.position), []).append(key)
    for name, role in context.new_roles.items():
        if role.kind != "slot" or not assignments.is_free(name):
            continue
        if role.primary not in assignments.pairs:
            assignments.refuse(name, f"optimizer slot of '{role.primary}', which is initialized")
            continue
        primary_key, primary_match = assignments.pairs[role.primary]
        key = old_by_name.get((primary_key, role.slot_name))
        how = f"'{role.slot_name}' slot"
        placed = old_by_position.get((primary_key, role.position), [])
        if key is None and role.position and len(placed) == 1:
            key, how = placed[0], f"slot at input {role.position[1]} of {role.position[0]}"
        if key is None:
            assignments.refuse(
                name,
                f"optimizer slot of '{role.primary}'; the checkpoint has no '{role.slot_name}' "
                f"slot for '{primary_key}'",
            )
            continue
        _assign(
            context,
            assignments,
            name,
            key,
            primary_match.confidence,
            primary_match.rule,
            f"{how} of '{role.primary}', restored from '{primary_key}'",
        )


def follow_optimizer_state(context: MatchContext, assignments: Assignments) -> None:
    """`beta1_power` and the like: the old state at the same place, serving the same variables."""
    old_state = {key: role for key, role in context.old_roles.items() if role.kind == "optimizer"}
    for name, role in context.new_roles.items():
        if role.kind != "optimizer" or not assignments.is_free(name):
            continue
        served = {assignments.pairs[p][0] for p in role.serves if p in assignments.pairs}
        if not served:
            assignments.refuse(name, "optimizer state of variables that are all initialized")
            continue
        fits = sorted(
            key
            for key, old in old_state.items()
            if old.position == role.position and served <= old.serves
        )
        if len(fits) != 1:
            reason = (
                "no optimizer state of the checkpoint sits at the same place for the same variables"
                if not fits
                else "several optimizer states of the checkpoint fit"
            )
            assignments.refuse(name, reason, fits)
            continue
        _assign(
            context,
            assignments,
            name,
            fits[0],
            0.95,
            None,
            f"input {role.position[1]} of {role.position[0]} for {len(served)} restored "
            f"variables, as '{fits[0]}' was",
        )


def _assign(context, assignments, name, key, confidence, rule, detail) -> None:
    fault = context.unfit(name, key)
    if fault:
        assignments.refuse(name, f"'{key}' found, but {fault}", (key,))
        return
    assignments.assign(name, key, Match("slot", confidence, (Evidence("slot", detail),), rule))
