"""OLD as a SavedModel directory: `saved_model.pb` and its `variables/` tensor bundle.

A TF1 SavedModel (the bundle is name-based) is read like a `.meta`: the MetaGraphDef tagged
`serve` (else the first) gives the DAG, its variables named by their keys. A TF2 SavedModel
(the bundle is object-based) is loaded with `tf.saved_model.load`: its variables keep the names
they were made with (a Keras model's are Keras paths, `dense_1/kernel`; made unique with `~2`
as in model_variables.py), the object graph says which key holds each, and the DAG is the
graph of its serving signature (`serving_default`, else the first), traced when it was saved.
"""

from __future__ import annotations

import os

from graphdiff import storage
from graphdiff.errors import BadInput
from graphdiff.formats.base import SAVED_MODEL, Source
from graphdiff.formats.model_variables import ModelVariable, children, is_variable
from graphdiff.formats.python_model import eager_tensorflow
from graphdiff.formats.tf2_checkpoint import (
    OBJECT_GRAPH_KEY,
    _value_keys,
    _walk,
    object_graph,
    tree_names,
)
from graphdiff.formats.trace import concrete_dag
from graphdiff.graph_model import graph_to_dag
from graphdiff.loading import index_path, read_checkpoint_index
from graphdiff.roles import MODEL, Role


def saved_model_source(directory: str) -> Source:
    pb = storage.join(directory, "saved_model.pb")
    prefix = os.path.join(directory, "variables", "variables")
    if not storage.exists(index_path(prefix)):
        raise BadInput(directory, "a SavedModel without variables/variables.index: no values")
    specs = read_checkpoint_index(prefix)
    if OBJECT_GRAPH_KEY not in specs:
        meta = _serving_meta_graph(pb)
        return Source(SAVED_MODEL, graph_to_dag(meta.graph_def), specs, prefix, graph_file=pb)
    graph = object_graph(prefix)
    specs.pop(OBJECT_GRAPH_KEY)
    tf = eager_tensorflow()
    try:
        loaded = tf.saved_model.load(directory)
    except Exception as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise BadInput(directory, f"cannot be loaded as a SavedModel: {first}") from None
    signature = _signature(loaded, directory)
    captured = {id(external) for external, _ in signature.graph.captures}
    variables, aliases = _used_variables(_named_variables(graph, loaded, specs, captured), captured)
    paths, roles = tree_names(graph)
    table = {name: specs[v.stored_at] for name, v in variables.items()}
    stored_as = {name: v.stored_at for name, v in variables.items()}
    all_roles = {name: Role(MODEL) for name in table}
    known = set(stored_as.values()) | aliases
    for node, key in _value_keys(graph).items():
        if key in specs and key not in known:  # state the signature does not use
            table[paths[node]], stored_as[paths[node]] = specs[key], key
            all_roles[paths[node]] = roles[node]
    dag = concrete_dag(signature, variables)
    return Source(
        SAVED_MODEL, dag, table, prefix, graph_file=pb, stored_as=stored_as, roles=all_roles
    )


def _serving_meta_graph(pb: str):
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    model = saved_model_pb2.SavedModel()
    try:
        model.ParseFromString(storage.read_bytes(pb))
    except (DecodeError, OSError, ValueError):
        raise BadInput(pb, "not a SavedModel (saved_model.pb cannot be read)") from None
    if not model.meta_graphs:
        raise BadInput(pb, "a SavedModel without a meta graph")
    for meta in model.meta_graphs:
        if "serve" in meta.meta_info_def.tags:
            return meta
    return model.meta_graphs[0]


def _named_variables(graph, loaded, specs, captured: set[int]) -> dict[str, ModelVariable]:
    """Name -> variable, those the signature captures named first (they keep the plain name)."""
    from graphdiff.formats.model_variables import resource_handle

    objects = _walk(graph, 0, loaded, children)
    held = [
        (node, key, objects.get(node))
        for node, key in sorted(_value_keys(graph).items())
        if key in specs and is_variable(objects.get(node))
    ]
    held.sort(key=lambda item: id(resource_handle(item[2])) not in captured)
    found, seen = {}, {}
    for _, key, variable in held:
        base = variable.name.split(":")[0]
        seen[base] = seen.get(base, 0) + 1
        name = base if seen[base] == 1 else f"{base}~{seen[base]}"
        shape = tuple(int(d) for d in variable.shape)
        found[name] = ModelVariable(name, variable, variable.dtype.name, shape, key)
    return found


def _used_variables(variables: dict[str, ModelVariable], captured: set[int]):
    """The variables, less the copies a SavedModel keeps of the ones its signature uses (a
    Keras export lists each variable twice): (variables, checkpoint keys of the copies)."""
    from graphdiff.formats.model_variables import resource_handle

    used = {n for n, v in variables.items() if id(resource_handle(v.variable)) in captured}
    bases = {n.split("~")[0] for n in used}
    kept, aliases = {}, set()
    for name, variable in variables.items():
        if name in used or name.split("~")[0] not in bases:
            kept[name] = variable
        else:
            aliases.add(variable.stored_at)
    return kept, aliases


def _signature(loaded, directory: str):
    signatures = dict(getattr(loaded, "signatures", {}) or {})
    if not signatures:
        raise BadInput(directory, "a SavedModel without a serving signature: nothing to trace")
    return signatures.get("serving_default") or signatures[sorted(signatures)[0]]
