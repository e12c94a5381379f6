"""A Keras model or a tf.Module as a DAG: trace its forward pass, then name its variables.

`trace_dag(built, variables)` traces `model(inputs, training=False)` (a tf.Module:
`module(...)`, with `training=False` when its call takes a `training` argument) with
`tf.function(...).get_concrete_function(signature)`. In the traced graph a variable is a
captured resource placeholder; `graph.captures` pairs each placeholder with the tensor it
captured, a variable's resource handle, so the placeholder becomes a VarHandleOp node named as
the plan names that variable, with its dtype and shape, and the DAG follows graph_model's
conventions. Calls of nested tf.functions are inlined first (grappler's function inliner), so
the matcher walks one flat graph. A variable the forward pass never reads is a lone node.
`traced_graph` gives the flat GraphDef both ways, named and runnable (graphdiff verify runs it).
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from graphdiff.errors import BadInput
from graphdiff.formats.model_variables import ModelVariable, resource_handle
from graphdiff.formats.python_model import KERAS, BuiltModel
from graphdiff.graph_model import graph_to_dag
from graphdiff.messages import collected
from graphdiff.tf_import import tensorflow

_CALL_OPS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})
OTHER_RESOURCE = "CapturedResource"  # captured, but no variable the plan knows: not an input


def trace_dag(built: BuiltModel, variables: dict[str, ModelVariable]) -> nx.DiGraph:
    """The DAG of the model's forward pass; BadInput naming the file when it cannot be traced."""
    return concrete_dag(trace_model(built), variables)


def trace_model(built: BuiltModel):
    """The concrete function of the model's forward pass (`training=False`); BadInput naming
    the file when its inputs are unknown or it cannot be traced with them."""
    if built.signature is None:
        raise BadInput(
            built.file,
            "cannot trace the model: its inputs are unknown; define input_signature() in the "
            "file, returning a tf.TensorSpec per input of the model's call",
        )
    return _concrete_function(built)


@dataclass
class Traced:
    """A traced forward pass as a GraphDef, twice: `named` (the DAG's: captured variables are
    VarHandleOp nodes under the plan's names) and `flat` (TensorFlow's names, runnable).
    `renamed`: flat node name -> named one, where they differ; `captured`: flat placeholder of
    a capture -> the plan name of its variable (None: another resource, or a captured value)."""

    named: object  # GraphDef
    flat: object  # GraphDef
    renamed: dict[str, str]
    captured: dict[str, str | None]
    inlined: bool = False  # calls were inlined: `flat` is not the concrete function's graph


def concrete_dag(concrete, variables: dict[str, ModelVariable]) -> nx.DiGraph:
    """The DAG of a traced (or loaded) concrete function, its captured variables named."""
    dag = graph_to_dag(traced_graph(concrete, variables).named)
    for name, variable in variables.items():
        if name not in dag:
            attrs = dict(op="VarHandleOp", dtype=variable.dtype, shape=variable.shape)
            dag.add_node(name, **attrs, inputs=(), control_inputs=())
    return dag


def traced_graph(concrete, variables: dict[str, ModelVariable]) -> Traced:
    """The flat (calls inlined) GraphDef of `concrete`, and the same with variables named."""
    flat = _flat_graph_def(concrete)
    inlined = any(node.op in _CALL_OPS for node in concrete.graph.as_graph_def().node)
    names = {id(resource_handle(v.variable)): name for name, v in variables.items()}
    captured = {
        internal.op.name: names.get(id(external)) for external, internal in concrete.graph.captures
    }
    named, renamed = _name_variables(flat, captured, variables)
    return Traced(named, flat, renamed, captured, inlined)


def _concrete_function(built: BuiltModel):
    tf = tensorflow()
    model = built.model
    training = _takes_training(model) if built.kind != KERAS else True

    def forward(*args):
        return model(*args, training=False) if training else model(*args)

    try:
        with collected(built.messages):
            return tf.function(forward).get_concrete_function(*built.signature)
    except Exception as error:  # the user's call may raise anything while traced
        text = str(error).strip().splitlines()
        raise BadInput(
            built.file,
            f"the model cannot be traced with inputs {_describe(built.signature)}: "
            f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": "),
        ) from None


def _takes_training(module) -> bool:
    """A tf.Module whose call has a `training` parameter is traced with training=False."""
    import inspect

    call = type(module).__call__
    if getattr(call, "input_signature", None) is not None:
        return False  # a tf.function with a signature takes what the signature says
    call = getattr(call, "python_function", call)  # a tf.function's own Python function
    try:
        return "training" in inspect.signature(call).parameters
    except (TypeError, ValueError):
        return False


def _describe(signature) -> str:
    tf = tensorflow()
    specs = tf.nest.flatten(signature)
    return ", ".join(f"{s.dtype.name}{s.shape.as_list() if s.shape.rank else ''}" for s in specs)


def _flat_graph_def(concrete):
    graph_def = concrete.graph.as_graph_def()
    if not any(node.op in _CALL_OPS for node in graph_def.node):
        return graph_def
    from tensorflow.python.framework import convert_to_constants

    try:
        inlined = convert_to_constants._run_inline_graph_optimization(
            concrete, lower_control_flow=False, aggressive_inlining=True
        )
    except Exception:  # grappler refused: the calls stay opaque, the rest is still walked
        return graph_def
    return _without_call_identities(inlined)


def _without_call_identities(graph_def):
    """Drop the Identity ops inlining leaves where a call's arguments and results were
    (`Func/...`, and a function's own result identity behind them), so that an inlined graph
    reads op for op like one traced flat."""
    tf = tensorflow()
    alias: dict[str, str] = {}

    def passes(node) -> bool:
        data = [ref for ref in node.input if not ref.startswith("^")]
        return node.op == "Identity" and len(data) == 1 and ":" not in data[0]

    consumers: dict[str, set[str]] = {}
    for node in graph_def.node:
        for ref in node.input:
            consumers.setdefault(ref.lstrip("^").partition(":")[0], set()).add(node.op)
    for node in graph_def.node:
        feeds_identities = consumers.get(node.name) == {"Identity"}
        if passes(node) and (node.name.startswith("Func/") or feeds_identities):
            alias[node.name] = node.input[0]

    def resolve(name: str) -> str:
        while name in alias:
            name = alias[name]
        return name

    out = tf.compat.v1.GraphDef()
    out.library.CopyFrom(graph_def.library)
    out.versions.CopyFrom(graph_def.versions)
    for node in graph_def.node:
        if node.name in alias:
            continue
        copy = out.node.add()
        copy.CopyFrom(node)
        del copy.input[:]
        for ref in node.input:
            control = ref.startswith("^")
            producer, colon, port = ref.lstrip("^").partition(":")
            if control and producer in alias:
                continue
            target = resolve(producer) if not colon else producer
            copy.input.append(("^" if control else "") + target + (colon + port if colon else ""))
    return out


def _name_variables(graph_def, captured: dict, variables: dict[str, ModelVariable]):
    """A copy of `graph_def` whose captured variable placeholders carry the plan's names."""
    tf = tensorflow()
    renamed: dict[str, str] = {}
    taken = set(variables)
    for node in graph_def.node:
        if node.name in captured and captured[node.name] is not None:
            name = captured[node.name]
            again = name in renamed.values()
            renamed[node.name] = f"{name}/capture_{node.name}" if again else name
        elif node.name in taken:
            renamed[node.name] = f"{node.name}/graphdiff_op"  # an op that has a variable's name
    out = tf.compat.v1.GraphDef()
    out.CopyFrom(graph_def)
    for node in out.node:
        original = node.name
        node.name = renamed.get(original, original)
        for i, ref in enumerate(node.input):
            node.input[i] = _renamed_ref(ref, renamed)
        if original in captured:
            _as_variable(tf, node, captured[original], variables, renamed)
    return out, renamed


def _as_variable(tf, node, name, variables, renamed) -> None:
    if name is None:
        node.op = OTHER_RESOURCE
        return
    if node.name != name:  # a second capture of one variable: read it through the first
        node.op = "Identity"
        node.input.append(name)
        return
    variable = variables[name]
    node.op = "VarHandleOp"
    node.attr.clear()
    node.attr["dtype"].type = tf.as_dtype(variable.dtype).as_datatype_enum
    node.attr["shape"].shape.CopyFrom(tf.TensorShape(variable.shape).as_proto())


def _renamed_ref(ref: str, renamed: dict[str, str]) -> str:
    control = ref.startswith("^")
    body = ref[1:] if control else ref
    producer, colon, port = body.partition(":")
    producer = renamed.get(producer, producer)
    return ("^" if control else "") + producer + (colon + port if colon else "")
