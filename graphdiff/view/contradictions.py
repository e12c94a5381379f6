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
from graphdiff.view.scopetree import candidate_name, display_name, old_name

SHOWN = 3


def restored_from(plan: Plan) -> set[str]:
    """The checkpoint keys some variable is restored from (`cls:/key` for a named source)."""
    return {
        old_name(e.source_name, e.source)
        for e in plan.variables
        if e.action == RESTORE and e.source
    }


def contradictions(plan: Plan) -> list[str]:
    """Lines naming each contradiction and up to SHOWN of the names involved."""
    sources = restored_from(plan)
    unused_names = [old_name(u.source_name, u.key) for u in plan.unused]
    listed = sources | set(unused_names)
    resolutions = [e.shape_resolution for e in plan.variables if e.shape_resolution]
    found = [
        (_twice(e.name for e in plan.variables), "variable", "listed more than once"),
        (_twice(unused_names), "unused key", "listed more than once"),
        (
            sorted(sources & set(unused_names)),
            "checkpoint key",
            "both restored from and listed unused",
        ),
        (
            sorted({candidate_name(k) for e in plan.variables for k in e.candidates} - listed),
            "candidate",
            "not among the plan's checkpoint keys",
        ),
        (
            sorted({old_name(r.source_name, r.source) for r in resolutions} - listed),
            "shape source",
            "not among the plan's checkpoint keys",
        ),
    ]
    return [
        f"{plural(len(names), noun)} {what}: {_few([display_name(n) for n in names])}"
        for names, noun, what in found
        if names
    ]


def _twice(names) -> list[str]:
    return sorted(name for name, count in Counter(names).items() if count > 1)


def _few(names: list[str]) -> str:
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more
