"""--focus: the scope a view opens on each side.

In: the two scope trees (scopetree.Trees) and the text given to --focus: a scope's full name,
or its last parts (`block3` for `resnet_v1_101/block3`). Out: the scope each side opens;
a side that has no such scope opens the smallest scope holding everything linked to the
other side's. BadInput when it names no scope, names several, or names a variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from graphdiff.errors import BadInput
from graphdiff.view.scopetree import (
    ROOT,
    Scope,
    Trees,
    candidate_name,
    display_name,
    natural_key,
    old_name,
    source_of,
    split_name,
)

SIDES = ("old", "new")


def focus_tops(trees: Trees, focus: str) -> dict[str, Scope | None]:
    """The scope a side opens for --focus; the other side follows the links when it lacks it."""
    text = focus.strip().strip("/")
    head, colon, rest = text.partition(":")
    if colon and head in trees.sources:  # `cls:resnet`: the scope of source cls
        text = old_name(head, rest.strip("/")) if rest.strip("/") else f"{head}:"
    if not text:
        raise BadInput("--focus", "is empty: give a scope name, such as a top-level scope")
    if trees.sources and not colon:
        new = _find_scope(trees.new, text, "new")
        if new is not None:  # a scope of the new graph: each source's side of it
            return {"new": new, "old": _linked_in_sources(trees, new)}
    tops = {side: _find_scope(trees.tree(side), text, side) for side in ("new", "old")}
    if tops["old"] is None and tops["new"] is None:
        raise BadInput("--focus", _no_scope(trees, text))
    for side, other in (("old", "new"), ("new", "old")):
        if tops[side] is None:
            tops[side] = _linked_scope(trees.tree(side), tops[other], _candidates(trees, other))
    return tops


def _candidates(trees: Trees, side: str) -> dict[str, tuple[str, ...]]:
    """Item name of `side` -> names on the other side it was weighed against (a decision)."""
    pairs = [
        (i.name, candidate_name(k))
        for i in trees.new.all_items
        if i.entry
        for k in i.entry.candidates
    ]
    found: dict[str, tuple[str, ...]] = {}
    for new, key in pairs:
        a, b = (new, key) if side == "new" else (key, new)
        found[a] = (*found.get(a, ()), b)
    return found


def _find_scope(tree: Scope, text: str, side: str) -> Scope | None:
    if text == ROOT:
        return tree
    found = [s for s in tree.walk() if s.path and (s.name == text or s.name.endswith("/" + text))]
    exact = [s for s in found if s.name == text]
    if exact or len(found) == 1:
        return (exact or found)[0]
    if found:
        names = ", ".join(
            _short(display_name(s.name))
            for s in sorted(found, key=lambda s: natural_key(s.name))[:4]
        )
        more = f" and {len(found) - 4} more" if len(found) > 4 else ""
        what = "the checkpoint" if side == "old" else "the new graph"
        fault = f"'{text}' names {len(found)} scopes of {what}: {names}{more}; give more of it"
        raise BadInput("--focus", fault)
    return None


def _no_scope(trees: Trees, text: str) -> str:
    names = {i.name for tree in (trees.old, trees.new) for i in tree.all_items}
    if text in names:
        scope = text.rsplit("/", 1)[0] if "/" in text else ROOT
        return f"'{text}' is a variable, not a scope: use --focus '{scope}'"
    tops = sorted({c for tree in (trees.new, trees.old) for c in tree.children}, key=natural_key)
    listed = ", ".join(map(_short, tops[:6])) + (
        f" and {len(tops) - 6} more" if len(tops) > 6 else ""
    )
    return f"'{text}' names no scope of the plan (top-level scopes: {listed or 'none'})"


def _short(name: str, limit: int = 60) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "\u2026"


def _linked_in_sources(trees: Trees, new: Scope) -> Scope | None:
    """The checkpoint side of a new scope when sources are named: in each source, the smallest
    scope holding what that source gives it, could have given it (not taken) or was weighed
    for it; under one top when several sources have one."""
    inside = {item.name for item in new.all_items}
    names = [n for i in new.all_items for n in i.links]
    names += [n for i in new.all_items for n in _candidates(trees, "new").get(i.name, ())]
    names += [old for old, new_name, _ in trees.passed_over if new_name in inside]
    by_source: dict[str | None, list[tuple[str, ...]]] = {}
    for name in names:
        by_source.setdefault(source_of(name), []).append(split_name(name)[:-1])
    scopes = [
        scope
        for source in trees.sources
        if source in by_source
        and (scope := trees.old.find(tuple(os.path.commonprefix(by_source[source])))) is not None
    ]
    if len(scopes) < 2:
        return scopes[0] if scopes else None
    return _Joined.of(scopes)


@dataclass
class _Joined(Scope):
    """Several sources' scopes under one top, named for them all (`cls:/resnet/conv1,
    det:/FeatureExtractor/resnet/conv1`): the chains down to each are kept, nothing else."""

    shown: str = ""

    @property
    def name(self) -> str:
        return self.shown

    @classmethod
    def of(cls, scopes: list[Scope]) -> _Joined:
        top = cls((), shown=", ".join(s.name for s in scopes))
        for scope in scopes:
            holder: Scope = top
            for end in range(1, len(scope.path)):
                part = scope.path[end - 1]
                holder = holder.children.setdefault(part, Scope(scope.path[:end]))
            holder.children[scope.path[-1]] = scope
        return top


def _linked_scope(tree: Scope, other: Scope | None, candidates) -> Scope | None:
    """The smallest scope of `tree` holding everything linked to `other`'s items: restored
    from or into them, or weighed against them for a decision."""
    items = other.all_items if other else ()
    names = [n for i in items for n in (i.links or candidates.get(i.name, ()))]
    linked = [split_name(n)[:-1] for n in names]
    return tree.find(tuple(os.path.commonprefix(linked))) if linked else None
