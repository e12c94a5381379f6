"""Rename evidence: the edits between a checkpoint key and a new name, and how often each is seen.

An edit is a scope prefix swapped (`enc` -> `encoder`, `` -> `model`), a word renamed inside
a scope's name (`enc_3_fc` -> `layer_3_fc`: `enc*` -> `layer*`, name_words.py) or a leaf renamed
(`weights` -> `kernel`). A `RenameBook` counts the edits behind the structural pairs; an edit
seen at least MIN_SUPPORT times is a rule. The book then answers two questions the matcher
asks before it trusts a pair: which key do the rules predict for a new name, and does a
better-supported rule (or a plain same name) send this key, or this name, somewhere else?
"""

from __future__ import annotations

import functools
from collections import Counter

from graphdiff.match.name_words import word_edit
from graphdiff.match.rules import describe, rewrite
from graphdiff.plan import Rule

MIN_SUPPORT = 2  # a rename seen once is a coincidence, not a rule
SCOPE_KINDS = ("prefix", "word")  # the edits of a name's scopes (a leaf edit may follow one)

Edit = tuple[str, str, str]  # (kind, old, new)


@functools.lru_cache(maxsize=1 << 16)
def rename_edits(key: str, name: str) -> tuple[Edit, ...]:
    """The edits that turn checkpoint key `key` into new name `name` (empty when equal)."""
    old, new = key.split("/"), name.split("/")
    edits = []
    if old[-1] != new[-1]:
        edits.append(("leaf", old[-1], new[-1]))
    old, new = old[:-1], new[:-1]
    same = 0
    while same < min(len(old), len(new)) and old[len(old) - 1 - same] == new[len(new) - 1 - same]:
        same += 1
    old_head = "/".join(old[: len(old) - same])
    new_head = "/".join(new[: len(new) - same])
    if old_head != new_head:
        words = word_edit(old_head, new_head)
        edits.append(("word", *words) if words else ("prefix", old_head, new_head))
    return tuple(edits)


def as_rule(edit: Edit, rule_id: str = "", support: int = 0) -> Rule:
    kind, old, new = edit
    return Rule(rule_id, kind, old, new, "inferred", support)


class RenameBook:
    def __init__(
        self, support: Counter, new_names, keys, fits, demoted=frozenset(), model_keys=None
    ):
        self.support = support
        self.rules = [e for e, n in support.most_common() if n >= MIN_SUPPORT]
        self.new_names = set(new_names)
        self.keys = set(keys)
        self.fits = fits  # fits(name, key): the key's tensor could be restored into the name
        self.demoted = set(demoted)  # same names the graph showed to be different variables
        self.model_keys = self.keys if model_keys is None else set(model_keys)
        self._scopes = [e for e in self.rules if e[0] in SCOPE_KINDS]
        self._leaves = [e for e in self.rules if e[0] == "leaf"]
        # Rules by the scope or leaf they apply to, so that a question about one name reads
        # the few rules that can touch it, not all of them (a chain of 1,600 renamed blocks
        # makes 1,600 rules). A word rule is filed under the scope its renamed name is in.
        self._rank = {e: i for i, e in enumerate(self.rules)}
        self._scope_rank = {e: i for i, e in enumerate(self._scopes)}
        self._leaf_rank = {e: i for i, e in enumerate(self._leaves)}
        self._by_side: dict[tuple[str, int], dict[str, list[Edit]]] = {}
        self._children_cache: dict[int, dict[str, set[str]]] = {}
        for kind in ("prefix", "word", "leaf"):
            for side in (1, 2):
                index: dict[str, list[Edit]] = {}
                for e in self.rules:
                    if e[0] == kind:
                        where = e[side].rpartition("/")[0] if kind == "word" else e[side]
                        index.setdefault(where, []).append(e)
                self._by_side[(kind, side)] = index

    def strength(self, edits) -> int:
        """How well the weakest edit of a pair is supported (a same name counts as best)."""
        return min((self.support[e] for e in edits), default=1 << 30)

    def supported(self, edits) -> bool:
        return self.strength(edits) >= MIN_SUPPORT

    def describe(self, edits) -> str:
        return "; ".join(f"{describe(as_rule(e))} (seen {self.support[e]} times)" for e in edits)

    def contradiction(self, name: str, key: str) -> str | None:
        """Why pairing `name` with `key` goes against stronger evidence, or None."""
        # A same name claims only what it could take: a head whose class count changed
        # leaves its old tensors free for the variable the graph puts in their place.
        if key != name and self._same_name_claims(key):
            return f"the new graph has a variable named '{key}' too"
        if name != key and self._same_name_claims(name):
            return f"the checkpoint has a variable named '{name}' too"
        own_edits = rename_edits(key, name)
        own = self.strength(own_edits)
        for edits in self._compositions_touching(key, name):
            stronger = self.strength(edits)
            # Two words renamed into one (`enc*` and `dec*` both -> `layer*`) as often each:
            # the name cannot say which old one it is.
            tie = stronger == own and set(edits) != set(own_edits) and _has_word(edits + own_edits)
            if (stronger <= own and not tie) or (
                2 * own >= stronger and self.copies(own_edits, edits)
            ):
                continue
            forward = _apply(edits, key)
            if not tie and forward is not None and forward != name and forward in self.new_names:
                return f"the rename {self.describe(edits)} sends '{key}' to '{forward}'"
            backward = _apply([_reverse(e) for e in reversed(edits)], name)
            if backward is not None and backward != key and backward in self.keys:
                return f"the rename {self.describe(edits)} gives '{name}' from '{backward}'"
        return None

    def copies(self, edits, other_edits) -> bool:
        """`edits` and `other_edits` move one old scope to two places, and `edits` takes all
        of it there: copies, as towers are. A layer norm inserted in a renamed block's image
        takes one sublayer of the old block, not the block."""
        return copies_of_one_scope(edits, other_edits) and all(
            self._children(self.model_keys, old) <= self._children(self.new_names, new)
            for kind, old, new in edits
            if kind == "prefix"
        )

    def _children(self, names, scope: str) -> set[str]:
        """The names of the scopes and variables right under `scope` (cached by side)."""
        cache = self._children_cache.setdefault(id(names), {})
        if not cache:
            for name in names:
                parts = name.split("/")
                for depth in range(len(parts)):
                    cache.setdefault("/".join(parts[:depth]), set()).add(parts[depth])
        return cache.get(scope, set())

    def _same_name_claims(self, name: str) -> bool:
        return (
            name in self.new_names
            and name in self.keys
            and name not in self.demoted
            and self.fits(name, name)
        )

    def _compositions_touching(self, key: str, name: str) -> list[tuple[Edit, ...]]:
        """Every rule alone, and each prefix rule followed by each leaf rule, in that order;
        only those that rewrite `key` forward or `name` backward (the others cannot)."""
        forward_prefixes = self._scope_rules(key, side=1)
        backward_prefixes = self._scope_rules(name, side=2)
        forward_leaves = self._by_side[("leaf", 1)].get(_leaf(key), [])
        backward_leaves = self._by_side[("leaf", 2)].get(_leaf(name), [])
        found: set[tuple[Edit, ...]] = set()
        for e in forward_prefixes + backward_prefixes + forward_leaves + backward_leaves:
            found.add((e,))
        for p in forward_prefixes:
            leaves = self._leaves if key == p[1] else forward_leaves  # key is the whole scope
            found.update((p, leaf) for leaf in leaves)
        for leaf in backward_leaves:
            renamed = rewrite(as_rule(_reverse(leaf)), name)  # a prefix rule may name it whole
            whole = self._by_side[("prefix", 2)].get(renamed, [])
            found.update((p, leaf) for p in backward_prefixes + whole)
        return sorted(found, key=self._composition_rank)

    def _composition_rank(self, edits: tuple[Edit, ...]) -> int:
        if len(edits) == 1:
            return self._rank[edits[0]]
        prefix, leaf = edits
        return len(self.rules) + (
            self._scope_rank[prefix] * len(self._leaves) + self._leaf_rank[leaf]
        )

    def _scope_rules(self, name: str, side: int) -> list[Edit]:
        """Prefix rules whose old (side 1) or new (side 2) scope is "", a scope of `name` or
        `name` itself, and word rules for a name in one of those scopes, in the order of
        self.rules (a word rule that does not fit the name rewrites it to None)."""
        parts = name.split("/")
        scopes = [""] + ["/".join(parts[: i + 1]) for i in range(len(parts))]
        found = [
            e
            for kind in SCOPE_KINDS
            for scope in scopes
            for e in self._by_side[(kind, side)].get(scope, ())
        ]
        return sorted(found, key=self._rank.__getitem__)

    def predict(self, name: str, acceptable) -> str | None:
        """The key the rules give `name`: undo one prefix and at most one leaf rule."""
        leaves_by_new = self._by_side[("leaf", 2)]
        for prefix in [None] + self._scope_rules(name, side=2):
            base = name if prefix is None else rewrite(as_rule(_reverse(prefix)), name)
            if base is None:
                continue
            leaves = [None] + sorted(leaves_by_new.get(_leaf(base), []), key=self._rank.get)
            for leaf in leaves:
                key = base if leaf is None else rewrite(as_rule(_reverse(leaf)), base)
                if key is None or key == name or key not in self.keys or not acceptable(key):
                    continue
                if self.contradiction(name, key) is None:
                    return key
        return None


def copies_of_one_scope(edits, other_edits) -> bool:
    """Both move the same old scope (to different places): copies, as towers are."""
    old = [e[1] for e in edits if e[0] == "prefix"]
    other = [e[1] for e in other_edits if e[0] == "prefix"]
    return bool(old) and old == other


def _apply(edits, name: str) -> str | None:
    for edit in edits:
        name = rewrite(as_rule(edit), name)
        if name is None:
            return None
    return name


def _has_word(edits) -> bool:
    return any(e[0] == "word" for e in edits)


def _leaf(name: str) -> str:
    return name.rpartition("/")[2]


def _reverse(edit: Edit) -> Edit:
    return (edit[0], edit[2], edit[1])


def settle_rule_support(assignments, rules: list[Rule]) -> list[Rule]:
    """Inferred rules with the support the final pairs leave them (later stages withdraw
    pairs). A rule left with one pair is a coincidence, not a rule: that pair goes (its key
    listed); a rule left with none is dropped."""
    users: dict[Edit, list[str]] = {}
    for name, (key, match) in assignments.pairs.items():
        if match.method in ("structure", "inferred_rule"):
            for edit in rename_edits(key, name):
                users.setdefault(edit, []).append(name)
    kept = []
    for rule in rules:
        names = users.get((rule.kind, rule.old, rule.new), [])
        if len(names) >= MIN_SUPPORT:
            kept.append(
                Rule(
                    rule.id,
                    rule.kind,
                    rule.old,
                    rule.new,
                    rule.origin,
                    min(rule.support, len(names)),
                )
            )
            continue
        for name in names:
            key, _ = assignments.pairs[name]
            assignments.withdraw(
                name,
                f"same place in the graph as '{key}', but the rename {describe(rule)} is "
                "seen once; confirm it with --map",
            )
    return kept
