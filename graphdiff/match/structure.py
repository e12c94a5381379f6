"""Structural matching (placeholder until the structural matcher lands)."""

from __future__ import annotations

from graphdiff.match.core import Assignments, MatchContext
from graphdiff.plan import Rule


def match_by_structure(context: MatchContext, assignments: Assignments) -> list[Rule]:
    return []
