"""New members of a numbered family that grew are new: a chosen name is an identity.

Names someone chose are identities, loop-numbered ones too (`unit_1` ... `unit_6`,
`conv4_block1` ... `conv4_block24`): a family that grew keeps its members by name, and the
members it did not have (`unit_7`, `conv4_block25`) are new, whatever the graph puts in
their place. In DenseNet121 -> DenseNet169, `conv4_block25_0_bn` reads what `pool4_bn`
read, with its shape: it is still a new layer, not the old transition's batch norm.

Counted names (Keras's `dense_1`, TensorFlow's uniquified `block_1`) are positions, not
identities: they are left to the stages that place positions. So is a family whose same names
the graph refuses (a block of another activation took `layer_1`, the rest renumbered): it did
not grow by a new member, it was renumbered (contradicted_names.py).
"""

from __future__ import annotations

import re
from collections import defaultdict

from graphdiff.match.contradicted_names import in_family, renumbered_families
from graphdiff.match.core import Assignments, MatchContext
from graphdiff.match.name_words import numbered_family

_COUNTED = re.compile(r"^(?P<base>.+)_\d+$")


def settle_grown_families(context: MatchContext, assignments: Assignments) -> None:
    """Initialize each free new variable that lies in a member a grown family lacked."""
    old, new = _Scopes(context.checkpoint), _Scopes(context.new_variables)
    renumbered = renumbered_families(context, assignments)
    for name in context.models():
        if not assignments.is_free(name) or name in context.counted:
            continue
        if in_family(name, renumbered):
            continue  # renumbered around an inserted block: the graph places its members
        member = _new_member(name, old, new)
        if member is not None:
            assignments.refuse(
                name,
                f"'{member}' is a member its numbered family did not have (the family grew): "
                "a new layer, whatever the graph puts there; confirm a source with --map",
                final=True,
            )


class _Scopes:
    """The scopes of one side's names: numbered families (_family), each scope's children."""

    def __init__(self, names):
        self.families: dict[tuple[str, str], set[str]] = defaultdict(set)  # _family -> members
        self.children: dict[str, set[str]] = defaultdict(set)
        for name in names:
            parts = name.split("/")[:-1]
            for depth, part in enumerate(parts):
                parent = "/".join(parts[:depth])
                self.children[parent].add(part)
                if any(c.isdigit() for c in part):
                    self.families[_family(parts, depth)].add(part)


def _family(parts: list[str], depth: int) -> tuple[str, str]:
    """A member's family: its parent's last scope and its name with numbers as `#`, so that
    a family moved under a new scope (`densenet/` -> `model/densenet/`) is still itself."""
    return (parts[depth - 1] if depth else "", numbered_family(parts[depth]))


def _new_member(name: str, old: _Scopes, new: _Scopes) -> str | None:
    """The scope of `name` that is a member its family lacked on the old side, or None."""
    parts = name.split("/")[:-1]
    for depth, part in enumerate(parts):
        if not any(c.isdigit() for c in part):
            continue
        parent = "/".join(parts[:depth])
        family = _family(parts, depth)
        old_members, new_members = old.families.get(family, set()), new.families.get(family, set())
        if len(old_members) < 2 or part in old_members or len(new_members) <= len(old_members):
            continue
        counted = _COUNTED.match(part)
        if counted and counted.group("base") in old.children[parent] | new.children[parent]:
            continue  # `block_3` beside `block`: a counter's name, a position
        return "/".join(parts[: depth + 1])
    return None
