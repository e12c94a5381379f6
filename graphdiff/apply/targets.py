"""The new graph's variables as `apply` writes them, checked against the plan and the checkpoint.

A `Target` is what one plan entry names: a variable, or a partitioned variable with its parts,
each part a Python Variable and the extent it covers in the whole. Every check here runs before
anything is written, and every fault is a BadInput naming the plan (or the graph file) and the
variable: a plan made for another graph, a source key of another shape, a part the plan does
not know.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from graphdiff.bundle import slices as slicing
from graphdiff.errors import BadInput
from graphdiff.graph_model import VARIABLE_OPS
from graphdiff.new_graph import variable_objects
from graphdiff.partitions import partitions_of_variables
from graphdiff.plan import ACTIONS, RESTORE, VariableEntry


@dataclass(frozen=True)
class Target:
    """One variable of the new graph as its Saver stores it."""

    name: str  # the Saver's key: the op name, or a partitioned variable's full name
    dtype: str
    dtype_enum: int
    shape: tuple[int, ...] | None  # the full shape; None while left undefined
    parts: tuple[tuple[object, slicing.Extent | None], ...]  # (tf.Variable, extent or None)

    @property
    def fully_defined(self) -> bool:
        return self.shape is not None and None not in self.shape

    @property
    def partitioned(self) -> bool:
        return self.parts[0][1] is not None

    @property
    def variables(self) -> list:
        return [variable for variable, _ in self.parts]


def targets_of(graph, where, skip_uncollected: bool = False) -> dict[str, Target]:
    """Every variable of `graph` by Saver key, in graph order.

    A variable op no collection holds has no Python object to initialize it through: BadInput
    naming `where`, unless `skip_uncollected` (a training script's session may have such ops).
    """
    objects = variable_objects(graph)
    for op in graph.get_operations():
        if op.type in VARIABLE_OPS and op.name not in objects and not skip_uncollected:
            raise BadInput(
                where,
                f"{op.name}: a variable in no graph collection; graphdiff cannot fill it "
                "(make it with get_variable or tf.Variable)",
            )
    partitioned = partitions_of_variables(objects.values())
    owner = {part.name: whole for whole in partitioned.values() for part in whole.parts}
    targets: dict[str, Target] = {}
    for op in graph.get_operations():
        if op.type not in VARIABLE_OPS or op.name not in objects:
            continue
        variable = objects[op.name]
        if op.name in owner:
            whole = owner[op.name]
            if whole.name not in targets:
                targets[whole.name] = Target(
                    whole.name,
                    _dtype(variable),
                    variable.dtype.base_dtype.as_datatype_enum,
                    whole.shape,
                    tuple(
                        (objects[part.name], slicing.partition_extent(part.offset, part.shape))
                        for part in whole.parts
                    ),
                )
            continue
        targets[op.name] = Target(
            op.name,
            _dtype(variable),
            variable.dtype.base_dtype.as_datatype_enum,
            _shape(variable),
            ((variable, None),),
        )
    return targets


def _dtype(variable) -> str:
    return variable.dtype.base_dtype.name


def _shape(variable) -> tuple[int | None, ...] | None:
    shape = variable.shape
    return None if shape.rank is None else tuple(shape.as_list())


def text(shape) -> str:
    return "<unknown>" if shape is None else str(list(shape))


# --- checks, all before anything is written -------------------------------------------------


def check_entries(entries: Iterable[VariableEntry], where: str) -> None:
    """What can be told from the plan alone: actions, sources, shapes left undefined."""
    seen = set()
    for entry in entries:
        if entry.name in seen:
            raise BadInput(where, f"{entry.name}: appears more than once in the plan")
        seen.add(entry.name)
        if entry.action not in ACTIONS:
            raise BadInput(where, f"{entry.name}: unknown action {entry.action!r}")
        if entry.action == RESTORE and not entry.source:
            raise BadInput(where, f"{entry.name}: action restore without a source key")
        if entry.action != RESTORE and entry.shape is None and entry.shape_resolution is None:
            raise BadInput(where, undefined(entry.name))


def undefined(name: str, restored: bool = False) -> str:
    if restored:
        return f"{name}: its shape was left undefined in the new graph and the plan gives none"
    return (
        f"{name}: its shape was left undefined in the new graph and nothing in the checkpoint "
        "gives it; give the shape in the new graph's get_variable call"
    )


def check_coverage(entries, targets: dict[str, Target], where: str, graph_file: str) -> None:
    """Every target has exactly one entry, and every entry a target of the same kind and parts."""
    by_name = {entry.name: entry for entry in entries}
    for name, target in targets.items():
        entry = by_name.get(name)
        if entry is None:
            raise BadInput(
                where,
                f"{name}: a variable of the new graph {graph_file} has no entry in the plan; "
                "make the plan again",
            )
        if not target.fully_defined and entry.shape is None:
            raise BadInput(where, undefined(name, restored=entry.action == RESTORE))
    for entry in entries:
        target = targets.get(entry.name)
        if target is None:
            raise BadInput(
                where, f"{entry.name}: in the plan but not a variable of the new graph {graph_file}"
            )
        _check_planned_spec(entry, target, where)


def _check_planned_spec(entry: VariableEntry, target: Target, where: str) -> None:
    again = "; make the plan again"
    if entry.dtype != target.dtype:
        raise BadInput(
            where,
            f"{entry.name}: dtype {entry.dtype} in the plan, {target.dtype} in the new graph"
            + again,
        )
    if entry.shape is not None and target.fully_defined and tuple(entry.shape) != target.shape:
        raise BadInput(
            where,
            f"{entry.name}: shape {text(entry.shape)} in the plan, {text(target.shape)} in the "
            "new graph" + again,
        )
    planned = [(p.name, tuple(p.offset), tuple(p.shape)) for p in entry.partitions]
    actual = [
        (variable.op.name, *_offset_and_shape(extent))
        for variable, extent in target.parts
        if extent is not None
    ]
    if planned != actual:
        raise BadInput(where, f"{entry.name}: {_parts_difference(planned, actual)}" + again)


def _offset_and_shape(extent: slicing.Extent) -> tuple[tuple[int, ...], tuple[int, ...]]:
    return tuple(start for start, _ in extent), tuple(length for _, length in extent)


def _parts_difference(planned: list, actual: list) -> str:
    if len(planned) != len(actual):
        return (
            f"{_partitioned(len(planned))} in the plan, "
            f"{_partitioned(len(actual))} in the new graph"
        )
    return "its parts' names or offsets in the plan differ from the new graph's"


def _partitioned(parts: int) -> str:
    if not parts:
        return "not partitioned"
    return f"partitioned in {parts} part{'s' if parts > 1 else ''}"


def check_sources(entries, targets: dict[str, Target], specs: dict, where, ckpt) -> None:
    """Each restore entry's source key is in the checkpoint with the target's dtype and shape
    (once the entry's transforms are applied)."""
    from graphdiff.transforms import transformed_spec

    for entry in entries:
        if entry.action != RESTORE:
            continue
        spec = specs.get(entry.stored_key)
        if spec is None:
            raise BadInput(
                where, f"{entry.name}: source key {entry.stored_key!r} is not in checkpoint {ckpt}"
            )
        spec = transformed_spec(spec, entry.transforms)
        target = targets[entry.name]
        if target.dtype != spec.dtype:
            raise BadInput(
                where,
                f"{entry.name}: dtype {target.dtype} in the graph, {spec.dtype} in "
                f"checkpoint key {entry.source!r} of {ckpt}",
            )
        shape = target.shape if target.fully_defined else entry.shape
        if tuple(shape) != tuple(spec.shape):
            raise BadInput(
                where,
                f"{entry.name}: shape {text(shape)} in the graph, "
                f"{text(spec.shape)} in checkpoint key {entry.source!r} of {ckpt}",
            )
