"""TensorFlow 1 on both sides: a `.meta` + name-based checkpoint as OLD, a graph as NEW.

Thin wrappers over loading.py, new_graph.py and partitions.py, which keep their own tests:
`meta_source` reads the old MetaGraphDef into a DAG (partitioned variables folded into one
node each) and the checkpoint's index into the variable table; `checkpoint_source` takes a
name-based checkpoint alone (no graph: a DAG of variable nodes only); `tf1_new_model` builds
the new graph (graph mode, shapes left undefined filled by `shape_for`).
"""

from __future__ import annotations

import os

import networkx as nx

from graphdiff import storage
from graphdiff.errors import BadInput
from graphdiff.formats.base import (
    NEW_META,
    NEW_PYTHON,
    NO_GRAPH,
    TF1_CHECKPOINT,
    TF1_META,
    NewModel,
    Source,
)
from graphdiff.graph_model import graph_to_dag, variables_of
from graphdiff.loading import (
    TensorSpec,
    checkpoint_prefix_for,
    index_path,
    read_checkpoint_index,
    read_meta_graph,
)
from graphdiff.new_graph import ShapeFor, build_new_graph, variable_objects
from graphdiff.partitions import collapse_partitions, partitions_in_meta, partitions_of_variables


def meta_source(meta_path: str | os.PathLike, checkpoint: str | None = None) -> Source:
    """OLD as a `.meta` and its checkpoint (the same path without `.meta`, or `checkpoint`).

    Without a checkpoint index (and no `checkpoint` given), the variable table comes from the
    graph alone: enough to plan, not to apply.
    """
    meta = read_meta_graph(meta_path)
    dag = graph_to_dag(meta.graph_def)
    collapse_partitions(dag, partitions_in_meta(meta), meta_path)
    prefix = checkpoint or checkpoint_prefix_for(meta_path)
    has_index = storage.exists(index_path(prefix))
    if has_index:
        specs = read_checkpoint_index(prefix)
        _add_keys_beside_graph(dag, specs, meta_path, prefix)
    elif checkpoint:
        raise BadInput(index_path(prefix), "no checkpoint index at the --checkpoint prefix")
    else:
        specs = {
            name: TensorSpec(v.dtype, v.shape)
            for name, v in variables_of(dag).items()
            if v.fully_defined
        }
    return Source(TF1_META, dag, specs, prefix, has_index, graph_file=os.fspath(meta_path))


def _add_keys_beside_graph(dag: nx.DiGraph, specs: dict, meta_path, prefix: str) -> None:
    """Keys the graph has no node for (a training run's slots and global_step beside an
    evaluation graph's .meta) join the DAG as variables without computation: matched by name
    and --map only. A checkpoint that holds none of the graph's variables is not its own."""
    in_graph = set(variables_of(dag))
    if in_graph and specs and not in_graph & set(specs):
        raise BadInput(
            index_path(prefix),
            f"holds none of the variables of {os.fspath(meta_path)}: not that graph's "
            "checkpoint (give the one its Saver wrote with --checkpoint, or plan from the "
            "checkpoint prefix alone, matched by names)",
        )
    missing = {key: spec for key, spec in specs.items() if key not in dag}
    dag.add_nodes_from(variables_only_dag(missing).nodes(data=True))


def checkpoint_source(prefix: str, specs: dict[str, TensorSpec]) -> Source:
    """OLD as a name-based checkpoint without its graph: its keys are the names."""
    note = f"{NO_GRAPH} (a checkpoint without its .meta): matched by names and --map only"
    if storage.exists(prefix + ".meta"):
        note = (
            f"{NO_GRAPH} (the checkpoint was given, not its graph): matched by names and --map "
            f"only; plan from {prefix}.meta, beside it, to match by structure"
        )
    return Source(TF1_CHECKPOINT, variables_only_dag(specs), specs, prefix, graph_note=note)


def variables_only_dag(specs: dict[str, TensorSpec]) -> nx.DiGraph:
    """A DAG of one variable node per name and nothing else: structure has nothing to walk."""
    dag = nx.DiGraph()
    for name, spec in specs.items():
        attrs = dict(op="VarHandleOp", dtype=spec.dtype, shape=tuple(spec.shape))
        dag.add_node(name, **attrs, inputs=(), control_inputs=())
    return dag


def tf1_new_model(path: str | os.PathLike, shape_for: ShapeFor) -> NewModel:
    """NEW as a TF1 graph: a `.py` run in graph mode (build_graph() if defined), or a `.meta`."""
    built = build_new_graph(path, shape_for)
    dag = graph_to_dag(built.graph.as_graph_def())
    partitions = partitions_of_variables(variable_objects(built.graph).values())
    collapse_partitions(dag, partitions, path)
    kind = NEW_META if built.kind == "meta" else NEW_PYTHON
    variables = variables_of(dag)
    return NewModel(
        kind,
        dag,
        variables,
        built.undefined_shapes,
        partitions,
        built.messages,
        sources=list(built.sources),
        initial_shapes=_initial_shapes(built.graph, variables),
    )


def _initial_shapes(graph, variables: dict) -> dict:
    """Shapes a variable's own initial value gives when its static shape is unknown
    (`validate_shape=False`): initialized, it takes that value, shape and all."""
    shapes = {}
    for name, variable in variable_objects(graph).items():
        if name in variables and not variables[name].fully_defined:
            initial = getattr(variable, "initial_value", None)
            if initial is not None and initial.shape.is_fully_defined():
                shapes[name] = tuple(initial.shape.as_list())
    return shapes
