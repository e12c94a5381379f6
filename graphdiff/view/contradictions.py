"""What a hand-edited plan says twice, or says of keys it does not list.

In: a Plan that passed the schema. Out: one short line per kind of contradiction, for the
title of the picture and of `show`, so that a reviewer reads what is wrong with the plan
instead of a drawing that quietly picks one side of it. The planner never writes these.

    contradictions(plan)  # ['2 checkpoint keys both restored from and listed unused: a/w, b/w']
"""

from __future__ import annotations

from collections import Counter

from graphdiff.plan import RESTORE, Plan
from graphdiff.view.quantities import plural

SHOWN = 3


def restored_from(plan: Plan) -> set[str]:
    """The checkpoint keys some variable is restored from."""
    return {e.source for e in plan.variables if e.action == RESTORE and e.source}


def contradictions(plan: Plan) -> list[str]:
    """Lines naming each contradiction and up to SHOWN of the names involved."""
    sources = restored_from(plan)
    unused = {u.key for u in plan.unused}
    listed = sources | unused
    found = [
        (_twice(e.name for e in plan.variables), "variable", "listed more than once"),
        (_twice(u.key for u in plan.unused), "unused key", "listed more than once"),
        (sorted(sources & unused), "checkpoint key", "both restored from and listed unused"),
        (
            sorted({k for e in plan.variables for k in e.candidates} - listed),
            "candidate",
            "not among the plan's checkpoint keys",
        ),
        (
            sorted(
                {e.shape_resolution.source for e in plan.variables if e.shape_resolution} - listed
            ),
            "shape source",
            "not among the plan's checkpoint keys",
        ),
    ]
    return [
        f"{plural(len(names), noun)} {what}: {_few(names)}" for names, noun, what in found if names
    ]


def _twice(names) -> list[str]:
    return sorted(name for name, count in Counter(names).items() if count > 1)


def _few(names: list[str]) -> str:
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more
