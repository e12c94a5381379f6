"""The boxes of one side of the diff: which scopes, how deep, what folds, within what budget.

In: the scope at the top of a side (scopetree.Scope), a boxes.Mode, an order of siblings and,
for the checkpoint side, which new box each new variable sits in. Out: the side's Boxes in
drawing order, and notes for the title when scopes had to merge to fit.

- New graph: a scope is one box when its variables are all initialized, or all restored from
  one old scope by one prefix rename. Checkpoint: when its keys are all unused, or all restore
  into the same new boxes. Boxes follow the new graph's, so kept scopes pair up.
- Runs of sibling boxes fold when they have one status, one shape and one relation to the
  other side (`unit_k` from `unit_k`).
- Without a depth a side keeps to BUDGET boxes (FOCUS_BUDGET under a focus) by merging deeper
  scopes into their parents; with one it keeps to MAX_BOXES, so that `dot` can still draw it.

    boxes = new_side(trees.new, Mode(), natural_order, notes)
"""

from __future__ import annotations

import dataclasses

from graphdiff.view.boxes import (
    Box,
    Mode,
    fold,
    make_box,
    natural_order,
    parent_of,
    select,
    shape_signature,
)
from graphdiff.view.scopetree import INITIALIZED, ROOT, UNUSED, Scope, Trees

BUDGET = 30
FOCUS_BUDGET = 40
MAX_BOXES = 300  # a side, whatever --depth asks: beyond it runs fold
OUTSIDE = "(outside the view)"


def new_side(top: Scope | None, mode: Mode, order, notes: list[str]) -> list[Box]:
    """The new graph's boxes under `top`."""
    tests = _memo(_new_uniform), mode, order, _memo_box(_new_fold_key)
    return _side("new", top, *tests, notes)


def old_side(top: Scope | None, mode: Mode, order, new_of: dict[str, str], notes) -> list[Box]:
    """The checkpoint's boxes under `top`; new_of: new variable -> the key of its new box."""
    tests = _memo(_old_uniform(new_of)), mode, order, _memo_box(_old_fold_key(new_of))
    return _side("old", top, *tests, notes)


def _side(side, top, uniform, mode: Mode, order, fold_key, notes: list[str]) -> list[Box]:
    """The boxes of one side, within BUDGET (FOCUS_BUDGET for a focus) unless a depth is set;
    when the scopes do not fit, deeper ones merge into their parents and a note says so."""
    if top is None or not top.all_items:
        return []
    order = order or natural_order
    what = "checkpoint" if side == "old" else "new graph"
    if mode.depth is not None:
        return _deep(side, top, uniform, mode, order, fold_key, notes)
    limit, fitted = (FOCUS_BUDGET if mode.opens else BUDGET), None
    for depth in range(1, _height(top) + 1):  # as deep as fits, shallow first: cheap first
        boxes = _boxes(side, top, uniform, dataclasses.replace(mode, depth=depth), order, fold_key)
        if len(boxes) > limit:
            break
        fitted = boxes
    else:
        return fitted
    also = "" if fitted else ", and runs of sibling scopes folded"
    levels = f"{max(depth - 1, 1)} level{'s' * (depth > 2)}"
    notes.append(
        f"{what}: scopes deeper than {levels} drawn merged into their parents{also} "
        "(--depth or --focus shows them)"
    )
    return fitted or _fold_to_fit(boxes)


def _deep(side, top, uniform, mode: Mode, order, fold_key, notes: list[str]) -> list[Box]:
    """The depth asked for, unless it makes more than MAX_BOXES boxes: then runs of sibling
    scopes fold whatever their shapes, and if that is not enough, the depth shrinks."""
    what = "checkpoint" if side == "old" else "new graph"
    boxes = _boxes(side, top, uniform, mode, order, fold_key)
    if len(boxes) <= MAX_BOXES:
        return boxes
    wanted, deepest = len(boxes), min(mode.depth, _height(top))  # --depth 1000000000 too
    for depth in range(deepest, 0, -1):
        shallower = dataclasses.replace(mode, depth=depth)
        boxes = _fold_to_fit(_boxes(side, top, uniform, shallower, order, fold_key))
        if len(boxes) <= MAX_BOXES:
            break
    notes.append(
        f"{what}: {wanted} boxes at depth {mode.depth}, so runs of sibling scopes are folded"
        + (f" and the depth is {depth}" if depth < deepest else "")
    )
    return boxes


def _fold_to_fit(boxes: list[Box]) -> list[Box]:
    """Runs of sibling boxes of one status folded, whatever their shapes."""
    return fold(boxes, lambda box: (parent_of(box.starts[0]), box.status), alike=False)


def _boxes(side, top, uniform, mode: Mode, order, fold_key) -> list[Box]:
    chosen = select(top, uniform, mode, order)
    boxes = [make_box(side, a, s, whole, mode.detail and not s.children) for a, s, whole in chosen]
    if not mode.opens or len(boxes) > FOCUS_BUDGET:
        boxes = fold(boxes, fold_key)
    return boxes


def _memo(function):
    """`function(scope)`, computed once a scope (the overview may select several times)."""
    seen: dict[tuple, object] = {}

    def memo(scope: Scope):
        if scope.path not in seen:
            seen[scope.path] = function(scope)
        return seen[scope.path]

    return memo


def _memo_box(function):
    """`function(box)` for unfolded boxes, computed once a scope and kind of box."""
    seen: dict[tuple, object] = {}

    def memo(box: Box):
        key = (box.key, box.whole)
        if key not in seen:
            seen[key] = function(box)
        return seen[key]

    return memo


def _height(scope: Scope) -> int:
    """Depth levels below `scope` that a view can open: a scope holding nothing but one child
    scope costs no level (as in boxes.select). No recursion: names may nest thousands deep."""
    height, stack = 1, [(scope, 1)]
    while stack:
        scope, level = stack.pop()
        height = max(height, level)
        step = 0 if not scope.direct and len(scope.children) == 1 else 1
        stack.extend((child, level + step) for child in scope.children.values())
    return height


def _new_uniform(scope: Scope) -> bool:
    """All initialized, or all restored from one old scope by one prefix rename."""
    items = scope.all_items
    if all(i.fate == INITIALIZED for i in items):
        return True
    heads = {_head(i, scope.name) for i in items}
    return len(heads) == 1 and None not in heads


def _head(item, scope_name: str) -> str | None:
    """The old prefix that `item`'s source has where `item` has `scope_name` (None: none)."""
    if item.fate == INITIALIZED or not item.links:
        return None
    relative = item.name if scope_name == ROOT else item.name[len(scope_name) + 1 :]
    source = item.links[0]
    if source == relative:
        return ""
    if source.endswith("/" + relative):
        return source[: -len(relative) - 1]
    return None


def _old_uniform(new_of: dict[str, str]):
    def uniform(scope: Scope) -> bool:
        """All unused, or every key restores into the same new boxes."""
        fates = {i.fate == UNUSED for i in scope.all_items}
        if fates == {True}:
            return True
        if len(fates) > 1:
            return False
        return len({_targets(i, new_of) for i in scope.all_items}) == 1

    return uniform


def _targets(item, new_of: dict[str, str]) -> frozenset[str]:
    return frozenset(new_of.get(name, OUTSIDE) for name in item.links)


def _new_fold_key(box: Box):
    relation = frozenset(_relation(i, box.key) for i in box.items if i.fate != INITIALIZED)
    return parent_of(box.starts[0]), box.status, shape_signature(box), relation


def _relation(item, key: str) -> str | None:
    """'same' when the source sits under an old scope of the box's own last name."""
    head = _head(item, key)
    if head is not None and head.rsplit("/", 1)[-1] == key.rsplit("/", 1)[-1]:
        return "same"
    return head


def _old_fold_key(new_of: dict[str, str]):
    def key(box: Box):
        targets = frozenset(t for i in box.items for t in _targets(i, new_of))
        return parent_of(box.starts[0]), box.status, shape_signature(box), targets

    return key


def with_state(boxes: list[Box], trees: Trees, side: str) -> list[Box]:
    """Attach optimizer state to the box of the model variable it serves."""
    box_of = {i.name: n for n, b in enumerate(boxes) for i in b.items}
    attached: dict[int, list] = {}
    for item in trees.state[side]:
        primary = trees.primary[side].get(item.name)
        if primary in box_of:
            attached.setdefault(box_of[primary], []).append(item)
    return [
        dataclasses.replace(b, state=tuple(attached[n])) if n in attached else b
        for n, b in enumerate(boxes)
    ]
