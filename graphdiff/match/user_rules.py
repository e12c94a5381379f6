"""The user's own say, which outranks every inference: --map, --exclude.

A rule that matches nothing is an error that names it: a typo in a map or an exclude would
otherwise restore less (or more) than the user thinks, silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from graphdiff.errors import BadInput
from graphdiff.match.core import Assignments, MatchContext
from graphdiff.match.rules import describe, rewrite
from graphdiff.plan import Evidence, Match, Rule


@dataclass
class UserRules:
    maps: list[Rule] = field(default_factory=list)
    excludes: list[re.Pattern] = field(default_factory=list)

    def key_for(self, new_name: str, checkpoint) -> str | None:
        """The key a map sends to `new_name` (used to give undefined shapes their size)."""
        for rule in self.maps:
            for key in checkpoint:
                if rewrite(rule, key) == new_name:
                    return key
        return None


def apply_excludes(context: MatchContext, rules: UserRules, assignments: Assignments) -> None:
    """Excluded variables are initialized, whatever else matches them."""
    for pattern in rules.excludes:
        hits = [name for name in context.new_variables if pattern.search(name)]
        if not hits:
            raise BadInput("--exclude", f"'{pattern.pattern}' matches no variable of the new graph")
        for name in hits:
            assignments.refuse(name, f"excluded by --exclude '{pattern.pattern}'", final=True)


def apply_maps(context: MatchContext, rules: UserRules, assignments: Assignments) -> dict[str, int]:
    """Pair new variables through the user's maps; return each rule's support by rule id."""
    support = {}
    for rule in rules.maps:
        keys_hit, count, misfits = 0, 0, []
        for key in context.old_primaries():
            name = rewrite(rule, key)
            if name is None:
                continue
            keys_hit += 1
            if name not in context.new_variables or not assignments.is_free(name):
                continue
            fault = context.unfit(name, key)
            if fault:
                assignments.refuse(
                    name, f"--map {describe(rule)} gives '{key}', but {fault}", (key,), final=True
                )
                misfits.append(f"'{key}' -> '{name}': {fault}")
                continue
            evidence = (Evidence("rule", f"--map {describe(rule)}: '{key}' -> '{name}'"),)
            assignments.assign(name, key, Match("user_rule", 1.0, evidence, rule.id))
            count += 1
        if count == 0:
            raise BadInput("--map", _unused_rule_fault(rule, keys_hit, misfits))
        support[rule.id] = count
    return support


def _unused_rule_fault(rule: Rule, keys_hit: int, misfits: list[str]) -> str:
    text = f"{rule.old}={rule.new}"
    if keys_hit == 0:
        return f"'{text}' matches no checkpoint key (check the old name)"
    if misfits:
        return f"'{text}' restores nothing: {'; '.join(misfits[:3])}"
    return (
        f"'{text}' matches {keys_hit} checkpoint keys, but none of the names it makes is a free "
        "variable of the new graph (check the new name)"
    )
