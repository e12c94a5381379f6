"""The few lines `graphdiff plan` prints to standard error for a person to read."""

from __future__ import annotations

from collections import Counter

from graphdiff.formats.base import NO_GRAPH
from graphdiff.match.rules import describe
from graphdiff.plan import Plan
from graphdiff.view.quantities import plural


def format_summary(plan: Plan) -> str:
    restored, initialized = plan.restored, plan.initialized
    lines = [
        f"{len(restored)} of {plural(len(plan.variables), 'variable')} restored, "
        f"{len(initialized)} initialized; {plural(len(plan.unused), 'checkpoint key')} unused"
    ]
    lines += _graph_notes(initialized)
    methods = Counter(e.match.method for e in restored if e.match)
    if methods:
        lines.append("  matched by: " + ", ".join(f"{m} {n}" for m, n in methods.most_common()))
    for status in ("shared", "partial", "new", "removed", "not_taken"):
        scopes = [s for s in plan.scopes if s.status == status]
        if scopes:
            lines.append(f"  {status.replace('_', ' ')}: " + _scope_list(status, scopes))
    for rule in plan.rules:
        support = plural(rule.support, "variable")
        source = f"{rule.source_name}, " if rule.source_name else ""
        lines.append(f"  rule ({rule.origin}, {source}{support}): {describe(rule)}")
    lines += _capped(conflict_lines(plan))
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
        if e.role == "model" and not e.reason.startswith("new:") and not e.alternatives
    )
    return "\n".join(lines)


def _graph_notes(initialized) -> list[str]:
    """Why a plan restores less than it could, once: the old side read without its graph
    (an object-based checkpoint without --old-model, a checkpoint given instead of its .meta),
    as the reasons of the model variables it left initialized say."""
    notes = (_note_in(e.reason) for e in initialized if e.role == "model")
    return [f"  {note}" for note in dict.fromkeys(n for n in notes if n)]


def _note_in(reason: str) -> str | None:
    """The graph note a reason carries in parentheses (it may hold parentheses itself)."""
    start = reason.find(NO_GRAPH)
    if start < 0:
        return None
    depth = 0
    for end in range(start, len(reason)):
        if reason[end] == "(":
            depth += 1
        elif reason[end] == ")":
            if depth == 0:
                return reason[start:end]
            depth -= 1
    return reason[start:]


def conflict_lines(plan: Plan) -> list[str]:
    """One line per kind of conflict between sources: which variables (by their common
    scope), which source gives them (or none), which others could have, and why not."""
    groups: dict[tuple, list[str]] = {}
    for entry in plan.variables:
        if not entry.alternatives:
            continue
        others = ", ".join(dict.fromkeys(a.source_name for a in entry.alternatives))
        key = (entry.source_name, others, entry.alternatives[0].why)
        groups.setdefault(key, []).append(entry.name)
    lines = []
    for (source, others, why), names in groups.items():
        what = f"{plural(len(names), 'variable')} of {_common_scope(names)}"
        them = "them"
        if len(names) == 1:
            what, them = names[0], "it"
        if source is None:
            lines.append(f"  conflict: {what} initialized: {why}; {others} could give {them}")
        else:
            lines.append(
                f"  conflict: {what} from {source} ({why}); {others} could give {them} too"
            )
    return lines


def _common_scope(names: list[str]) -> str:
    parts = [name.split("/")[:-1] for name in names]
    common = []
    for level in zip(*parts, strict=False):
        if len(set(level)) > 1:
            break
        common.append(level[0])
    return "/".join(common) or "(root)"


def _capped(lines, limit: int = 10) -> list[str]:
    """At most `limit` lines; the plan has them all."""
    lines = list(lines)
    if len(lines) <= limit:
        return lines
    return lines[:limit] + [f"  ... and {len(lines) - limit} more like these in the plan"]


def _scope_list(status: str, scopes, limit: int = 12) -> str:
    def one(s):
        old = f"{s.source_name}:{s.old}" if s.source_name else s.old
        if status == "shared" and s.old is not None and (s.old != s.new or s.source_name):
            return f"{old} -> {s.new}"
        return s.new or old

    names = [one(s) for s in scopes[:limit]]
    more = f" (+{len(scopes) - limit} more)" if len(scopes) > limit else ""
    return ", ".join(names) + more
