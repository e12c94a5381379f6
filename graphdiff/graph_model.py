"""A TensorFlow GraphDef as a networkx DAG, and the variables found in it.

Nodes are op names with attributes `op` (type), `dtype`, `shape` (list with None for unknown
dimensions, or None for unknown rank), `inputs` (the data inputs in port order, as
(producer, output index) pairs), `control_inputs` (names) and, for a convolution, `form`
(its strides and dilations). Edges of the DiGraph are the
data edges; control dependencies stay on the nodes (`control_edges` lists them): a training
graph whose batch-norm updates guard the optimizer has over a million of them, which the
matcher never walks and which would cost seconds to put into networkx. The back edges of v1
loops (NextIteration -> Merge) are dropped so that the result is acyclic; functional (v2)
loops keep their bodies in the function library and need nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

VARIABLE_OPS = frozenset({"VariableV2", "Variable", "VarHandleOp"})
# Ops whose strides and dilations say what a layer computes beyond its weights' shapes: a
# 3x3 convolution of stride 2 is not the one of stride 1 that holds the same kernel shape.
STRIDED_OPS = frozenset(
    {
        "Conv1D",
        "Conv2D",
        "Conv3D",
        "DepthwiseConv2dNative",
        "Conv2DBackpropInput",
        "Conv3DBackpropInputV2",
    }
)
LOOP_BACK_EDGE_OPS = frozenset({"NextIteration", "RefNextIteration"})


@dataclass(frozen=True)
class VariableNode:
    """A variable of a graph: the op that owns its storage, as the checkpoint knows it."""

    name: str
    op: str
    dtype: str
    shape: tuple[int | None, ...] | None

    @property
    def fully_defined(self) -> bool:
        return self.shape is not None and all(d is not None for d in self.shape)


def graph_to_dag(graph_def) -> nx.DiGraph:
    """Build the DAG of a GraphDef (tf.compat.v1.GraphDef or the `graph_def` of a MetaGraphDef)."""
    dag = nx.DiGraph()
    nodes = []
    for node in graph_def.node:
        data_inputs, control_inputs = [], []
        for ref in node.input:
            if ref[0] == "^":
                control_inputs.append(ref[1:])
            else:
                producer, _, port = ref.partition(":")
                data_inputs.append((producer, int(port) if port else 0))
        attrs = {
            "op": node.op,
            "dtype": _node_dtype(node),
            "shape": _node_shape(node),
            "inputs": tuple(data_inputs),
            "control_inputs": tuple(control_inputs),
        }
        if node.op in STRIDED_OPS:
            attrs["form"] = _strides(node)
        nodes.append((node.name, attrs))
    dag.add_nodes_from(nodes)
    loop_back = {name for name, attrs in nodes if attrs["op"] in LOOP_BACK_EDGE_OPS}
    dag.add_edges_from(
        (producer, name)
        for name, attrs in nodes
        for producer, _ in attrs["inputs"]
        if producer not in loop_back
    )
    return dag


def control_edges(dag: nx.DiGraph):
    """(producer, consumer) for every control dependency of the graph."""
    for name, attrs in dag.nodes(data=True):
        for producer in attrs["control_inputs"]:
            yield producer, name


def variables_of(dag: nx.DiGraph) -> dict[str, VariableNode]:
    """Every variable of the graph by name, in graph order."""
    found = {}
    for name, attrs in dag.nodes(data=True):
        if attrs.get("op") in VARIABLE_OPS:
            found[name] = VariableNode(name, attrs["op"], attrs["dtype"] or "", attrs["shape"])
    return found


def _strides(node) -> tuple:
    """(strides, dilations) of a convolution, each a tuple of ints (empty when not set)."""
    return tuple(
        tuple(node.attr[key].list.i) if key in node.attr else () for key in ("strides", "dilations")
    )


def _node_dtype(node) -> str | None:
    attr = node.attr
    for key in ("dtype", "T"):
        if key in attr:
            value = attr[key].type
            if value:
                return _dtype_name(value)
    return None


def _node_shape(node) -> tuple[int | None, ...] | None:
    """The shape a node declares (variables, placeholders); a variable without one, the
    first of its `_output_shapes`. Other ops' output shapes are not read: nothing uses them,
    and a saved training graph lists them for each of its 300,000 ops."""
    attr = node.attr
    if "shape" in attr:
        value = attr["shape"]
        if value.HasField("shape"):
            return shape_from_proto(value.shape)
    if node.op in VARIABLE_OPS and "_output_shapes" in attr:
        shapes = attr["_output_shapes"].list.shape
        if shapes:
            return shape_from_proto(shapes[0])
    return None


def shape_from_proto(shape_proto) -> tuple[int | None, ...] | None:
    if shape_proto.unknown_rank:
        return None
    return tuple(d.size if d.size >= 0 else None for d in shape_proto.dim)


_DTYPE_NAMES: dict[int, str] = {}


def _dtype_name(enum_value: int) -> str:
    """The numpy-style name of a DataType enum ('float32'); ref types map to their base."""
    if not _DTYPE_NAMES:
        from graphdiff.tf_import import tensorflow

        tf = tensorflow()
        for value in range(1, 30):
            try:
                _DTYPE_NAMES[value] = tf.dtypes.as_dtype(value).name
            except TypeError:
                continue
    return _DTYPE_NAMES.get(enum_value % 100, f"dtype_{enum_value}")
