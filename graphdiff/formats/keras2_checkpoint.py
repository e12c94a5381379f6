"""OLD as a tf.keras 2 TF-format checkpoint: `model.save_weights("prefix")`, or a
`tf.train.Checkpoint(model=...)` of a tf.keras 2 model.

Its object graph names a model's layers by position in the model's layer list (`layer-N`;
`layer_with_weights-M` is the same object again, counted among the layers with weights) and
a layer's weights by attribute (`kernel`, `moving_mean`, `_query_dense/kernel`); a nested
model is a layer whose children are `layer-N` again. Keras 3 names none of this alike
(`_operations/1/_kernel`), so the tree is read into stored layers (keras2_pairing.py) and
paired with a Keras 3 model's layer list, position by position:

- `--old-model OLD.py`: the architecture written with Keras 3; every weight must pair, or
  the checkpoint is refused (it was not saved from that model);
- without it, NEW's model when the tree fits it exactly: the same layers in the same places,
  each with weights of the same names and shapes. That leaves no doubt, and the plan records
  NEW as the old model. Otherwise (a new head, an inserted layer) the layers with weights pair
  with NEW's by their order and shapes where every best alignment agrees
  (keras2_alignment.py), on NEW's traced graph, recording no old model; every other stored
  weight is left unused and every other variable of NEW initialized, saying why.

Optimizer state (`optimizer/...`) and `save_counter` keep their object paths and roles.
"""

from __future__ import annotations

import re

from graphdiff.errors import BadInput
from graphdiff.formats.base import KERAS2_CHECKPOINT, NO_GRAPH, Source
from graphdiff.formats.keras2_alignment import align
from graphdiff.formats.keras2_pairing import (
    Mismatch,
    StoredLayer,
    StoredWeight,
    add_note,
    pair,
)
from graphdiff.formats.keras2_source import keras2_source
from graphdiff.formats.python_model import KERAS, build_model
from graphdiff.formats.tf1 import variables_only_dag
from graphdiff.formats.tf2_checkpoint import VALUE, tree_names
from graphdiff.loading import TensorSpec
from graphdiff.roles import MODEL, OPTIMIZER, Role

_TAKEN_FROM_NEW = (
    "the checkpoint names its layers by position only (no names, no activations): NEW, "
    "which it fits layer for layer, was taken as its model; give --old-model if it was not"
)
_LAYER = re.compile(r"layer-(\d+)")
_WITH_WEIGHTS = re.compile(r"layer_with_weights-(\d+)")


def is_keras2_tree(graph) -> bool:
    """True when the root, or one child of it, is a tf.keras 2 model (has `layer-N`)."""
    return _model_node(graph) is not None


def checkpoint_layers(graph, specs, prefix: str):
    """The model's stored layers (stored_layers) and every value's checkpoint key by node;
    the graph must hold a tf.keras 2 model (is_keras2_tree)."""
    keys = _value_keys(graph, specs, prefix)
    return stored_layers(graph, _model_node(graph), keys, specs, prefix), keys


def _model_node(graph) -> int | None:
    if _is_model(graph, 0):
        return 0
    found = [c.node_id for c in graph.nodes[0].children if _is_model(graph, c.node_id)]
    return found[0] if len(found) == 1 else None


def _is_model(graph, node: int) -> bool:
    return any(_LAYER.fullmatch(c.local_name) for c in graph.nodes[node].children)


def keras2_checkpoint_source(
    prefix: str,
    specs: dict[str, TensorSpec],
    graph,
    old_model: str | None,
    new_model: str | None,
) -> Source:
    """The Source for the tf.keras 2 checkpoint at `prefix` (index read: `specs`)."""
    stored, keys = checkpoint_layers(graph, specs, prefix)
    paths, roles = tree_names(graph)
    roles = {node: _under_an_optimizer(paths.get(node, ""), role) for node, role in roles.items()}
    model_keys = {w.key for w in _all_weights(stored)}
    others = {keys[n]: roles[n] for n in keys if keys[n] not in model_keys}
    if old_model is not None:
        built = _keras_model(old_model)
        try:
            pairing = pair(stored, built.model)
        except Mismatch as mismatch:
            raise BadInput(
                prefix, f"was not saved from the model {old_model} builds: {mismatch}"
            ) from None
        source = keras2_source(KERAS2_CHECKPOINT, prefix, built, pairing, specs, others, old_model)
        return _with_names(source, paths, keys)
    why = "give the .py that builds its model in Keras 3 with --old-model OLD.py"
    if new_model is not None:
        built = _keras_model(new_model)
        try:
            pairing = pair(stored, built.model)
        except Mismatch as mismatch:
            pairing, found = align(stored, built.model)
            why = f"its layers do not fit NEW's one for one ({mismatch}): {found}; {why}"
            source = _aligned(prefix, specs, others, pairing, why, built)
        else:
            for key in pairing.keys.values():
                add_note(pairing, key, _TAKEN_FROM_NEW)
            source = keras2_source(
                KERAS2_CHECKPOINT, prefix, built, pairing, specs, others, new_model
            )
        return _with_names(source, paths, keys)
    return _variables_only(prefix, specs, keys, paths, roles, why)


def _under_an_optimizer(path: str, role: Role) -> Role:
    """A compiled model's own optimizer (`model/optimizer/...`) is optimizer state too, not
    only one at the root of the tree."""
    if role.kind == MODEL and "optimizer" in path.split("/")[:-1]:
        return Role(OPTIMIZER)
    return role


def _keras_model(path: str):
    built = build_model(path, "--old-model")
    if built.kind != KERAS:
        raise BadInput(path, "builds a tf.Module; a tf.keras 2 checkpoint comes from a Keras model")
    return built


def _with_names(source: Source, paths: dict[int, str], keys: dict[int, str]) -> Source:
    """Optimizer state and the save counter under their object paths, not their keys."""
    by_key = {key: paths[node] for node, key in keys.items()}
    for name in [n for n in source.specs if n in by_key and n not in source.stored_as]:
        new = by_key[name]
        source.specs[new] = source.specs.pop(name)
        source.stored_as[new] = name
        source.roles[new] = source.roles.pop(name)
        if name in source.notes:
            source.notes[new] = source.notes.pop(name)
    return source


def _aligned(prefix, specs, others, pairing, why: str, built) -> Source:
    """The keys paired by order and shapes, under NEW's names and on NEW's traced graph (the
    old model's own is unknown): the matcher restores them by name and nothing else, and NEW's
    variables they leave are initialized with `why`. No old model is recorded: NEW is not it."""
    source = keras2_source(KERAS2_CHECKPOINT, prefix, built, pairing, specs, others, None)
    source.graph_note = f"{NO_GRAPH} (a tf.keras 2 checkpoint: {why})"
    return source


def _variables_only(prefix, specs, keys, paths, roles, why: str) -> Source:
    names = {key: paths[node] for node, key in keys.items()}
    table = {names[key]: specs[key] for key in names}
    return Source(
        KERAS2_CHECKPOINT,
        variables_only_dag(table),
        table,
        prefix,
        stored_as={name: key for key, name in names.items()},
        roles={paths[node]: roles[node] for node in keys},
        graph_note=f"{NO_GRAPH} (a tf.keras 2 checkpoint: {why})",
    )


def stored_layers(
    graph, model: int, keys: dict[int, str], specs, prefix: str, within: frozenset = frozenset()
) -> list[StoredLayer]:
    """The layers of the model at node `model`, by position, nested models nested (`within`:
    the models it is nested in, which it cannot hold again)."""
    if model in within:
        fault = "its object graph holds a model inside itself: a damaged checkpoint"
        raise BadInput(prefix, fault)
    by_position: dict[int, int] = {}
    for child in graph.nodes[model].children:
        match = _LAYER.fullmatch(child.local_name)
        if match:
            by_position[int(match.group(1))] = child.node_id
    if sorted(by_position) != list(range(len(by_position))):
        raise BadInput(prefix, "its model's layers are not numbered layer-0, layer-1, ... in order")
    layers = []
    for position in range(len(by_position)):
        node = by_position[position]
        layer = StoredLayer(f"layer-{position}", None, position)
        if _is_model(graph, node):
            layer.sublayers = stored_layers(graph, node, keys, specs, prefix, within | {model})
        else:
            layer.weights = _weights_under(graph, node, keys, specs)
        layers.append(layer)
    _check_with_weights(graph, model, layers, by_position, prefix)
    return layers


def _weights_under(graph, node: int, keys, specs) -> list[StoredWeight]:
    """The variables below a layer's node, by attribute path (`kernel`, `cell/kernel`)."""
    found, seen, queue = [], {node}, [(node, "")]
    while queue:
        current, path = queue.pop(0)
        for child in graph.nodes[current].children:
            if child.node_id in seen:
                continue
            seen.add(child.node_id)
            name = f"{path}/{child.local_name}" if path else child.local_name
            if child.node_id in keys:
                key = keys[child.node_id]
                found.append(StoredWeight(name, key, specs[key]))
            else:
                queue.append((child.node_id, name))
    return found


def _check_with_weights(graph, model: int, layers, by_position, prefix: str) -> None:
    """`layer_with_weights-M` must be the M-th layer that holds weights: a tree that says
    otherwise was not written by tf.keras 2 as this reader knows it."""
    with_weights = [by_position[layer.position] for layer in layers if layer.has_weights()]
    for child in graph.nodes[model].children:
        match = _WITH_WEIGHTS.fullmatch(child.local_name)
        if match:
            index = int(match.group(1))
            if index >= len(with_weights) or with_weights[index] != child.node_id:
                raise BadInput(
                    prefix,
                    f"its {child.local_name} is not the model's layer number {index} with "
                    "weights: not a tf.keras 2 checkpoint graphdiff can read",
                )


def _value_keys(graph, specs, prefix: str) -> dict[int, str]:
    """Node id -> the key of the variable's value it holds; a key the bundle lacks is a
    damaged checkpoint (a layer would silently lose a weight)."""
    found = {}
    for node_id, node in enumerate(graph.nodes):
        for attribute in node.attributes:
            if attribute.name != VALUE:
                continue
            if attribute.checkpoint_key not in specs:
                fault = (
                    f"its object graph names '{attribute.checkpoint_key}', which it does not hold"
                )
                raise BadInput(prefix, f"{fault}: a damaged checkpoint")
            found[node_id] = attribute.checkpoint_key
    return found


def _all_weights(layers: list[StoredLayer]):
    for layer in layers:
        yield from layer.weights
        yield from _all_weights(layer.sublayers or [])
