"""Rename rules: parsing the user's `--map`, and rewriting a checkpoint key into a new name.

Rules run forward, from a checkpoint key to the name it has in the new graph, so that one key
can feed several new variables (two towers from one pretrained net: two rules).
"""

from __future__ import annotations

import re

from graphdiff.errors import BadInput
from graphdiff.match.name_words import apply_word_edit
from graphdiff.plan import Rule

_REGEX_SIGNS = re.compile(r"[\^$*+?()\[\]{}|\\]")


def parse_map(text: str, index: int) -> Rule:
    """`OLD=NEW`: a scope prefix, or a regular expression when OLD has regex signs in it."""
    old, sep, new = text.partition("=")
    if not sep:
        raise BadInput("--map", f"'{text}' is not OLD=NEW")
    if _REGEX_SIGNS.search(old):
        try:
            re.compile(old)
        except re.error as error:
            raise BadInput("--map", f"'{old}' is not a valid regular expression: {error}") from None
        return Rule(f"user-{index}", "regex", old, new, "user")
    return Rule(f"user-{index}", "prefix", old.strip("/"), new.strip("/"), "user")


def parse_patterns(option: str, patterns) -> list[re.Pattern]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as error:
            raise BadInput(
                option, f"'{pattern}' is not a valid regular expression: {error}"
            ) from None
    return compiled


def rewrite(rule: Rule, key: str) -> str | None:
    """The new-graph name of checkpoint key `key` under `rule`, or None if the rule skips it."""
    if rule.kind == "regex":
        renamed, count = re.subn(rule.old, rule.new, key, count=1)
        return renamed if count else None
    if rule.kind == "prefix":
        if rule.old == "":
            return f"{rule.new}/{key}" if rule.new else key
        if key == rule.old:
            return rule.new
        if key.startswith(rule.old + "/"):
            rest = key[len(rule.old) + 1 :]
            return f"{rule.new}/{rest}" if rule.new else rest
        return None
    if rule.kind == "leaf":
        head, _, leaf = key.rpartition("/")
        if leaf != rule.old:
            return None
        return f"{head}/{rule.new}" if head else rule.new
    if rule.kind == "word":
        return apply_word_edit(rule.old, rule.new, key)
    raise ValueError(f"unknown rule kind {rule.kind!r}")


def describe(rule: Rule) -> str:
    """How a person would write the rule: `enc/ -> encoder/`, `(root) -> tower_0/`, and a
    word renamed in scope names, `*` for the rest of the name: `enc* -> layer*`."""
    if rule.kind == "prefix":
        return f"{_scope(rule.old)} -> {_scope(rule.new)}"
    if rule.kind == "word":
        return f"{rule.old} -> {rule.new}"
    if rule.kind == "leaf":
        return f".../{rule.old} -> .../{rule.new}"
    return f"s/{rule.old}/{rule.new}/"


def _scope(prefix: str) -> str:
    return prefix + "/" if prefix else "(root)/"
