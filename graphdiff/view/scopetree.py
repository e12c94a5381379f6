"""A plan as two scope trees: checkpoint keys on the old side, new variables on the new side.

In: a Plan. Out: `Trees` with one `Scope` tree a side, whose leaves are `Item`s: a new
variable (restored or initialized) or a checkpoint key (restored from, or unused), with its
parameter and byte counts, the names it links to on the other side and the flags a reviewer
must see (shape taken from the checkpoint, candidates left for a decision, initialized by
policy). Model variables make the trees; optimizer slots, optimizer state and the global step
are kept apart as `state`, each attached to the model variable it serves when it has one.
Nothing is matched here: every fact comes from the plan.

With named sources the old tree holds every source's keys, each under a top scope named for
its source (`cls:`), so that a key reads `cls:/resnet/conv1/weights` and every source is a
column of its own; the new items link to those names.

    trees = build_trees(plan)
    trees.new.child("resnet_v1_101").items()  # every model Item below that scope
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property

from graphdiff.dtypes import itemsize
from graphdiff.plan import RESTORE, Plan, UnusedKey, VariableEntry

ROOT = "(root)"
RESTORED, INITIALIZED, UNUSED = "restored", "initialized", "unused"
POLICY_REASONS = ("excluded by --exclude", "optimizer state reset by --reset-optimizer")
STATE_CATEGORIES = ("reset by --reset-optimizer", "optimizer slots", "optimizer state and step")

_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple:
    """Sort key that puts `unit_2` before `unit_10` (digit runs compare as numbers).

    The runs are what `\\d` matches (decimal digits of any script, which int() reads); other
    characters that str.isdigit() calls digits, like `²`, compare as text.
    """
    parts = _DIGITS.split(text)  # text, digits, text, digits, ..., text
    return tuple((0, int(p), "") if n % 2 else (1, 0, p) for n, p in enumerate(parts) if p)


SOURCE_MARK = ":/"  # between a source's name and a key of it: `cls:/resnet/conv1/weights`
PASSED_OVER = "given by another source"


def old_name(source_name: str | None, key: str) -> str:
    """A key as the old tree names it: under its source's top scope, when sources are named."""
    return key if source_name is None else f"{source_name}{SOURCE_MARK}{key}"


def source_of(name: str) -> str | None:
    """The source an old tree name (or scope) belongs to; None when sources are unnamed."""
    head, mark, _ = name.partition(":")
    return head if mark and "/" not in head else None


def candidate_name(text: str) -> str:
    """A plan's candidate as the old tree names it: a named plan writes `cls:resnet/w`."""
    head, colon, rest = text.partition(":")
    return old_name(head, rest) if colon and "/" not in head else text


def display_name(name: str) -> str:
    """An old tree name as a person writes it: `cls:resnet/conv1`, `cls:(root)`."""
    source = source_of(name)
    if source is None:
        return name
    rest = name[len(source) + len(SOURCE_MARK) :] if name != f"{source}:" else ""
    return f"{source}:{rest or ROOT}"


def plain_key(name: str) -> str:
    """An old tree name as its source's key (`cls:/resnet/w` -> `resnet/w`)."""
    source = source_of(name)
    return name if source is None else name[len(source) + len(SOURCE_MARK) :]


def within_source(name: str) -> str:
    """An old name (as the tree has it or as displayed) without its source, which a column
    says: `resnet/conv1`, `(root)`."""
    source = source_of(name)
    if source is None:
        return name
    return name[len(source) + 1 :].removeprefix("/") or ROOT


def unused_category(reason: str) -> str:
    """The kind of an unused key, read from the fixed start of the reason the planner wrote."""
    if reason.startswith("not taken:"):
        return PASSED_OVER
    if reason.startswith("not restored into"):
        return "candidate left for a decision"
    if reason.startswith("optimizer state reset by --reset-optimizer"):
        return "reset by --reset-optimizer"
    if reason.startswith("optimizer slot of"):
        return "optimizer slots"
    if reason.startswith(("optimizer:", "global step:")):
        return "optimizer state and step"
    if reason.startswith("removed:"):
        return "removed"
    return reason


@dataclass(frozen=True)
class Item:
    """One new variable or one checkpoint key, as the picture and `show` count it."""

    name: str
    side: str  # "old" or "new"
    fate: str  # RESTORED, INITIALIZED (new side) or UNUSED (old side)
    dtype: str
    shape: tuple[int, ...] | None
    links: tuple[str, ...] = ()  # names on the other side: its source, or what it restores
    flags: frozenset[str] = frozenset()  # resolved, decision, policy, partitioned, thin
    entry: VariableEntry | None = None
    unused: UnusedKey | None = None

    @property
    def leaf(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    @cached_property
    def params(self) -> int:
        return math.prod(self.shape) if self.shape is not None else 0

    @cached_property
    def nbytes(self) -> int:
        return self.params * itemsize(self.dtype)


@dataclass
class Scope:
    """A scope of one side: its own items, its child scopes, and optimizer state attached."""

    path: tuple[str, ...]
    children: dict[str, Scope] = field(default_factory=dict)
    direct: list[Item] = field(default_factory=list)
    _all: tuple[Item, ...] | None = field(default=None, repr=False, compare=False)

    @cached_property
    def name(self) -> str:
        return "/".join(self.path) if self.path else ROOT

    def child(self, part: str) -> Scope:
        if part not in self.children:
            self.children[part] = Scope((*self.path, part))
        return self.children[part]

    def ordered(self) -> list[Scope]:
        """Child scopes in natural order (call only once the tree is complete)."""
        return list(self._ordered)

    @cached_property
    def _ordered(self) -> tuple[Scope, ...]:
        return tuple(self.children[k] for k in sorted(self.children, key=natural_key))

    @property
    def all_items(self) -> tuple[Item, ...]:
        """Every model item at or below this scope (call only once the tree is complete).

        Computed once for every scope below, children first and without recursion: a
        hand-edited plan may nest names thousands of levels deep.
        """
        if self._all is None:
            pending = [s for s in self.walk_while(lambda s: s._all is None)]
            for scope in reversed(pending):  # children before their parents
                below = [i for child in scope.children.values() for i in child._all]
                scope._all = (*scope.direct, *below)
        return self._all

    def find(self, path: tuple[str, ...]) -> Scope | None:
        scope = self
        for part in path[len(self.path) :]:
            scope = scope.children.get(part)
            if scope is None:
                return None
        return scope

    def walk(self):
        """This scope and every scope below it, parents first (no recursion: a hand-edited
        plan may nest names thousands of levels deep)."""
        return self.walk_while(lambda scope: True)

    def walk_while(self, wanted):
        """Like walk, but not into (or below) a scope for which `wanted(scope)` is false."""
        stack = [self] if wanted(self) else []
        while stack:
            scope = stack.pop()
            yield scope
            stack.extend(c for c in reversed(scope.children.values()) if wanted(c))


@dataclass
class Trees:
    old: Scope
    new: Scope
    state: dict[str, list[Item]]  # side -> optimizer slots, optimizer state, global step
    primary: dict[str, dict[str, str]]  # side -> state item name -> model item it serves
    has_optimizer: bool  # the new graph has optimizer slots or state
    sources: tuple[str, ...] = ()  # the named sources, in order (none: one unnamed source)
    passed_over: tuple[tuple[str, str, str], ...] = ()  # (old name, new name, why not taken)

    def tree(self, side: str) -> Scope:
        return self.old if side == "old" else self.new


def split_name(name: str) -> tuple[str, ...]:
    return tuple(name.split("/"))


def build_trees(plan: Plan) -> Trees:
    """Both sides' scope trees from the plan's variables and unused keys."""
    new_items = [_new_item(entry) for entry in plan.variables]
    old_items = _old_items(plan)
    trees = Trees(Scope(()), Scope(()), {"old": [], "new": []}, {"old": {}, "new": {}}, False)
    model_names = {"old": set(), "new": set()}
    for side, items in (("new", new_items), ("old", old_items)):
        tree = trees.new if side == "new" else trees.old
        for item, is_model in items:
            if is_model:
                _insert(tree, item)
                model_names[side].add(item.name)
            else:
                trees.state[side].append(item)
    slot_of = {e.name: e.slot_of for e in plan.variables if e.slot_of}
    for side in ("old", "new"):
        for item in trees.state[side]:
            primary = slot_of.get(item.name) if side == "new" else None
            primary = primary if primary in model_names[side] else None
            primary = primary or _served(item.name, model_names[side])
            if primary:
                trees.primary[side][item.name] = primary
    trees.has_optimizer = any(e.role in ("slot", "optimizer") for e in plan.variables)
    trees.sources = tuple(source.name for source in plan.provenance.sources)
    trees.passed_over = tuple(
        (old_name(a.source_name, a.key), e.name, a.why)
        for e in plan.variables
        if e.role == "model"
        for a in e.alternatives
    )
    return trees


def _insert(tree: Scope, item: Item) -> None:
    scope = tree
    for part in split_name(item.name)[:-1]:
        scope = scope.child(part)
    scope.direct.append(item)


def _served(name: str, model_names: set[str]) -> str | None:
    """The model variable a state key sits under (`w/Adam` serves `w`), if any."""
    parts = split_name(name)
    for end in range(len(parts) - 1, 0, -1):
        candidate = "/".join(parts[:end])
        if candidate in model_names:
            return candidate
    return None


def thin_evidence(entry: VariableEntry) -> str | None:
    """Why the restore rests on one weak witness (the matcher says so in its evidence)."""
    if entry.match is None:
        return None
    return next((e.detail for e in entry.match.evidence if e.kind == "thin"), None)


def _new_item(entry: VariableEntry) -> tuple[Item, bool]:
    flags = set()
    if entry.shape_resolution is not None:
        flags.add("resolved")
    if entry.partitions:
        flags.add("partitioned")
    if entry.action == RESTORE and thin_evidence(entry):
        flags.add("thin")
    if entry.action != RESTORE:
        if entry.candidates:
            flags.add("decision")
        elif entry.reason.startswith(POLICY_REASONS):
            flags.add("policy")
    fate = RESTORED if entry.action == RESTORE else INITIALIZED
    links = (old_name(entry.source_name, entry.source),) if entry.source else ()
    item = Item(entry.name, "new", fate, entry.dtype, entry.shape, links, frozenset(flags), entry)
    return item, entry.role == "model"


def _old_items(plan: Plan) -> list[tuple[Item, bool]]:
    """Every checkpoint key: the ones restored from (with what they restore), the unused ones."""
    targets: dict[str, list[VariableEntry]] = {}
    for entry in plan.variables:
        if entry.action == RESTORE and entry.source:
            targets.setdefault(old_name(entry.source_name, entry.source), []).append(entry)
    items = []
    for key, entries in targets.items():
        first = entries[0]
        links = tuple(e.name for e in entries)
        is_model = any(e.role == "model" for e in entries)
        items.append((Item(key, "old", RESTORED, first.dtype, first.shape, links), is_model))
    seen = set(targets)
    # a key passed over for another source's is what the variable it could fill is
    passed_role = {
        old_name(a.source_name, a.key): e.role for e in plan.variables for a in e.alternatives
    }
    for unused in plan.unused:
        name = old_name(unused.source_name, unused.key)
        if name in seen:
            continue  # a hand-edited plan may list a used key as unused, or a key twice
        seen.add(name)
        category = unused_category(unused.reason)
        flags = frozenset({"decision"}) if category.startswith("candidate") else frozenset()
        flags |= {"passed"} if category == PASSED_OVER else set()
        item = Item(name, "old", UNUSED, unused.dtype, unused.shape, (), flags, None, unused)
        is_model = category not in STATE_CATEGORIES and passed_role.get(name, "model") == "model"
        items.append((item, is_model))
    return items
