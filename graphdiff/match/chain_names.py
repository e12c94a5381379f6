"""Chains of alike blocks: which of the walks' choices the names of the whole chain agree on.

In a stack of identical blocks with one block inserted (adapters added to a transformer), the
walk from the inputs pairs every block after the insertion with its successor's key, the walk
from the outputs every block before it with its predecessor's: each block is left with two
candidates, and no rename is common to both, so the plain votes (structure.py) see nothing.
Yet one rename explains a candidate of every block (`encoder/ -> model/`: the suffix after
the renamed prefix is the same for each), while each shifted pairing is explained by an edit
seen in one block only (`encoder/layer_2/ -> model/layer_3/`). Aligning the chain with one gap
at the inserted block gives the same answer; the names say where the gap is.

A choice is *decisive* when its rename explains a candidate of at least RATIO times as many
variables as the rename of any rival choice: another candidate of the same variable, or
another variable that the walks placed at the same key. An inserted block identical to the
others under names that say nothing (renamed blocks, or names that only count) has no
decisive choice: it stays with its candidates, as do its neighbours the walks confuse it with.

Names that only count (`block`, `block_1`, ... as TensorFlow and Keras make them unique) are
positions, not identities: when the number of blocks of such a family changed, a pairing that
keeps the count says nothing about which block is which, and is no witness here.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from graphdiff.match.name_words import numbered_family, word_edit
from graphdiff.match.renames import MIN_SUPPORT, rename_edits

RATIO = 2  # how many times more witnesses the decisive rename needs than any rival's
_COUNTED = re.compile(r"^(?P<base>.*?)(?:_(?P<count>\d+))?$")


def decisive_choices(
    candidates: dict[str, set[str]], contested: dict[str, set[str]], counted: CountedNames
) -> dict[str, str]:
    """New variables the walks left with a choice -> the key the chain's names single out.

    `candidates`: new variable -> keys the walks proposed; `contested`: variables whose one
    key other, undecided variables also fit (structure._contested). Only variables with a
    choice are returned; a clean pair needs no help. A choice where one of the pairings
    agrees only on a counted name is never decisive: that pairing may be the right one,
    and its name cannot say so.
    """
    witnesses = _witnesses(candidates, counted)
    proposers: dict[str, set[str]] = defaultdict(set)
    for name, keys in candidates.items():
        for key in keys:
            proposers[key].add(name)

    def strength(name: str, key: str) -> int:
        if counted.positional(key, name):
            return -1  # unknown: beats nothing, and nothing beats it
        edits = rename_edits(key, name)
        return min((witnesses[e] for e in edits), default=0)  # a same name here was demoted

    decided = {}
    for name, keys in candidates.items():
        if len(keys) == 1 and name not in contested:
            continue
        ranked = sorted(keys, key=lambda k: (-strength(name, k), k))
        best, best_strength = ranked[0], strength(name, ranked[0])
        rivals = [strength(name, k) for k in ranked[1:]]
        rivals += [strength(other, best) for other in proposers[best] if other != name]
        if -1 in rivals:
            continue
        if best_strength >= 2 * MIN_SUPPORT and best_strength >= RATIO * max(rivals, default=0):
            decided[name] = best
    return decided


def _witnesses(candidates, counted: CountedNames) -> Counter:
    """Rename edit -> how many variables it explains one candidate of (each counted once)."""
    witnesses: Counter = Counter()
    for name, keys in candidates.items():
        edits = set()
        for key in keys:
            if not counted.positional(key, name):
                edits.update(rename_edits(key, name))
        witnesses.update(edits)
    return witnesses


def release_counted_same_names(context, assignments, counted: CountedNames) -> set[str]:
    """Withdraw same-name pairs of counted blocks whose family changed size: `block_2` in
    both graphs is the third block of each, not the same block, once one was added or
    removed. The chain of blocks (chains.py) then says which it may be. Keras's own counted
    names are left to counted_names.py. Returns the names withdrawn."""
    released = set()
    for name, (key, match) in list(assignments.pairs.items()):
        if match.method != "name" or name in context.counted:
            continue
        if counted.positional(key, name):
            assignments.release(name)
            released.add(name)
    return released


class CountedNames:
    """Which pairings agree only on a counted scope whose family changed size.

    A family is the children of one scope that share a base name, counted the way TensorFlow
    and Keras make names unique (`block`, `block_1`, `block_2`). When the old scope and the
    new one hold different numbers of them, the counts were shifted by the blocks added or
    removed, and `block_2 -> block_2` is a place in a list, not the same block.
    """

    def __init__(self, old_names, new_names, counted=frozenset()):
        self._old, self._new = _families(old_names), _families(new_names)
        self._old_numbered = _families(old_names, numbered_family)
        self._new_numbered = _families(new_names, numbered_family)
        self._counted = counted  # variables whose layer's name was counted (Keras's dense_1)
        self._scopes: dict[tuple[str, str], bool] = {}  # the answer depends on scopes only

    def positional(self, key: str, name: str) -> bool:
        """The scopes `key` and `name` share at their ends include a counted one whose
        family has another size on each side, or a word renamed inside a counted name
        (`conv2d_1` -> `my_conv2d_1`: the second Conv2D is no identity, whatever its word)."""
        scopes = (key.rpartition("/")[0], name.rpartition("/")[0])
        if scopes not in self._scopes:
            self._scopes[scopes] = self._positional(*scopes) or self._word_in_count(*scopes)
        if self._scopes[scopes]:
            return True
        return (key in self._counted or name in self._counted) and _word_renamed(key, name)

    def counts(self, old_scope: str) -> bool:
        """The last part of this old scope is a counter's name (`block_1` beside `block`)."""
        parent, _, part = old_scope.rpartition("/")
        base = _COUNTED.match(part).group("base")
        return _counted(self._old.get((parent, base), ()), base)

    def _word_in_count(self, old_scope: str, new_scope: str) -> bool:
        """The scopes differ by a word renamed in a name whose number may be a place: one
        that counts (`conv2d_1`), or one of a numbered family that has another size on each
        side (`enc_0` ... `enc_3` -> `layer_0` ... `layer_4`: a block was added, and which
        one the numbers do not say)."""
        edit = word_edit(*_heads(old_scope, new_scope))
        if edit is None:
            return False
        depth = edit[0].count("/")
        sizes = []
        for families, numbered, scope in (
            (self._old, self._old_numbered, old_scope),
            (self._new, self._new_numbered, new_scope),
        ):
            parts = scope.split("/")
            parent, component = "/".join(parts[:depth]), parts[depth]
            base = _COUNTED.match(component).group("base")
            if _counted(families.get((parent, base), ()), base):
                return True
            sizes.append(len(numbered.get((parent, numbered_family(component)), ())))
        return sizes[0] != sizes[1]

    def _positional(self, old_scope: str, new_scope: str) -> bool:
        old_parts = old_scope.split("/") if old_scope else []
        new_parts = new_scope.split("/") if new_scope else []
        for depth in range(1, min(len(old_parts), len(new_parts)) + 1):
            part = old_parts[-depth]
            if part != new_parts[-depth]:
                return False
            base = _COUNTED.match(part).group("base")
            old_family = self._old.get(("/".join(old_parts[:-depth]), base), ())
            new_family = self._new.get(("/".join(new_parts[:-depth]), base), ())
            counted = _counted(old_family, base) or _counted(new_family, base)
            if counted and len(old_family) != len(new_family):
                return True
        return False


def _heads(old_scope: str, new_scope: str) -> tuple[str, str]:
    """The two scopes without the names they end in alike."""
    old, new = old_scope.split("/"), new_scope.split("/")
    while len(old) > 1 and len(new) > 1 and old[-1] == new[-1]:
        old, new = old[:-1], new[:-1]
    return "/".join(old), "/".join(new)


def _word_renamed(key: str, name: str) -> bool:
    return any(e[0] == "word" for e in rename_edits(key, name))


def _families(names, base_of=None) -> dict[tuple[str, str], set[str]]:
    """(parent scope, base name) -> the child scopes of that base (`base_of`: another
    grouping of the children, as numbered_family)."""
    families: dict[tuple[str, str], set[str]] = defaultdict(set)
    seen = set()
    for name in names:
        parts = name.split("/")[:-1]
        for depth in range(len(parts)):
            scope = "/".join(parts[: depth + 1])
            if scope in seen:
                continue
            seen.add(scope)
            if base_of is None:
                base = _COUNTED.match(parts[depth]).group("base")
            else:
                base = base_of(parts[depth])
            families[("/".join(parts[:depth]), base)].add(parts[depth])
    return families


def _counted(family, base: str) -> bool:
    """Named as uniquifying counters name: the bare base, then base_1, base_2, ..."""
    return base in family and len(family) > 1
