"""From what the matcher paired to the plan's contents: entries, unused keys, rules in force.

planning.py opens the sources and the new graph (`Loaded`), runs the matcher once per source
(`Matched`) and settles the sources (sources.py); this module writes down the outcome with
its reasons: where each restored variable comes from and what else could have given it, why
each initialized one is, and why each key of each source restores nothing.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass

from graphdiff.formats.base import Source
from graphdiff.match.core import Assignments, MatchContext, format_shape
from graphdiff.match.renames import as_rule, rename_edits
from graphdiff.plan import (
    INITIALIZE,
    RESTORE,
    Alternative,
    Match,
    Options,
    Rule,
    ShapeResolution,
    UnusedKey,
    VariableEntry,
)
from graphdiff.roles import Role
from graphdiff.source_rules import SourceRules
from graphdiff.transforms import describe as describe_transform
from graphdiff.transforms import transformed_spec, transforms_for


@dataclass(frozen=True)
class OldSide:
    """One old source, opened, with what the matcher reads of it against the new graph."""

    name: str | None
    source: Source
    context: MatchContext


@dataclass(frozen=True)
class Loaded:
    olds: list[OldSide]
    new_kind: str
    undefined: dict  # new variable -> shape proposed at build time (None: none could be)
    shape_sources: dict  # new variable -> (source name, key) that proposed its shape
    partitions: dict  # full name -> Partitioned, for the new graph's partitioned variables
    sources: list[str]  # the user's modules the new graph's .py imported
    initial_shapes: dict  # new variable of unknown static shape -> its initial value's shape

    @property
    def context(self) -> MatchContext:
        """The new side's variables and roles (every source's context shares them)."""
        return self.olds[0].context


@dataclass
class Matched:
    """What the matcher paired from one source, before the sources are settled."""

    old: OldSide
    assignments: Assignments
    inferred: list[Rule]
    failed_maps: dict  # rule id -> BadInput, for a rule of every source that failed here

    @property
    def name(self) -> str | None:
        return self.old.name


def entry(loaded: Loaded, matched: list[Matched], choices: dict, name: str):
    context = loaded.context
    undefined = loaded.undefined
    variable = context.new_variables[name]
    role = context.new_roles[name]
    resolution = None
    shape = variable.shape
    if name in undefined and undefined[name] is not None:
        shape = tuple(undefined[name])
        proposer, key = loaded.shape_sources[name]
        resolution = ShapeResolution(shape, key, "undefined_in_get_variable", proposer)
    parts = loaded.partitions[name].parts if name in loaded.partitions else ()
    common = dict(
        name=name, dtype=variable.dtype, role=role.kind, slot_of=role.primary, partitions=parts
    )
    choice = choices.get(name)
    several = len(matched) > 1
    if choice is not None and choice.taken is not None:
        claim = choice.taken
        old = _old_named(loaded, claim.source)
        key, match, spec = claim.key, claim.match, old.context.checkpoint[claim.key]
        source_shape = spec.shape
        if resolution is None and not variable.fully_defined:
            resolution = ShapeResolution(source_shape, key, "unknown_static_shape", claim.source)
        if name in undefined and (
            undefined[name] is None or resolution.source_name != claim.source
        ):
            resolution = ShapeResolution(
                source_shape, key, "undefined_in_get_variable", claim.source
            )
        where = f"{claim.source} '{key}'" if claim.source is not None else f"'{key}'"
        reason = f"restored from {where} ({_how(match.method)})"
        if key in old.source.notes:
            reason += f"; {old.source.notes[key]}"
        changes = transforms_for(variable, spec)
        if changes:
            reason += ", " + ", ".join(describe_transform(t) for t in changes)
            source_shape = transformed_spec(spec, changes).shape
        reason += "".join(
            f"; {other.source} could give '{other.key}' too ({_how(other.match.method)}), but {why}"
            for other, why in choice.passed_over
        )
        return VariableEntry(
            **common,
            shape=source_shape,
            transforms=changes,
            action=RESTORE,
            reason=reason,
            source=key,
            match=match if claim.source is None else _qualified(match, matched, claim.source),
            shape_resolution=resolution,
            stored_as=stored_as(old.source, key),
            source_name=claim.source,
            alternatives=_alternatives(choice),
        )
    reason, candidates = _why_initialized(matched, choice, name, role)
    notes = [(one.name, one.old.source.graph_note) for one in matched if one.old.source.graph_note]
    if notes and role.kind == "model":
        reason += "".join(
            f" ({f'{source_name}: ' if several else ''}{note})" for source_name, note in notes
        )
    if (shape is None or None in shape) and resolution is None:
        shape = loaded.initial_shapes.get(name, shape)
    if (shape is None or None in shape) and resolution is None:
        reason += "; its shape is left undefined and nothing in the checkpoint gives it"
        shape = None
    return VariableEntry(
        **common,
        shape=shape,
        action=INITIALIZE,
        reason=reason,
        shape_resolution=resolution,
        candidates=candidates,
        alternatives=_alternatives(choice) if choice is not None else (),
    )


def _old_named(loaded: Loaded, name: str | None) -> OldSide:
    return next(old for old in loaded.olds if old.name == name)


def _qualified(match: Match, matched: list[Matched], source: str) -> Match:
    """A named source's inferred rules are told apart by its name: `det:inferred-1`."""
    one = next(m for m in matched if m.name == source)
    if match.rule is not None and match.rule in {rule.id for rule in one.inferred}:
        return dataclasses.replace(match, rule=f"{source}:{match.rule}")
    return match


def _alternatives(choice) -> tuple[Alternative, ...]:
    return tuple(Alternative(c.source, c.key, why) for c, why in choice.passed_over)


def _why_initialized(matched: list[Matched], choice, name: str, role: Role):
    """The reason and candidates of a variable no source restores: the sources' own refusals
    (each named when there are several), or why a source's claim was passed over."""
    if choice is not None and choice.note is not None:
        undecided = choice.undecided
        return choice.note, tuple(f"{c.source}:{c.key}" for c, _ in choice.passed_over if undecided)
    refusals = [
        (one.name, *one.assignments.refused[name])
        for one in matched
        if name in one.assignments.refused
    ]
    if not refusals:
        return _no_counterpart(role, several=len(matched) > 1), ()
    candidates = tuple(
        key if source is None else f"{source}:{key}" for source, _, keys in refusals for key in keys
    )
    reasons = list(dict.fromkeys(reason for _, reason, _ in refusals))
    if len(matched) == 1 or len(reasons) == 1 and len(refusals) == len(matched):
        return reasons[0], candidates
    return "; ".join(f"{source}: {reason}" for source, reason, _ in refusals), candidates


def _how(method: str) -> str:
    return {
        "name": "same name",
        "user_rule": "--map rule",
        "structure": "same place in the graph",
        "inferred_rule": "inferred rename rule",
        "slot": "follows its variable",
    }[method]


def _no_counterpart(role: Role, several: bool = False) -> str:
    where = "any source" if several else "the checkpoint"
    if role.kind == "model":
        return f"new: no variable of {where} matches it"
    return f"new {role.kind.replace('_', ' ')}: nothing in {where} matches it"


def unused_keys(one: Matched, choices: dict, options: Options) -> list[UnusedKey]:
    """The keys of one source that restore nothing, each with why."""
    context, assignments, source = one.old.context, one.assignments, one.old.source
    used, passed_over = set(), {}
    for name, (key, _) in assignments.pairs.items():
        choice = choices[name]
        if choice.taken is not None and choice.taken.source == one.name:
            used.add(key)
        else:
            passed_over.setdefault(key, f"not taken: {_taker(name, choice, one.name)}")
    refused_by_key: dict[str, str] = {}
    for name, (reason, candidates) in assignments.refused.items():
        for key in candidates:
            refused_by_key.setdefault(key, f"not restored into '{name}': {reason}")
    unused = []
    for key, spec in context.checkpoint.items():
        if key in used:
            continue
        role = context.old_roles[key]
        if key in passed_over:
            reason = passed_over[key]
        elif key in refused_by_key:
            reason = refused_by_key[key]
        elif options.reset_optimizer and role.kind != "model":
            reason = "optimizer state reset by --reset-optimizer"
        elif role.kind == "slot":
            reason = f"optimizer slot of '{role.primary}', which restores nothing"
        elif role.kind in ("optimizer", "global_step"):
            reason = f"{role.kind.replace('_', ' ')}: the new graph has no counterpart"
        else:
            reason = (
                f"removed: no variable of the new graph matches it ({format_shape(spec.shape)})"
            )
        if key in source.notes:
            reason += f"; {source.notes[key]}"
        stored = stored_as(source, key)
        unused.append(UnusedKey(key, spec.dtype, spec.shape, reason, stored, one.name))
    return unused


def _taker(name: str, choice, passed: str | None) -> str:
    """What became of a variable a source claimed but did not get."""
    if choice.taken is None:
        return f"'{name}' is initialized: {choice.note}"
    why = next(why for claim, why in choice.passed_over if claim.source == passed)
    return f"'{name}' comes from {choice.taken.source} '{choice.taken.key}' ({why})"


def rules_in_force(rules: SourceRules, matched: list[Matched], entries) -> list[Rule]:
    """The user's rules, then each source's inferred ones, with the variables each restored
    in the end (a source's inferred rule that another source outranked everywhere is gone)."""
    restored = [e for e in entries if e.action == RESTORE and e.match is not None]
    user = [
        dataclasses.replace(
            rule,
            support=sum(
                e.match.method == "user_rule" and e.match.rule == rule.id for e in restored
            ),
        )
        for rule in rules.maps
    ]
    inferred = []
    for one in matched:
        lost = _lost_edits(one, {e.name: e for e in restored})
        for rule in one.inferred:
            support = rule.support - lost[(rule.kind, rule.old, rule.new)]
            if support <= 0:
                continue
            rule_id = rule.id if one.name is None else f"{one.name}:{rule.id}"
            inferred.append(
                dataclasses.replace(rule, id=rule_id, support=support, source_name=one.name)
            )
    return user + inferred


def _lost_edits(one: Matched, restored: dict) -> Counter:
    """The renames behind the pairs of `one` that another source (or no source) took."""
    lost: Counter = Counter()
    for name, (key, _) in one.assignments.pairs.items():
        entry = restored.get(name)
        if entry is None or entry.source_name != one.name:
            lost.update((r.kind, r.old, r.new) for r in map(as_rule, rename_edits(key, name)))
    return lost


def stored_as(source: Source, key: str) -> str | None:
    stored = source.stored_key(key)
    return None if stored == key else stored
