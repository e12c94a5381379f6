"""The diff as a reviewer sees it, in plain data: rows of boxes, links, unused keys, totals.

In: a Plan, and optionally a depth, a focus scope and an order of sibling scopes a side (the
picture orders them by data flow when it can read the graphs). Out: a `View`, which both the
picture (render.py) and the text forms (show.py) read, so that they give the same counts.

- The boxes of each side come from sides.py (new graph first; the checkpoint's follow them),
  the scopes a --focus opens from focus.py.
- Rows pair each checkpoint box with the first new box it restores into, so that kept scopes
  face each other; unused checkpoint boxes sit after their predecessor in checkpoint order.
- Unused keys are grouped by the checkpoint box they sit in (optimizer state by the box of
  the variable it serves) and by reason; the words for them and for rules are shared here.

    view = build_view(plan, focus="block3")
    [(row.old and row.old.label, row.new and row.new.label) for row in view.rows]
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import PurePath

from graphdiff.errors import BadInput
from graphdiff.plan import Plan, Rule
from graphdiff.view.boxes import Box, Counts, Mode, Order, count
from graphdiff.view.contradictions import contradictions
from graphdiff.view.focus import focus_tops
from graphdiff.view.scopetree import (
    PASSED_OVER,
    ROOT,
    UNUSED,
    Trees,
    build_trees,
    display_name,
    natural_key,
    plain_key,
    source_of,
    split_name,
    unused_category,
)
from graphdiff.view.sides import new_side, old_side, with_state

THIN_SUPPORT = 2  # an inferred rule restoring this few variables is thin evidence


@dataclass(frozen=True)
class Link:
    old: str  # box keys
    new: str
    count: int  # variables restored along it
    renamed: bool


@dataclass(frozen=True)
class Conflict:
    """Variables of a new box another source could have given from an old box, and why not."""

    old: str  # box keys
    new: str
    count: int
    why: str


@dataclass(frozen=True)
class Row:
    old: Box | None
    new: Box | None


@dataclass(frozen=True)
class UnusedGroup:
    scope: str  # the checkpoint box (or scope) the keys sit in
    category: str
    keys: tuple[str, ...]
    params: int


@dataclass(frozen=True)
class View:
    files: tuple[str, str]  # old .meta and new graph, by name
    model: Counts  # every model variable of the new graph
    state: Counts  # optimizer slots, optimizer state, global step of the new graph
    unused_keys: int
    rows: tuple[Row, ...]
    links: tuple[Link, ...]
    prefixes: dict[str, str]  # side -> scope path left out of its box labels
    unused: tuple[UnusedGroup, ...]
    rules: tuple[Rule, ...]
    notes: tuple[str, ...]
    focus: dict[str, str | None] | None
    has_optimizer: bool
    sources: tuple[str, ...] = ()  # named sources, in order: one column each (none: one source)
    conflicts: tuple[Conflict, ...] = ()

    def boxes(self, side: str) -> list[Box]:
        return [b for b in (getattr(row, side) for row in self.rows) if b is not None]

    def column(self, source: str) -> list[Box]:
        """The checkpoint boxes of one named source."""
        return [b for b in self.boxes("old") if source_of(b.key) == source]


def build_view(
    plan: Plan,
    *,
    depth: int | None = None,
    focus: str | None = None,
    orders: dict[str, Order] | None = None,
    trees: Trees | None = None,
) -> View:
    """The view of `plan`; BadInput for a depth below 1 or a focus that names no scope."""
    if depth is not None and depth < 1:
        raise BadInput("--depth", f"{depth} is not a whole number of 1 or more")
    trees = trees or build_trees(plan)
    orders = orders or {}
    tops = focus_tops(trees, focus) if focus is not None else {"old": trees.old, "new": trees.new}
    detailed = focus is not None or depth is not None
    mode = Mode(depth=depth, auto=depth is None, opens=focus is not None, detail=detailed)
    notes = [f"hand-edited plan? {line}" for line in contradictions(plan)]
    new = with_state(new_side(tops["new"], mode, orders.get("new"), notes), trees, "new")
    new_of = {i.name: b.key for b in new for i in b.items}
    old = with_state(old_side(tops["old"], mode, orders.get("old"), new_of, notes), trees, "old")
    conflicts = _conflicts(trees, old, new_of)
    rows, links, prefixes = _laid_out(old, new, new_of, conflicts)
    return View(
        files=_file_names(plan),
        model=count(trees.new.all_items),
        state=count(trees.state["new"]),
        unused_keys=len(plan.unused),  # the plan's own count; contradictions are in the notes
        rows=tuple(rows),
        links=tuple(links),
        prefixes=prefixes,
        unused=tuple(_unused_groups(trees, old, focus is None)),
        rules=plan.rules,
        notes=tuple(notes),
        focus={s: (t.name if t else None) for s, t in tops.items()} if focus is not None else None,
        has_optimizer=trees.has_optimizer,
        sources=trees.sources,
        conflicts=tuple(conflicts),
    )


def _conflicts(trees: Trees, old: list[Box], new_of: dict[str, str]) -> list[Conflict]:
    """Old box -> new box for what another source could have given, counted, with why not."""
    box_of = {i.name: b.key for b in old for i in b.items}
    counts: Counter = Counter()
    for old_name, new_name, why in trees.passed_over:
        if old_name in box_of and new_name in new_of:
            counts[(box_of[old_name], new_of[new_name], why)] += 1
    return [Conflict(o, n, c, why) for (o, n, why), c in counts.items()]


SIDES = ("old", "new")


# --- rows and links -----------------------------------------------------------------------------


def _laid_out(old: list[Box], new: list[Box], new_of: dict[str, str], conflicts=()):
    """(rows, links, prefixes): boxes paired in rows, labelled without their side's prefix."""
    links = _links(old, new_of)
    rows = _rows(old, new, links, conflicts)
    prefixes = {
        side: _common_prefix([b for r in rows if (b := getattr(r, side))]) for side in SIDES
    }
    labelled = [
        Row(_shown(_labelled(r.old, prefixes["old"])), _labelled(r.new, prefixes["new"]))
        for r in rows
    ]
    return labelled, links, prefixes


def _links(old: list[Box], new_of: dict[str, str]) -> list[Link]:
    counts: Counter = Counter()
    renamed: set[tuple[str, str]] = set()
    for box in old:
        for item in box.items:
            for name in item.links:
                if name in new_of:
                    pair = (box.key, new_of[name])
                    counts[pair] += 1
                    if name != plain_key(item.name):
                        renamed.add(pair)
    return [Link(o, n, c, (o, n) in renamed) for (o, n), c in counts.items()]


def _rows(old: list[Box], new: list[Box], links: list[Link], conflicts=()) -> list[Row]:
    """New boxes in order; each old box beside the first new box it restores into (or, when
    it restores nothing, could have: another source gives it)."""
    index = {b.key: n for n, b in enumerate(new)}
    first: dict[str, int] = {}
    for link in links:
        first[link.old] = min(first.get(link.old, len(new)), index[link.new])
    hints: dict[str, int] = {}
    for conflict in conflicts:
        if conflict.old not in first:
            hints[conflict.old] = min(hints.get(conflict.old, len(new)), index[conflict.new])
    first.update(hints)
    taken: dict[tuple[int, int], Box] = {}
    place = (-1, 0)
    for box in old:
        place = (first[box.key], 0) if box.key in first else (place[0], place[1] + 1)
        while place in taken or (place[1] == 0 and place[0] < 0):
            place = (place[0], place[1] + 1)
        taken[place] = box
    keys = sorted({(n, 0) for n in range(len(new))} | set(taken))
    return [Row(taken.get(k), new[k[0]] if k[1] == 0 and k[0] >= 0 else None) for k in keys]


def _common_prefix(boxes: list[Box]) -> str:
    """The scope path every box shares and none is: left out of the labels, shown once."""
    paths = [split_name(s) if s != ROOT else () for b in boxes for s in b.scopes]
    if len(boxes) < 2 or not paths or not all(paths):
        return ""
    common = os.path.commonprefix(paths)[: min(len(p) for p in paths) - 1]
    return "/".join(common)


def _shown(box: Box | None) -> Box | None:
    """An old box of a named source labelled as a person writes it (`cls:resnet/conv1`)."""
    if box is None or source_of(box.key) is None:
        return box
    return dataclasses.replace(box, label=display_name(box.label))


def _labelled(box: Box | None, prefix: str) -> Box | None:
    if box is None:
        return None
    cut = len(prefix) + 1 if prefix else 0
    if not box.folded:
        return dataclasses.replace(box, label=box.key[cut:])
    first, last = box.starts[0], box.starts[-1]
    head, _, leaf = first[cut:].rpartition("/")
    # the chain of single child scopes below each folded scope: one name when all share it
    tails = {scope[len(start) :] for start, scope in zip(box.starts, box.scopes, strict=True)}
    last_leaf = last.rsplit("/", 1)[-1]
    if len(tails) == 1:
        tail = tails.pop()
        run = f"{leaf} \u2026 {last_leaf}"
        named = f"{{{run}}}{tail}" if tail else run
    else:  # each its own chain: name the first's and the last's, not one for all
        named = (
            f"{leaf}{box.scopes[0][len(first) :]} \u2026 {last_leaf}{box.scopes[-1][len(last) :]}"
        )
    return dataclasses.replace(box, label=f"{head}/" * bool(head) + named)


# --- unused keys, files -------------------------------------------------------------------------


def _unused_groups(trees: Trees, old: list[Box], everything: bool) -> list[UnusedGroup]:
    """Unused keys by the checkpoint box they sit in (or their scope) and by reason."""
    box_of = {i.name: b.key for b in old for i in b.items}
    order = {b.key: n for n, b in enumerate(old)}
    groups: dict[tuple[str, str], list] = {}
    for box in old:
        for item in box.items + box.state:
            if item.fate == UNUSED:
                groups.setdefault((box.key, unused_category(item.unused.reason)), []).append(item)
    if everything:
        for item in trees.state["old"]:
            if item.fate == UNUSED and trees.primary["old"].get(item.name) not in box_of:
                scope = item.name.rsplit("/", 1)[0] if "/" in item.name else ROOT
                groups.setdefault((scope, unused_category(item.unused.reason)), []).append(item)
    ranked = sorted(groups, key=lambda k: (order.get(k[0], len(order)), natural_key(k[0]), k[1]))
    return [
        UnusedGroup(s, c, tuple(i.name for i in groups[s, c]), sum(i.params for i in groups[s, c]))
        for s, c in ranked
    ]


def _file_names(plan: Plan) -> tuple[str, str]:
    """The two files by name; with their directory when the names alone are equal. Named
    sources are listed as NAME=file, in order."""
    olds = [
        PurePath(s.old_meta.path if s.old_meta else s.checkpoint_prefix)
        for s in plan.provenance.old_sources
    ]
    new = PurePath(plan.provenance.new_graph.path)
    names = [p.name for p in [*olds, new]]
    if len(set(names)) == len(names):
        shown = names
    else:
        shown = [str(PurePath(p.parent.name, p.name)) for p in [*olds, new]]
    if not plan.provenance.sources:
        return shown[0], shown[1]
    labels = [f"{s.name}={file}" for s, file in zip(plan.provenance.sources, shown, strict=False)]
    return ", ".join(labels), shown[-1]


# --- words shared by the picture and the text forms ---------------------------------------------


def describe(category: str, has_optimizer: bool, count: int = 2) -> str:
    """What a group of `count` unused keys is, in words."""
    cause = "" if has_optimizer else " (the new graph has no optimizer)"
    candidates = "candidate" if count == 1 else "candidates"
    return {
        "optimizer slots": f"optimizer slot{'s' * (count != 1)}{cause}",
        "optimizer state and step": f"optimizer state and global step{cause}",
        "removed": "removed: nothing in the new graph matches",
        "candidate left for a decision": f"{candidates} of a variable left for a decision",
        "reset by --reset-optimizer": "optimizer state reset by --reset-optimizer",
        PASSED_OVER: "not taken: another source gives what it could",
    }.get(category, category)


def merged_unused(groups, limit: int) -> list[UnusedGroup]:
    """At most about `limit` groups: beyond it, one group a reason, under the scope all share."""
    groups = list(groups)
    if len(groups) <= limit:
        return groups
    merged: dict[str, list[UnusedGroup]] = {}
    for group in groups:
        merged.setdefault(group.category, []).append(group)
    out = []
    for category, parts in merged.items():
        paths = [split_name(g.scope) if g.scope != ROOT else () for g in parts]
        scope = "/".join(os.path.commonprefix(paths)) or ROOT
        keys = tuple(k for g in parts for k in g.keys)
        out.append(UnusedGroup(scope, category, keys, sum(g.params for g in parts)))
    return out


def is_thin(rule: Rule) -> bool:
    return rule.origin == "inferred" and rule.support <= THIN_SUPPORT


def describe_rule(rule: Rule) -> str:
    """'r1: prefix B → tower/B (inferred, 2 variables; thin evidence: check it)'."""
    thin = "; thin evidence: check it" if is_thin(rule) else ""
    support = f"{rule.support} variable{'s' * (rule.support != 1)}"
    return (
        f"{rule.id}: {rule.kind} {rule.old or ROOT} \u2192 {rule.new or ROOT} "
        f"({rule.origin}, {support}{thin})"
    )
