"""Renames inside one name component: a word swapped, added or dropped (`enc_3_fc` -> `layer_3_fc`).

A scope renamed whole (`enc` -> `encoder`) is a prefix edit; a word renamed inside each of many
scopes (`enc_0_fc`, `enc_1_fc`, ... -> `layer_0_fc`, `layer_1_fc`, ...) is one edit for all of
them, so that every block witnesses it. A component is cut into words (runs of letters), numbers
(runs of digits) and separators; the two components keep a common head and tail, and what is
between them is the edit: `("word", "enc*", "layer*")`, with `*` for the kept rest of the
component and the scope the component sits in before it (`model/*_enc` -> `model/*_dec`).

It is made for numbered names (blocks made in a loop): the kept rest holds a number, the same
on both sides; a name without one is one scope, renamed by a prefix edit (`cell` -> `rnn_cell`).
Only a word can be an edit, never a number: `layer_1` -> `layer_2` is a place changed, not a
rename (and `dense_1` -> `dense_2` is the very mix-up of counted names). Neither is a single
letter (`Mixed_5b` -> `Mixed_5c` counts blocks with letters) nor a change that keeps no word of
the component (`dense_1` -> `linear_1` keeps only the count: a position on both sides). Whether
the number is a place (a family that grew, Keras's counted names) is chain_names.CountedNames'
question: there the edit is no witness.
"""

from __future__ import annotations

import functools
import re

REST = "*"  # the kept part of the component in a word edit's patterns
_TOKEN = re.compile(r"[A-Za-z]+|\d+|[^A-Za-z\d]")


@functools.lru_cache(maxsize=1 << 16)
def word_edit(old_head: str, new_head: str) -> tuple[str, str] | None:
    """(old pattern, new pattern) when the two scopes differ by words of their last component,
    else None. `word_edit("enc_0_fc", "layer_0_fc") == ("enc*", "layer*")`."""
    old_parent, _, old = old_head.rpartition("/")
    new_parent, _, new = new_head.rpartition("/")
    if old_parent != new_parent or old == new or REST in old or REST in new:
        return None
    old_tokens, new_tokens = _TOKEN.findall(old), _TOKEN.findall(new)
    shortest = min(len(old_tokens), len(new_tokens))
    head = 0
    while head < shortest and old_tokens[head] == new_tokens[head]:
        head += 1
    tail = 0
    while tail < shortest - head and old_tokens[-1 - tail] == new_tokens[-1 - tail]:
        tail += 1
    old_middle = old_tokens[head : len(old_tokens) - tail]
    new_middle = new_tokens[head : len(new_tokens) - tail]
    kept = old_tokens[:head] + old_tokens[len(old_tokens) - tail :]
    if not (_words_only(old_middle) and _words_only(new_middle)):
        return None
    if not any(_is_word(t) for t in old_middle + new_middle) or not any(map(_is_word, kept)):
        return None
    if not any(t.isdigit() for t in kept):
        return None  # one scope renamed: a prefix edit says it as a person would
    scope = old_parent + "/" if old_parent else ""
    return (
        scope + _pattern(head, "".join(old_middle), tail),
        scope + _pattern(head, "".join(new_middle), tail),
    )


def apply_word_edit(old_pattern: str, new_pattern: str, name: str) -> str | None:
    """`name` with the word edit applied to it (the component under the edit's scope), or None
    when the edit does not fit it, or fits it at more than one place."""
    parent, _, old_part = old_pattern.rpartition("/")
    new_part = new_pattern.rpartition("/")[2]
    parts = name.split("/")
    depth = len(parent.split("/")) if parent else 0
    if len(parts) <= depth + 1 or "/".join(parts[:depth]) != parent:
        return None
    component = parts[depth]
    old_word, new_word = old_part.strip(REST), new_part.strip(REST)
    anchored = old_part if old_word else new_part  # a pattern of no word ("*") says nothing
    head_kept, tail_kept = anchored.startswith(REST), anchored.endswith(REST)
    found = set()
    for at in _places(component, old_word, head_kept, tail_kept):
        renamed = component[:at] + new_word + component[at + len(old_word) :]
        if word_edit(_join(parent, component), _join(parent, renamed)) == (
            old_pattern,
            new_pattern,
        ):
            found.add(renamed)
    if len(found) != 1:
        return None
    return "/".join(parts[:depth] + [found.pop()] + parts[depth + 1 :])


def _places(component: str, word: str, head_kept: bool, tail_kept: bool) -> list[int]:
    """Where `word` may sit in `component`: at its start, its end, or strictly inside."""
    if not head_kept:
        return [0] if component.startswith(word) and len(component) > len(word) else []
    if not tail_kept:
        at = len(component) - len(word)
        return [at] if at > 0 and component.endswith(word) else []
    return [at for at in range(1, len(component) - len(word)) if component.startswith(word, at)]


def _pattern(head: int, middle: str, tail: int) -> str:
    return (REST if head else "") + middle + (REST if tail else "")


def _join(parent: str, component: str) -> str:
    return f"{parent}/{component}" if parent else component


def _is_word(token: str) -> bool:
    return token.isalpha() and len(token) > 1


def _words_only(tokens: list[str]) -> bool:
    """No number, no single letter: what changed is a word (and its separators)."""
    return not any(t.isdigit() or (t.isalpha() and len(t) == 1) for t in tokens)


def numbered_family(component: str) -> str:
    """The component with its numbers as `#`: `enc_3_fc` -> `enc_#_fc` (blocks of a loop)."""
    return re.sub(r"\d+", "#", component)
