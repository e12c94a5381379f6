"""What each variable is for: a model weight, an optimizer slot, optimizer state, or global_step.

Slots must follow their primary variable (`A/w/Adam` is restored from wherever `A/w` is), so
the matcher needs to know which variable a slot belongs to. Evidence comes first from the
graph — the optimizer's apply ops take the primary as input 0 and its slots as further
variable inputs — and otherwise from TensorFlow's slot naming, `<primary>/<slot name>`.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from graphdiff.graph_model import VARIABLE_OPS

MODEL = "model"
SLOT = "slot"
OPTIMIZER = "optimizer"
GLOBAL_STEP = "global_step"

_READ_OPS = frozenset({"Identity", "ReadVariableOp"})


@dataclass(frozen=True)
class Role:
    kind: str  # MODEL, SLOT, OPTIMIZER or GLOBAL_STEP
    primary: str | None = None  # for a slot: the variable it belongs to
    slot_name: str | None = None  # for a slot: "Adam", "Adam_1", "Momentum", ...
    position: tuple[str, int] | None = None  # slot or optimizer state: (apply op, input index)
    serves: frozenset[str] = frozenset()  # optimizer state: the variables whose updates read it


def is_apply_op(op_type: str) -> bool:
    """True for the ops through which optimizers update variables (ApplyAdam, ResourceApply...)."""
    return op_type.startswith(("Apply", "ResourceApply", "SparseApply", "ResourceSparseApply"))


def roles_of(dag: nx.DiGraph, variable_names: list[str] | set[str] | dict) -> dict[str, Role]:
    """The role of every named variable, from the apply ops first and slot naming second."""
    names = set(variable_names)
    roles: dict[str, Role] = {}
    optimizer_inputs: dict[str, tuple[str, int]] = {}
    serves: dict[str, set[str]] = {}
    for _, attrs in dag.nodes(data=True):
        if not is_apply_op(attrs["op"]) or not attrs["inputs"]:
            continue
        primary = _variable_behind(dag, attrs["inputs"][0][0])
        if primary not in names:
            continue
        op = attrs["op"].removeprefix("Resource")  # ref and resource updates look alike
        for index, (producer, _) in enumerate(attrs["inputs"][1:], start=1):
            held = _variable_behind(dag, producer)
            if held in names and held != primary:
                if _direct_variable(dag, producer):
                    roles[held] = Role(SLOT, primary, _slot_name(primary, held), (op, index))
                else:
                    optimizer_inputs[held] = (op, index)
                    serves.setdefault(held, set()).add(primary)
    for shadow, primary in _moving_averages(dag, names).items():
        roles.setdefault(shadow, Role(SLOT, primary, _slot_name(primary, shadow), ("Average", 0)))
    for name in sorted(names):
        if name in roles:
            continue
        if name == "global_step" or name.endswith("/global_step"):
            roles[name] = Role(GLOBAL_STEP)
        elif name in optimizer_inputs:
            roles[name] = Role(
                OPTIMIZER, position=optimizer_inputs[name], serves=frozenset(serves[name])
            )
        elif (primary := _named_primary(name, names)) is not None:
            roles[name] = Role(SLOT, primary, name[len(primary) + 1 :])
        else:
            roles[name] = Role(MODEL)
    return roles


_AVERAGE_UPDATES = frozenset({"AssignSub", "AssignSubVariableOp"})


def _moving_averages(dag: nx.DiGraph, names: set[str]) -> dict[str, str]:
    """Shadow variables (ExponentialMovingAverage) -> the variable they average.

    The update is `shadow -= (shadow - value) * (1 - decay)`: an AssignSub on the shadow whose
    amount reads the shadow itself and exactly one other variable. A batch-norm moving mean
    averages a tensor, not a variable, and stays a model variable; a sparse optimizer update
    (`var -= lr * m / sqrt(v)`) does not read the variable it updates.
    """
    shadows = {}
    for _, attrs in dag.nodes(data=True):
        if attrs["op"] not in _AVERAGE_UPDATES or len(attrs["inputs"]) != 2:
            continue
        shadow = _variable_behind(dag, attrs["inputs"][0][0])
        if shadow not in names:
            continue
        read = _variables_read(dag, attrs["inputs"][1][0], depth=3)
        others = read - {shadow}
        if shadow in read and len(others) == 1 and (averaged := next(iter(others))) in names:
            shadows[shadow] = averaged
    return shadows


def _variables_read(dag: nx.DiGraph, node: str, depth: int) -> set[str]:
    found, frontier = set(), [node]
    for _ in range(depth + 1):
        next_frontier = []
        for current in frontier:
            if current not in dag:
                continue
            variable = _variable_behind(dag, current)
            if variable is not None:
                found.add(variable)
            else:
                next_frontier += [producer for producer, _ in dag.nodes[current]["inputs"]]
        frontier = next_frontier
    return found


def _slot_name(primary: str, slot: str) -> str:
    return slot[len(primary) + 1 :] if slot.startswith(primary + "/") else slot.rsplit("/", 1)[-1]


def _named_primary(name: str, names: set[str]) -> str | None:
    """`A/w/Adam` is a slot of `A/w` when `A/w` is a variable too."""
    if "/" not in name:
        return None
    head = name.rsplit("/", 1)[0]
    return head if head in names else None


def _direct_variable(dag: nx.DiGraph, producer: str) -> bool:
    return dag.nodes[producer]["op"] in VARIABLE_OPS if producer in dag else False


def _variable_behind(dag: nx.DiGraph, producer: str) -> str | None:
    """The variable a tensor reads or refers to, following Identity/ReadVariableOp chains."""
    seen = 0
    while producer in dag and seen < 8:
        attrs = dag.nodes[producer]
        if attrs["op"] in VARIABLE_OPS:
            return producer
        if attrs["op"] not in _READ_OPS or not attrs["inputs"]:
            return None
        producer = attrs["inputs"][0][0]
        seen += 1
    return None
