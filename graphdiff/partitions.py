"""Partitioned variables: many variable ops in the graph, one key in the checkpoint.

`get_variable(..., partitioner=...)` makes `emb/part_0`, `emb/part_1`, ... whose Saver key is
the full name `emb`, saved as slices of the full shape. graphdiff plans and matches the full
variable: `collapse_partitions` folds the parts of each partitioned variable into one DAG node
named by its full name, with the full shape, wired to every consumer of every part, so that
names, `--map`, `--exclude`, `--require` and structure all see one variable, whatever the
number of parts on either side. The parts go into the plan entry, for `apply` to write the
slices the new graph's Saver expects.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from graphdiff.errors import BadInput
from graphdiff.plan import Part
from graphdiff.tf_import import tensorflow

_VARIABLE_COLLECTIONS = ("variables", "local_variables", "model_variables", "trainable_variables")


@dataclass(frozen=True)
class Partitioned:
    name: str  # the full name: the checkpoint key
    shape: tuple[int, ...]  # the full shape
    parts: tuple[Part, ...]  # in offset order


def partitions_in_meta(meta) -> dict[str, Partitioned]:
    """The partitioned variables of a MetaGraphDef, from the VariableDefs in its collections."""
    tensorflow()  # first: a bare `import tensorflow...` would print its start-up chatter
    from tensorflow.core.framework import variable_pb2

    found: dict[str, tuple[tuple, dict]] = {}
    for key in _VARIABLE_COLLECTIONS:
        if key not in meta.collection_def:
            continue
        for data in meta.collection_def[key].bytes_list.value:
            definition = variable_pb2.VariableDef()
            definition.ParseFromString(data)
            if definition.HasField("save_slice_info_def"):
                info = definition.save_slice_info_def
                part = Part(
                    definition.variable_name.split(":")[0],
                    tuple(info.var_offset),
                    tuple(info.var_shape),
                )
                _add(found, info.full_name, tuple(info.full_shape), part)
    return _finish(found)


def partitions_of_variables(variables) -> dict[str, Partitioned]:
    """The partitioned variables among Python Variable objects (through `_save_slice_info`)."""
    found: dict[str, tuple[tuple, dict]] = {}
    for variable in variables:
        info = getattr(variable, "_save_slice_info", None)
        if info is not None:
            part = Part(variable.op.name, tuple(info.var_offset), tuple(info.var_shape))
            _add(found, info.full_name, tuple(info.full_shape), part)
    return _finish(found)


def _add(found: dict, full_name: str, full_shape: tuple, part: Part) -> None:
    shape, parts = found.setdefault(full_name, (full_shape, {}))
    parts[part.name] = part


def _finish(found: dict) -> dict[str, Partitioned]:
    return {
        name: Partitioned(name, shape, tuple(sorted(parts.values(), key=lambda p: p.offset)))
        for name, (shape, parts) in found.items()
    }


def collapse_partitions(dag: nx.DiGraph, partitioned: dict[str, Partitioned], where) -> None:
    """Replace each partitioned variable's part nodes by one node named by its full name."""
    owner: dict[str, str] = {}
    for whole in partitioned.values():
        parts = [part.name for part in whole.parts if part.name in dag]
        if not parts:
            continue
        if whole.name in dag:
            raise BadInput(
                where,
                f"'{whole.name}' names both a partitioned variable and an op; graphdiff "
                "cannot tell its parts apart from it",
            )
        owner.update(dict.fromkeys(parts, whole.name))
        first = dag.nodes[parts[0]]
        dag.add_node(
            whole.name, **{**first, "shape": whole.shape, "inputs": (), "control_inputs": ()}
        )
    if not owner:
        return
    for _, attrs in dag.nodes(data=True):
        if any(producer in owner for producer, _ in attrs["inputs"]):
            attrs["inputs"] = tuple((owner.get(p, p), port) for p, port in attrs["inputs"])
        if any(name in owner for name in attrs["control_inputs"]):
            attrs["control_inputs"] = tuple(owner.get(n, n) for n in attrs["control_inputs"])
    for part, whole in owner.items():
        dag.add_edges_from([(whole, consumer) for consumer in dag.successors(part)])
        dag.remove_node(part)
