"""A tf.keras 2 file's model in Keras 3, holding the file's weights as graphdiff reads them.

No Keras 3 model loads a tf.keras 2 `.h5` or TF-format checkpoint as it is, so `verify` (which
runs the model a plan came from) rebuilds it the way `plan` read the file: the Keras 3 model
of the plan's `--old-model` (or NEW, taken as it with `--same-architecture` or because the
checkpoint fit it), or a whole `.h5`'s own model_config rebuilt (keras2_config.py); then
each weight of the file paired with a variable (keras2_pairing.py, the pairing `plan` made)
and assigned to it. What the old side computes is thus graphdiff's reading of the file: a
pairing that put a weight into the wrong layer would be wrong on both sides, which is why the
pairing is tested against tf.keras 2's own outputs (tests/test_keras2.py).

`loaded_keras2(kind, path, model_file)` gives the BuiltModel; a file that does not fit the
model (another model's weights) is a BadInput naming it.
"""

from __future__ import annotations

from graphdiff.errors import BadInput
from graphdiff.formats.base import KERAS2_CHECKPOINT, KERAS2_H5
from graphdiff.formats.keras2_pairing import Mismatch, pair
from graphdiff.formats.python_model import KERAS, BuiltModel, build_model, keras_input_signature


def loaded_keras2(kind: str, path: str, model_file: str | None) -> BuiltModel:
    """The Keras 3 model of the tf.keras 2 file at `path`, its paired weights assigned."""
    if kind == KERAS2_H5:
        built, pairing = _h5_model(path, model_file)
    elif kind == KERAS2_CHECKPOINT and model_file is not None:
        built, pairing = _checkpoint_model(path, model_file)
    else:
        raise BadInput(path, "a tf.keras 2 checkpoint needs the .py of its model (--old-model)")
    _assign(built.model, pairing, kind, path)
    return built


def _h5_model(path: str, model_file: str | None):
    from graphdiff.formats.keras2_h5 import read_keras2_h5

    stored, own, _, config, _ = read_keras2_h5(path)
    if model_file is not None:
        built = _keras_model(model_file)
        return built, _paired(stored, built, path, model_file, own)
    if config is None:
        raise BadInput(path, "a tf.keras 2 weights file holds no model: give --old-model OLD.py")
    from graphdiff.formats.keras2_config import rebuild
    from graphdiff.formats.python_model import keras_module

    model, renamed = rebuild(config, path, keras_module(path))
    _last_axis_as_minus_one(model)
    built = BuiltModel(model, KERAS, keras_input_signature(model), path)
    try:
        return built, pair(stored, model, renamed, strict=False, own=own)
    except Mismatch as mismatch:
        raise BadInput(path, f"its weights do not fit its own model_config: {mismatch}") from None


def _last_axis_as_minus_one(model) -> None:
    """A rebuilt batch norm over the last axis says -1, as Keras 3 code does (tf.keras 2 wrote
    `[3]`): Keras 3 then broadcasts its parameters as they are instead of reshaping them to
    [1, 1, 1, C] first. The same multiplications and additions, bit for bit; but only the
    same ops are shared with the new model's batch norm, so the comparison goes on past it."""
    import keras

    for layer in model._flatten_layers(include_self=False):
        spec = getattr(layer, "input_spec", None)
        rank = getattr(spec, "ndim", None)
        is_norm = isinstance(layer, keras.layers.BatchNormalization)
        if is_norm and rank is not None and layer.axis == rank - 1:
            layer.axis = -1


def _checkpoint_model(prefix: str, model_file: str):
    from graphdiff.formats.keras2_checkpoint import checkpoint_layers, is_keras2_tree
    from graphdiff.formats.tf2_checkpoint import OBJECT_GRAPH_KEY, object_graph
    from graphdiff.loading import read_checkpoint_index

    specs = read_checkpoint_index(prefix)
    graph = object_graph(prefix)
    if graph is None or not is_keras2_tree(graph):
        raise BadInput(prefix, "not a tf.keras 2 checkpoint (no layer-N in its object graph)")
    specs.pop(OBJECT_GRAPH_KEY, None)
    stored, _ = checkpoint_layers(graph, specs, prefix)
    built = _keras_model(model_file)
    return built, _paired(stored, built, prefix, model_file)


def _keras_model(model_file: str) -> BuiltModel:
    built = build_model(model_file, "--old-model")
    if built.kind != KERAS:
        raise BadInput(model_file, "builds a tf.Module; a tf.keras 2 file comes from a Keras model")
    return built


def _paired(stored, built: BuiltModel, path: str, model_file: str, own=None):
    try:
        return pair(stored, built.model, own=own)
    except Mismatch as mismatch:
        fault = f"was not saved from the model {model_file} builds: {mismatch}"
        raise BadInput(path, fault) from None


def _assign(model, pairing, kind: str, path: str) -> None:
    """Each paired variable takes the stored value of its key, exactly (dtype and shape as
    stored: a value that does not fit is refused, never cast)."""
    from graphdiff.formats import open_values
    from graphdiff.formats.model_variables import keras_variables

    values = open_values(kind, path)
    try:
        for variable in keras_variables(model).values():
            key = pairing.keys.get(id(variable.variable))
            if key is None:
                continue
            value = values.array(key)
            if tuple(value.shape) != tuple(variable.shape) or value.dtype != variable.dtype:
                raise BadInput(
                    path,
                    f"'{key}' holds {value.dtype} {list(value.shape)}, its variable "
                    f"{variable.name} is {variable.dtype} {list(variable.shape)}",
                )
            variable.variable.assign(value)
    finally:
        close = getattr(values, "close", None)
        if close is not None:
            close()
