"""Numbered families that grew or shrank: where a name's number is the only witness.

Blocks named by a loop's counter (`layer_0` ... `layer_3`, tf_slim's `unit_1` ... `unit_6`)
are names the user chose, so `layer_2` is restored from `layer_2`. When the family has more
(or fewer) members than before and the added ones look like the others, the graph cannot tell
a block added at the end from one inserted among them with the rest renumbered: both give the
same graph. The pair stands, on thin evidence, so that a reviewer sees it.
"""

from __future__ import annotations

import re
from collections import defaultdict

from graphdiff.match.core import MatchContext

_NUMBERED = re.compile(r"^(.*?)(\d+)$")


class NumberedFamilies:
    """Each side's numbered scopes: (parent, stem) -> number -> what the member holds."""

    def __init__(self, context: MatchContext):
        self.old = _families({key: spec.shape for key, spec in context.checkpoint.items()})
        self.new = _families(
            {name: variable.shape for name, variable in context.new_variables.items()}
        )

    def grown(self, name: str, key: str) -> str | None:
        """Why `name` <- `key` rests on a number alone, or None."""
        for new_scope, old_scope in zip(_numbered(name), _numbered(key), strict=False):
            (new_family, number), (old_family, old_number) = new_scope, old_scope
            if number != old_number:
                continue
            new_members = self.new.get(new_family, {})
            old_members = self.old.get(old_family, {})
            if len(new_members) == len(old_members):
                continue
            own = new_members.get(number)
            added = set(new_members) - set(old_members)
            if own is None or not any(new_members[other] == own for other in added):
                continue
            stem = new_family[1]
            return (
                f"{stem}{number} is one of a numbered family that grew from "
                f"{len(old_members)} to {len(new_members)} members alike: taken by its number; "
                "had a block been inserted among them and the rest renumbered, the graph "
                "would look the same (settle it with --map)"
            )
        return None


def _families(shapes: dict[str, tuple | None]) -> dict:
    """(parent, stem) -> number -> what the member holds: its variables' last names and shapes
    (the layers inside may carry counted names of their own: `layer_1/dense_1/kernel`)."""
    members: dict = defaultdict(lambda: defaultdict(list))
    for name, shape in shapes.items():
        held = (name.rpartition("/")[2], tuple(shape) if shape is not None else None)
        for family, number in _numbered(name):
            members[family][number].append(held)
    return {
        family: {number: tuple(sorted(held, key=repr)) for number, held in numbers.items()}
        for family, numbers in members.items()
    }


def _numbered(name: str) -> list[tuple[tuple[str, str], str]]:
    """Each numbered scope of `name` as ((parent, stem), number), outermost first."""
    parts = name.split("/")[:-1]
    found = []
    for at, part in enumerate(parts):
        match = _NUMBERED.match(part)
        if match:
            found.append((("/".join(parts[:at]), match.group(1)), match.group(2)))
    return found
