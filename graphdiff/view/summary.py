"""The few lines `graphdiff plan` prints to standard error for a person to read."""

from __future__ import annotations

from collections import Counter

from graphdiff.match.rules import describe
from graphdiff.plan import Plan
from graphdiff.view.quantities import plural


def format_summary(plan: Plan) -> str:
    restored, initialized = plan.restored, plan.initialized
    lines = [
        f"{len(restored)} of {plural(len(plan.variables), 'variable')} restored, "
        f"{len(initialized)} initialized; {plural(len(plan.unused), 'checkpoint key')} unused"
    ]
    methods = Counter(e.match.method for e in restored if e.match)
    if methods:
        lines.append("  matched by: " + ", ".join(f"{m} {n}" for m, n in methods.most_common()))
    for status in ("shared", "partial", "new", "removed"):
        scopes = [s for s in plan.scopes if s.status == status]
        if scopes:
            lines.append(f"  {status}: " + _scope_list(status, scopes))
    for rule in plan.rules:
        support = plural(rule.support, "variable")
        lines.append(f"  rule ({rule.origin}, {support}): {describe(rule)}")
    lines += _capped(
        f"  shape of {e.name} taken from '{e.shape_resolution.source}': "
        f"{list(e.shape_resolution.shape)}"
        for e in plan.variables
        if e.shape_resolution
    )
    decisions = [e for e in initialized if e.candidates]
    if decisions:
        lines.append(
            f"  {plural(len(decisions), 'variable')} left for a decision, initialized: "
            "'graphdiff show' lists the candidates"
        )
    lines += _capped(
        f"  initialized {e.name}: {e.reason}"
        + (f" (candidates: {', '.join(e.candidates)})" if e.candidates else "")
        for e in initialized
        if e.role == "model" and not e.reason.startswith("new:")
    )
    return "\n".join(lines)


def _capped(lines, limit: int = 10) -> list[str]:
    """At most `limit` lines; the plan has them all."""
    lines = list(lines)
    if len(lines) <= limit:
        return lines
    return lines[:limit] + [f"  ... and {len(lines) - limit} more like these in the plan"]


def _scope_list(status: str, scopes, limit: int = 12) -> str:
    def one(s):
        if status == "shared" and s.old != s.new:
            return f"{s.old} -> {s.new}"
        return s.new or s.old

    names = [one(s) for s in scopes[:limit]]
    more = f" (+{len(scopes) - limit} more)" if len(scopes) > limit else ""
    return ", ".join(names) + more
