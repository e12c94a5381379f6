"""Layers as units: which variables make one layer, and how two layers' variables pair.

A unit is the variables of one scope: a Keras layer's (`dense_1/kernel`, `dense_1/bias`), a
TF1 scope's (`conv1/weights`, `conv1/biases`; slim's batch norm is a scope of its own). A
layer's variables go to one new layer together, or none of them does: a kernel restored here
and its bias there is two halves of two layers.

A *position name* is what a counted name (Keras's `conv2d_1`, see counted_names.py) says
whatever container holds the layer: `sequential/conv2d_1/kernel`, `conv2d_1/kernel` and
`functional/conv2d_1/kernel` all say "the kernel of the second Conv2D".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable


def unit_of(name: str) -> str:
    """The layer (scope) of a variable: `block1/conv/kernel` -> `block1/conv`."""
    return name.rpartition("/")[0]


def leaf_of(name: str) -> str:
    return name.rpartition("/")[2]


def group_units(names: Iterable[str]) -> dict[str, list[str]]:
    """Scope -> its variables, in the order given."""
    found: dict[str, list[str]] = defaultdict(list)
    for name in names:
        found[unit_of(name)].append(name)
    return dict(found)


def position_name(name: str) -> str:
    """A counted variable's layer and leaf, without the containers around the layer."""
    return "/".join(name.split("/")[-2:])


def pair_members(
    new_members: list[str], old_members: list[str], fits: Callable[[str, str], bool]
) -> dict[str, str]:
    """New variable -> old key, one to one: by leaf name where it fits, then each left over
    with the one left-over key that fits it (a kernel named `weights` on the other side).
    Pairs only what is certain; the caller compares the result's size with the layers'."""
    paired: dict[str, str] = {}
    old_by_leaf: dict[str, list[str]] = defaultdict(list)
    for key in old_members:
        old_by_leaf[leaf_of(key)].append(key)
    for name in new_members:
        same = old_by_leaf.get(leaf_of(name), [])
        if len(same) == 1 and fits(name, same[0]):
            paired[name] = same[0]
    taken = set(paired.values())
    left_new = [n for n in new_members if n not in paired]
    left_old = [k for k in old_members if k not in taken]
    options = {n: [k for k in left_old if fits(n, k)] for n in left_new}
    wanted: dict[str, int] = defaultdict(int)
    for keys in options.values():
        for key in keys:
            wanted[key] += 1
    for name, keys in options.items():
        if len(keys) == 1 and wanted[keys[0]] == 1:
            paired[name] = keys[0]
    return paired


def fits_whole(
    new_members: list[str], old_members: list[str], fits: Callable[[str, str], bool]
) -> dict[str, str] | None:
    """The pairing of two layers when every variable of each has its counterpart, else None."""
    if len(new_members) != len(old_members):
        return None
    paired = pair_members(new_members, old_members, fits)
    return paired if len(paired) == len(new_members) else None
