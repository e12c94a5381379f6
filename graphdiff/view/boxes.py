"""Which scopes of one side become boxes: collapse, depth, folding, and what each box counts.

In: a scope tree (scopetree.Scope), a test of uniformity, a `Mode` and an order of siblings.
Out: `Box`es, in order: each covers one scope (its whole subtree, or only its own variables
when its child scopes have boxes of their own) or a folded run of sibling scopes, with its
status (shared / partial / new / removed) and `Counts` (variables, parameters and bytes per
fate, and the flags a reviewer must see).

- A scope whose variables all go the same way (`uniform`) is one box, unless the mode sets a
  depth; a scope with one child scope and no variables of its own costs no depth level.
- Runs of at least FOLD_RUN sibling boxes with equal status, shapes and relation fold into
  one box (`block3/unit_7 … unit_23`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from graphdiff.view.scopetree import INITIALIZED, RESTORED, UNUSED, Item, Scope

FOLD_RUN = 3
FLAGS = ("resolved", "decision", "policy", "partitioned", "passed", "thin")

Order = Callable[[Scope], list[Scope]]


@dataclass(frozen=True)
class Tally:
    count: int = 0
    params: int = 0
    nbytes: int = 0


@dataclass(frozen=True)
class Counts:
    """What a set of items holds, by fate; `state` counts optimizer state by fate."""

    restored: Tally = Tally()
    initialized: Tally = Tally()
    unused: Tally = Tally()
    state: tuple[tuple[str, int], ...] = ()
    flags: tuple[tuple[str, int], ...] = ()

    def flag(self, name: str) -> int:
        return dict(self.flags).get(name, 0)

    def state_count(self, fate: str) -> int:
        return dict(self.state).get(fate, 0)

    @property
    def total(self) -> int:
        return self.restored.count + self.initialized.count + self.unused.count


def count(items, state=()) -> Counts:
    tallies = {}
    for fate in (RESTORED, INITIALIZED, UNUSED):
        chosen = [i for i in items if i.fate == fate]
        tallies[fate] = Tally(
            len(chosen), sum(i.params for i in chosen), sum(i.nbytes for i in chosen)
        )
    flags = Counter(flag for item in items for flag in item.flags)
    fates = Counter(item.fate for item in state)
    return Counts(
        tallies[RESTORED],
        tallies[INITIALIZED],
        tallies[UNUSED],
        tuple(sorted(fates.items())),
        tuple((f, flags[f]) for f in FLAGS if flags[f]),
    )


@dataclass(frozen=True)
class Box:
    """One drawn node: a scope (whole, or its own variables only) or a fold of siblings."""

    side: str
    scopes: tuple[str, ...]  # full scope names, in order
    whole: bool  # all below `scopes`, or only their own variables
    starts: tuple[str, ...]  # where each scope's chain of single child scopes starts
    items: tuple[Item, ...]
    state: tuple[Item, ...] = ()
    detail: bool = False  # list its variables
    label: str = ""  # set by the view: the name without the side's common prefix
    alike: bool = True  # a fold of scopes of one shape (False: folded only to fit)

    @cached_property
    def counts(self) -> Counts:
        return count(self.items, self.state)

    @cached_property
    def status(self) -> str:
        fates = Counter(i.fate for i in self.items)
        kept, other = fates[RESTORED], fates[UNUSED if self.side == "old" else INITIALIZED]
        if not other:
            return "shared"
        return "partial" if kept else ("removed" if self.side == "old" else "new")

    @property
    def passed_over(self) -> bool:
        """Unused only because another named source gives what it could (`not taken`)."""
        unused = self.counts.unused.count
        return self.side == "old" and unused > 0 and self.counts.flag("passed") == unused

    @property
    def key(self) -> str:
        return self.scopes[0]

    @property
    def id(self) -> str:
        return f"{self.side}:{self.key}"

    @property
    def folded(self) -> int:
        return len(self.scopes) if len(self.scopes) > 1 else 0

    @property
    def fold_words(self) -> str:
        return f"{self.folded} {'alike ' if self.alike else ''}scopes"


def make_box(side: str, start: Scope, scope: Scope, whole: bool, detail: bool = False) -> Box:
    items = scope.all_items if whole else tuple(scope.direct)
    return Box(side, (scope.name,), whole, (start.name,), items, (), detail)


@dataclass(frozen=True)
class Mode:
    depth: int | None = None  # levels below the top, None: as deep as needed
    auto: bool = True  # a uniform scope is one box
    opens: bool = False  # the top scope always opens (a --focus)
    detail: bool = False  # scopes without child scopes list their variables


def natural_order(scope: Scope) -> list[Scope]:
    return scope.ordered()


def select(
    top: Scope, uniform: Callable[[Scope], bool], mode: Mode, order: Order = natural_order
) -> list[tuple[Scope, Scope, bool]]:
    """(start, scope, whole) in drawing order. `scope` ends the chain of single child scopes
    from `start` (the same variables, under a longer name); `whole` False: its own variables.
    """
    chosen: list[tuple[Scope, Scope, bool]] = []
    stack = [(top, 0)]
    while stack:
        start, level = stack.pop()
        scope = start
        while scope.children and not _closes(scope, level, uniform, mode):
            if scope.direct or len(scope.children) > 1:
                break
            scope = next(iter(scope.children.values()))  # a chain costs no level
        else:
            chosen.append((start, chain_end(scope), True))
            continue
        if scope.direct:
            chosen.append((scope, scope, False))
        stack.extend((child, level + 1) for child in reversed(order(scope)))
    return chosen


def chain_end(scope: Scope) -> Scope:
    """Down through scopes that hold nothing but one child scope (they cost no depth level)."""
    while not scope.direct and len(scope.children) == 1:
        scope = next(iter(scope.children.values()))
    return scope


def _closes(scope: Scope, level: int, uniform, mode: Mode) -> bool:
    if level == 0 and mode.opens:
        return False
    if mode.depth is not None and level >= mode.depth:
        return True
    return mode.auto and uniform(scope)


def fold(boxes: list[Box], key: Callable[[Box], object], alike: bool = True) -> list[Box]:
    """Fold runs of at least FOLD_RUN consecutive whole boxes with one `key` (None: never)."""
    out: list[Box] = []
    run: list[Box] = []
    run_mark = None

    def flush():
        out.extend([_merge(run, alike)] if len(run) >= FOLD_RUN else run)
        run.clear()

    for box in boxes:
        mark = key(box) if box.whole else None
        if run and mark is not None and mark == run_mark:
            run.append(box)
            continue
        flush()
        (run if mark is not None else out).append(box)
        run_mark = mark
    flush()
    return out


def _merge(run: list[Box], alike: bool) -> Box:
    first = run[0]
    items = tuple(i for b in run for i in b.items)
    state = tuple(i for b in run for i in b.state)
    scopes = tuple(s for b in run for s in b.scopes)
    starts = tuple(s for b in run for s in b.starts)
    return Box(first.side, scopes, True, starts, items, state, False, "", alike)


def shape_signature(box: Box) -> tuple:
    """The box's variables by name relative to its scope, with shape, dtype and fate."""
    cut = 0 if box.key == "(root)" else len(box.key) + 1
    return tuple(sorted((i.name[cut:], i.shape or (), i.dtype, i.fate) for i in box.items))


def parent_of(name: str) -> str:
    return name.rsplit("/", 1)[0] if "/" in name else ""
