"""The user's rules, each for one source or for all: `--map`, `--exclude`, `--require`.

A rule may start with `NAME:` (`--map cls:resnet=FeatureExtractor/resnet`, `--exclude
det:^FeatureExtractor/`): it then concerns source NAME alone. Without one it concerns every
source, as it always did with one. A named `--exclude` keeps that source from giving what it
matches (another source still may); a named `--require` asks that what it matches be restored
from that source.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from graphdiff.errors import BadInput
from graphdiff.match.core import Assignments, MatchContext
from graphdiff.match.rules import parse_map, parse_patterns
from graphdiff.match.user_rules import UserRules
from graphdiff.named_sources import split_named
from graphdiff.plan import Options, Rule

Named = tuple[str | None, re.Pattern]


@dataclass(frozen=True)
class SourceRules:
    maps: tuple[Rule, ...] = ()  # source_name None: for every source
    excludes: tuple[Named, ...] = ()
    requires: tuple[Named, ...] = ()

    def for_source(self, name: str | None) -> UserRules:
        """What the matcher applies for one source: its maps and the unnamed ones, and the
        unnamed excludes (named ones: `exclude_named`)."""
        return UserRules(
            maps=[r for r in self.maps if r.source_name in (None, name)],
            excludes=[p for n, p in self.excludes if n is None],
        )

    def named_excludes(self, name: str | None) -> list[re.Pattern]:
        return [p for n, p in self.excludes if n is not None and n == name]


def source_rules(options: Options, names: list[str]) -> SourceRules:
    """Parse the options' rules; BadInput for a `NAME:` that names no source."""
    maps = []
    for index, text in enumerate(options.maps):
        name, rest = split_named(text, names, "--map")
        rule = parse_map(rest, index + 1)
        maps.append(dataclasses.replace(rule, source_name=name))
    return SourceRules(
        maps=tuple(maps),
        excludes=_patterns("--exclude", options.excludes, names),
        requires=_patterns("--require", options.requires, names),
    )


def _patterns(option: str, texts, names: list[str]) -> tuple[Named, ...]:
    found = []
    for text in texts:
        name, rest = split_named(text, names, option)
        found.append((name, parse_patterns(option, [rest])[0]))
    return tuple(found)


def exclude_named(context: MatchContext, source: str, patterns, assignments: Assignments):
    """`--exclude NAME:REGEX`: source NAME gives nothing to the variables REGEX matches."""
    for pattern in patterns:
        hits = [name for name in context.new_variables if pattern.search(name)]
        if not hits:
            raise BadInput(
                "--exclude",
                f"'{source}:{pattern.pattern}' matches no variable of the new graph",
            )
        for name in hits:
            assignments.refuse(
                name,
                f"excluded from {source} by --exclude '{source}:{pattern.pattern}'",
                final=True,
            )


def rule_text(rule: Rule) -> str:
    """A user rule as it was given: `NAME:OLD=NEW`, or `OLD=NEW`."""
    text = f"{rule.old}={rule.new}"
    return f"{rule.source_name}:{text}" if rule.source_name else text
