"""OLD as an object-based checkpoint (`tf.train.Checkpoint`, a Keras model's included).

Such a checkpoint is a tensor bundle whose keys are object paths
(`model/layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE`), with the object graph
(`_CHECKPOINTABLE_OBJECT_GRAPH`, the tree `tf.train.CheckpointView` reads) saying which
object holds which key. A key is the first path at which the saver met its object, which may
well run through the optimizer (`optimizer/_trainable_variables/0/...` for a Keras model's
kernel), so names are made from the tree instead:

- with `--old-model OLD.py`, the model it builds is walked beside the tree (the children of
  each object by name, as TensorFlow restores), from whichever child of the root holds all of
  its variables; its variables take their Keras paths (or, for a tf.Module, object paths) and
  the model's trace gives the DAG;
- without it, each variable is named by its object path, the model's side of the tree before
  the optimizer's (`model/_operations/1/_kernel`), and the DAG is variables only.

Optimizer slots are slots of their variable, optimizer state is optimizer state, and
`save_counter` is the step, as the tree says.
"""

from __future__ import annotations

from graphdiff.errors import BadInput
from graphdiff.formats.base import NO_GRAPH, TF2_CHECKPOINT, Source
from graphdiff.formats.model_variables import (
    keras_variables,
    module_variables,
)
from graphdiff.formats.python_model import KERAS, build_model
from graphdiff.formats.tf1 import variables_only_dag
from graphdiff.formats.trace import trace_dag
from graphdiff.loading import TensorSpec
from graphdiff.match.core import format_shape
from graphdiff.roles import GLOBAL_STEP, MODEL, OPTIMIZER, SLOT, Role
from graphdiff.tf_import import tensorflow

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
VALUE = "VARIABLE_VALUE"


def object_graph(prefix: str):
    """The checkpoint's TrackableObjectGraph, or None for a name-based checkpoint."""
    tf = tensorflow()
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    reader = tf.compat.v1.train.NewCheckpointReader(prefix)
    if not reader.has_tensor(OBJECT_GRAPH_KEY):
        return None
    try:
        data = reader.get_tensor(OBJECT_GRAPH_KEY)
    except Exception as error:  # a missing or damaged data shard
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise BadInput(f"{prefix}.data-*", f"cannot be read: {first}") from None
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    try:
        graph.ParseFromString(data)
    except Exception:
        fault = f"its {OBJECT_GRAPH_KEY} is not an object graph"
        raise BadInput(f"{prefix}.index", fault) from None
    _check_node_ids(graph, prefix)
    return graph


def _check_node_ids(graph, prefix: str) -> None:
    """Every object the graph points to is one it holds: a damaged graph is bad input, not
    an IndexError while walking it."""
    count = len(graph.nodes)
    if count == 0:
        raise BadInput(f"{prefix}.index", f"its {OBJECT_GRAPH_KEY} holds no object")
    for node in graph.nodes:
        pointed = [c.node_id for c in node.children] + [
            i
            for s in node.slot_variables
            for i in (s.original_variable_node_id, s.slot_variable_node_id)
        ]
        for node_id in pointed:
            if not 0 <= node_id < count:
                fault = (
                    f"its {OBJECT_GRAPH_KEY} points to object {node_id} of {count}: a damaged "
                    "checkpoint"
                )
                raise BadInput(f"{prefix}.index", fault)


def tf2_source(prefix: str, specs: dict[str, TensorSpec], old_model: str | None, graph) -> Source:
    """The Source for the object-based checkpoint at `prefix` (index already read: `specs`)."""
    paths, roles = tree_names(graph)
    keys = {node: key for node, key in _value_keys(graph).items() if key in specs}
    if old_model is None:
        names = {keys[node]: paths[node] for node in keys}
        table = {names[key]: specs[key] for key in keys.values()}
        note = (
            f"{NO_GRAPH} (an object-based checkpoint): matched by names and --map only; give "
            "the .py that builds its model with --old-model for the structure"
        )
        return Source(
            TF2_CHECKPOINT,
            variables_only_dag(table),
            table,
            prefix,
            stored_as={names[k]: k for k in keys.values()},
            roles={paths[n]: roles[n] for n in keys},
            graph_note=note,
        )
    built = build_model(old_model, "--old-model")
    if built.kind == KERAS:
        variables = keras_variables(built.model)
    else:
        variables = module_variables(built.model, "")
    wanted = {id(v.variable) for v in variables.values()}
    root, objects = _attach(graph, built.model, wanted, old_model, prefix)
    if built.kind != KERAS and root:
        variables = module_variables(built.model, root)
    node_of = {id(obj): node for node, obj in objects.items()}
    table, stored_as, named = {}, {}, {}
    for name, variable in variables.items():
        node = node_of.get(id(variable.variable))
        if node is None or node not in keys:
            raise BadInput(prefix, f"holds no value for '{name}' of the model {old_model} builds")
        spec = specs[keys[node]]
        if tuple(spec.shape) != variable.shape:
            raise BadInput(
                prefix,
                f"was not saved from the model {old_model} builds: '{name}' is "
                f"{format_shape(variable.shape)} there, {format_shape(spec.shape)} here",
            )
        table[name], stored_as[name], named[node] = spec, keys[node], name
    all_roles = {name: Role(MODEL) for name in table}
    owners = slot_owners(graph)
    for node, key in keys.items():  # the rest: optimizer state, slots, the save counter
        if node not in named:
            role = roles[node]
            if role.kind == SLOT:
                role = Role(SLOT, named.get(owners[node], role.primary), role.slot_name)
            name = paths[node]
            table[name], stored_as[name], all_roles[name] = specs[key], key, role
    dag = trace_dag(built, variables)
    return Source(
        TF2_CHECKPOINT,
        dag,
        table,
        prefix,
        model_file=old_model,
        stored_as=stored_as,
        roles=all_roles,
        counted=frozenset(name for name, v in variables.items() if v.counted),
        layered=built.kind == KERAS,
        within={name: v.within for name, v in variables.items()},
    )


def model_root(prefix: str, model, old_model: str) -> str:
    """The child of the checkpoint's root that holds `model` ("" for the root itself), as
    planning found it; BadInput naming the checkpoint when none does."""
    graph = object_graph(prefix)
    if graph is None:
        raise BadInput(prefix, "a name-based checkpoint (no object graph): not the plan's source")
    if isinstance(model, _keras_model()):
        variables = keras_variables(model)
    else:
        variables = module_variables(model, "")
    wanted = {id(v.variable) for v in variables.values()}
    return _attach(graph, model, wanted, old_model, prefix)[0]


def _keras_model():
    import keras

    return keras.Model


def tree_names(graph) -> tuple[dict[int, str], dict[int, Role]]:
    """Node id -> object path (the model's side first) and -> role, for every node reached.

    A slot's role names its variable by path; `slot_owners(graph)` gives the variable's node.
    """
    nodes = graph.nodes
    order = sorted(nodes[0].children, key=lambda c: ("optimizer" in c.local_name, c.local_name))
    paths: dict[int, str] = {0: ""}
    queue = [(c.node_id, c.local_name) for c in order]
    under_optimizer: set[int] = set()
    while queue:
        node, path = queue.pop(0)
        if node in paths:
            continue
        paths[node] = path
        if "optimizer" in path.split("/", 1)[0]:
            under_optimizer.add(node)
        queue += [(c.node_id, f"{path}/{c.local_name}") for c in nodes[node].children]
    roles = {}
    for node, path in paths.items():
        if path.split("/")[-1] == "save_counter":
            roles[node] = Role(GLOBAL_STEP)
        elif node in under_optimizer:
            roles[node] = Role(OPTIMIZER)
        else:
            roles[node] = Role(MODEL)
    for node in nodes:
        for slot in node.slot_variables:
            owner = paths.get(slot.original_variable_node_id)
            if slot.slot_variable_node_id in paths and owner is not None:
                roles[slot.slot_variable_node_id] = Role(SLOT, owner, slot.slot_name)
    return paths, roles


def slot_owners(graph) -> dict[int, int]:
    """Slot variable node id -> the node id of the variable it belongs to."""
    return {
        slot.slot_variable_node_id: slot.original_variable_node_id
        for node in graph.nodes
        for slot in node.slot_variables
    }


def _value_keys(graph) -> dict[int, str]:
    """Node id -> checkpoint key of every node that holds a variable's value."""
    return {
        node_id: attribute.checkpoint_key
        for node_id, node in enumerate(graph.nodes)
        for attribute in node.attributes
        if attribute.name == VALUE
    }


def _attach(graph, model, wanted: set, old_model: str, prefix: str):
    """The root child that holds `model`'s variables (ids `wanted`; "" for the root itself),
    and node id -> live object below it."""
    from graphdiff.formats.model_variables import children

    candidates = [(c.local_name, c.node_id) for c in graph.nodes[0].children] + [("", 0)]
    best = (0, "", {})
    for name, node in candidates:
        objects = _walk(graph, node, model, children)
        found = len({id(obj) for obj in objects.values()} & wanted)
        if found == len(wanted):
            return name, objects
        best = max(best, (found, name, objects), key=lambda b: b[0])
    where = f" (at most {best[0]} of {len(wanted)}, under '{best[1]}')" if best[0] else ""
    raise BadInput(
        prefix,
        f"was not saved from the model {old_model} builds: no object of the checkpoint holds "
        f"its variables{where}",
    )


def _walk(graph, node: int, obj, children) -> dict[int, object]:
    """Node id -> live object, following children by name from (`node`, `obj`).

    A child the object does not have by its name is looked for as `_name`: tf.keras 2 kept
    Dense's and Conv's weights as `kernel`, Keras 3 keeps them as `_kernel` (the property
    `kernel` reads it), so a subclassed tf.keras 2 model's checkpoint says `d1/kernel` where
    Keras 3's would say `d1/_kernel`.
    """
    found, queue = {node: obj}, [(node, obj)]
    while queue:
        current, live = queue.pop(0)
        live_children = children(live)
        for child in graph.nodes[current].children:
            match = live_children.get(child.local_name)
            if match is None:
                match = live_children.get(f"_{child.local_name}")
            if match is not None and child.node_id not in found:
                found[child.node_id] = match
                queue.append((child.node_id, match))
    return found
