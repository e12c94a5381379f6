"""Several old sources, one new graph: which source fills each variable.

The matcher pairs one old side with the new graph; planning runs it once per source. Here the
pairs of every source (its *claims*) are settled into one choice per new variable:

- A layer comes from one source: the variables of one layer of the new graph (a kernel and its
  bias, a convolution and its batch norm) in one scope or nested ones, a bias or batch norm
  beside its kernel's scope too, with their optimizer slots. Mixing a kernel of one run with
  the batch-norm statistics of another is a wrong restore.
- The layer goes to the first source named that claims any of it. A `--map NAME:...` pair
  overrides the order; two sources that both claim one layer by `--map` have no order between
  them: nothing is chosen, the layer is initialized and the claims listed as candidates.
- A variable its layer's source does not give is initialized, even if another source could.
- Optimizer state and global_step belong to one run: kept only when every restored variable
  they serve comes from their own source.

With one source every claim is kept as it is: the single-source plan is the case N=1.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass

from graphdiff.plan import Match
from graphdiff.roles import Role

MODEL, SLOT = "model", "slot"


@dataclass(frozen=True)
class Claim:
    """One source's pair for a new variable: the key it would restore it from, and how."""

    source: str | None
    key: str
    match: Match


@dataclass(frozen=True)
class Choice:
    """The claim taken for one new variable (None: initialized) and the ones not taken."""

    taken: Claim | None
    passed_over: tuple[tuple[Claim, str], ...] = ()  # (claim, why it was not taken)
    note: str | None = None  # why it is initialized although a source claims it
    undecided: bool = False  # no order settles it: the claims are candidates for a decision


def choose_sources(
    order: list[str | None],
    pairs: dict[str | None, dict[str, tuple[str, Match]]],
    pinned: dict[str | None, set[str]],
    roles: dict[str, Role],
    layer_of=None,
) -> dict[str, Choice]:
    """New variable -> Choice, for every variable some source claims.

    `pairs[source]` maps new names to (key, match); `pinned[source]` holds the new names its
    `--map NAME:...` rules paired; `layer_of(name)` gives a layer id for model variables
    (None: each its own layer). Sources are in `order`, the command line's.
    """
    claims: dict[str, list[Claim]] = defaultdict(list)
    for source in order:
        for name, (key, match) in pairs.get(source, {}).items():
            claims[name].append(Claim(source, key, match))
    if len(order) == 1:
        return {name: Choice(found[0]) for name, found in claims.items()}
    layers = _layers(claims, roles, layer_of or (lambda name: name))
    choices: dict[str, Choice] = {}
    for members in layers.values():
        choices.update(_settle_layer(members, claims, order, pinned))
    return _settle_optimizer_state(choices, claims, roles)


def _layers(claims, roles: dict[str, Role], layer_of) -> dict[object, list[str]]:
    """Claimed variables grouped into layers; a slot joins its primary's layer."""
    layers: dict[object, list[str]] = defaultdict(list)
    for name in claims:
        role = roles.get(name, Role(MODEL))
        if role.kind == SLOT and role.primary is not None:
            layers[("layer", layer_of(role.primary))].append(name)
        elif role.kind == MODEL:
            layers[("layer", layer_of(name))].append(name)
        else:
            layers[("state", name)].append(name)
    return layers


def _settle_layer(members, claims, order, pinned) -> dict[str, Choice]:
    by_map = [s for s in order if any(name in pinned.get(s, ()) for name in members)]
    if len(by_map) > 1:
        names = " and ".join(str(s) for s in by_map)
        note = (
            f"sources {names} both give its layer by --map, and two --map rules have no order "
            "between them: initialized; keep one of the rules"
        )
        return {
            name: Choice(None, tuple((c, note) for c in claims[name]), note, undecided=True)
            for name in members
            if claims[name]
        }
    if by_map:
        owner = by_map[0]
        why = f"a --map rule of {owner} gives it"
    else:
        owner = next(s for s in order if any(c.source == s for n in members for c in claims[n]))
        why = f"{owner} is named first"
    choices = {}
    for name in members:
        taken = next((c for c in claims[name] if c.source == owner), None)
        if taken is not None:
            others = tuple((c, why) for c in claims[name] if c is not taken)
            choices[name] = Choice(taken, others)
            continue
        note = (
            f"its layer comes from {owner} ({why}), which does not give it; "
            "a layer comes from one source"
        )
        choices[name] = Choice(None, tuple((c, note) for c in claims[name]), note)
    return choices


def _settle_optimizer_state(choices, claims, roles) -> dict[str, Choice]:
    """Optimizer state and global_step stay only with the source of what they serve."""
    restored_from = {
        name: choice.taken.source
        for name, choice in choices.items()
        if choice.taken is not None and roles.get(name, Role(MODEL)).kind == MODEL
    }
    for name, choice in list(choices.items()):
        role = roles.get(name, Role(MODEL))
        if role.kind in (MODEL, SLOT) or choice.taken is None:
            continue
        if role.serves:
            served = {restored_from[v] for v in role.serves if v in restored_from}
        else:
            served = set(restored_from.values())
        others = sorted(str(s) for s in served - {choice.taken.source})
        if not others:
            continue
        mine = choice.taken.source
        if role.serves:
            note = (
                f"optimizer state of {mine}, but variables it serves come from "
                f"{', '.join(others)}: one run's state does not fit another's variables"
            )
        else:
            note = (
                f"{role.kind.replace('_', ' ')} of {mine}, but the model's variables come from "
                f"{', '.join(others)} too: no one run's count fits them all"
            )
        choices[name] = Choice(None, tuple((c, note) for c in claims[name]), note)
    return choices


def layer_units(new_dag, names: list[str]):
    """`layer_of` for choose_sources: the layers of the new graph, read from its data path
    (match/layers.py: a kernel and its bias, a convolution and its batch norm).

    One such group is cut into its variables in one scope or nested scopes, so that one op
    feeding the next directly (a backbone's last layer and a head) does not make them one; a
    part holding vectors only (a bias, a batch norm's scale, offset and statistics) has no
    kernel of its own and stays with the kernel it follows, in whatever scope (Keras names a
    convolution `conv` and its batch norm `bn`, side by side): with the one kernel part of its
    group, or with the kernel parts whose scope shares most of its name (`conv1_conv` for
    `conv1_bn`), all of them when none shares more.
    """
    from graphdiff.match.layer_view import layer_view

    parent = {name: name for name in names}

    def find(name):
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    def join(one, other):
        parent[find(one)] = find(other)

    for members in layer_view(new_dag, set(names)).members.values():
        for index, one in enumerate(members):
            for other in members[index + 1 :]:
                if _nested(one, other):
                    join(one, other)
        _join_vector_parts(members, find, join, new_dag)
    return lambda name: find(name) if name in parent else name


def _join_vector_parts(members, find, join, new_dag) -> None:
    parts: dict[str, list[str]] = defaultdict(list)
    for name in members:
        parts[find(name)].append(name)
    kernels = [p for p in parts.values() if not all(_vector(new_dag, n) for n in p)]
    vectors = [p for p in parts.values() if all(_vector(new_dag, n) for n in p)]
    for part in vectors:
        owners = kernels
        if len(kernels) > 1:
            shared = {id(k): _shared_length(part[0], k[0]) for k in kernels}
            best = max(shared.values())
            owners = [k for k in kernels if shared[id(k)] == best] if best else kernels
        for owner in owners:
            join(part[0], owner[0])


def _vector(new_dag, name: str) -> bool:
    shape = new_dag.nodes[name].get("shape") if name in new_dag else None
    return shape is not None and None not in shape and len(shape) <= 1


def _shared_length(one: str, other: str) -> int:
    """How much of their scopes' names two variables share (`conv1_` for `conv1_bn/gamma` and
    `conv1_conv/kernel`)."""
    return len(os.path.commonprefix([one.rpartition("/")[0], other.rpartition("/")[0]]))


def _nested(one: str, other: str) -> bool:
    a, b = one.rpartition("/")[0], other.rpartition("/")[0]
    if a == b:
        return True
    return bool(a and b) and (b.startswith(a + "/") or a.startswith(b + "/"))
