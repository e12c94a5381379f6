"""OLD as a legacy tf.keras 2 `.h5`: a whole model (`model.save("x.h5")`) or its weights
(`model.save_weights("x.h5")`), read with h5py and the JSON it carries, without tf.keras 2.

Both list the model's layers (`layer_names`) and, per layer, its weights in the order the
layer made them (`weight_names`), each under `<layer>/<weight name>` (`dense/dense/kernel:0`;
a whole model's under `model_weights/`). A whole model also has its architecture
(`model_config`, with `inbound_nodes`: the graph). The model the weights belong to is:

- `--old-model OLD.py` when given: the same architecture written with Keras 3; every weight
  of the file must pair with one of its variables (keras2_pairing.py) or the file is refused;
- otherwise the file's model_config rebuilt by Keras 3 (keras2_config.py, where why rebuild
  rather than draw the config is said); a layer Keras 3 rebuilds with other weights is left
  out and each of its keys is reported in the plan;
- a weights-only file has no config: `--old-model`, or `--same-architecture` when NEW is it.

That model is traced for the DAG (trace.py) and names the variables by their Keras 3 paths,
as for Keras 3 weights; `stored_as` keeps each one's h5 path. A whole model's optimizer
weights (`optimizer_weights/...`) are optimizer state. Weights of the model itself (a
subclassed model's `add_weight`), in `top_level_model_weights`, pair with the Keras 3 model's
own variables as a layer's weights do.
"""

from __future__ import annotations

import json
import re

from graphdiff.errors import BadInput
from graphdiff.formats.base import KERAS2_H5, Source
from graphdiff.formats.keras2_pairing import Mismatch, StoredLayer, StoredWeight, pair
from graphdiff.formats.keras2_source import keras2_source
from graphdiff.formats.python_model import KERAS, BuiltModel, build_model, keras_input_signature
from graphdiff.loading import TensorSpec
from graphdiff.roles import OPTIMIZER, Role

MODEL_WEIGHTS = "model_weights"
OPTIMIZER_WEIGHTS = "optimizer_weights"
TOP_LEVEL = "top_level_model_weights"
_SUFFIX = re.compile(r":\d+$")


def is_keras2_h5(path: str) -> bool:
    """True for a file tf.keras 2 wrote with save / save_weights (h5py opens it, and it has
    `layer_names` at its top or under `model_weights`); False for anything else."""
    import h5py

    try:
        with h5py.File(path, "r") as file:
            return MODEL_WEIGHTS in file or "layer_names" in file.attrs
    except (OSError, ValueError):
        return False


def keras2_h5_source(path: str, old_model: str | None) -> Source:
    """The Source for the tf.keras 2 `.h5` at `path` (the model from `old_model` if given)."""
    stored, own, specs, config, optimizer_keys = read_keras2_h5(path)
    renamed: dict[str, str] = {}
    if old_model is not None:
        built = build_model(old_model, "--old-model")
        if built.kind != KERAS:
            raise BadInput(old_model, "--old-model builds a tf.Module; this file is Keras's")
        try:
            pairing = pair(stored, built.model, own=own)
        except Mismatch as mismatch:
            raise BadInput(
                path, f"was not saved from the model {old_model} builds: {mismatch}"
            ) from None
    elif config is None:
        raise BadInput(
            path,
            "a tf.keras 2 weights file holds no model: give the .py that builds its "
            "architecture in Keras 3 with --old-model OLD.py, or --same-architecture when NEW "
            "builds it",
        )
    else:
        from graphdiff.formats.keras2_config import rebuild
        from graphdiff.formats.python_model import keras_module

        model, renamed = rebuild(config, path, keras_module(path))
        built = BuiltModel(model, KERAS, keras_input_signature(model), path)
        try:
            pairing = pair(stored, model, renamed, strict=False, own=own)
        except Mismatch as mismatch:
            fault = f"its weights do not fit its own model_config: {mismatch}"
            raise BadInput(path, fault) from None
    roles = {key: Role(OPTIMIZER) for key in optimizer_keys}
    return keras2_source(KERAS2_H5, path, built, pairing, specs, roles, old_model)


def read_keras2_h5(path: str):
    """(stored layers, the model's own weights or None, key -> spec, model_config or None,
    optimizer keys) of the file."""
    from graphdiff.formats.h5_values import H5Values

    values = H5Values(path, legacy=True)
    try:
        specs = values.specs()
        file = values.h5_file()
        whole = MODEL_WEIGHTS in file
        group = file[MODEL_WEIGHTS] if whole else file
        prefix = f"{MODEL_WEIGHTS}/" if whole else ""
        stored = _layers(path, group, prefix, specs)
        own = _own_weights(path, group, prefix, specs)
        config = _config(path, file) if whole else None
    finally:
        values.close()
    optimizer_keys = [k for k in specs if k.startswith(f"{OPTIMIZER_WEIGHTS}/")]
    return stored, own, specs, config, optimizer_keys


def _layers(path: str, group, prefix: str, specs: dict[str, TensorSpec]) -> list[StoredLayer]:
    layers = []
    for name in _strings(path, group.attrs, "layer_names"):
        if name not in group:
            raise BadInput(path, f"lists layer '{name}' but holds no group for it")
        layer = StoredLayer(f"'{name}'", name, None)
        for weight_name in _strings(path, group[name].attrs, "weight_names"):
            key = f"{prefix}{name}/{weight_name}"
            if key not in specs:
                fault = f"lists weight '{weight_name}' of layer '{name}' but holds no data for it"
                raise BadInput(path, fault)
            relative = _SUFFIX.sub("", weight_name)
            if relative.startswith(f"{name}/"):
                relative = relative[len(name) + 1 :]
            layer.weights.append(StoredWeight(relative, key, specs[key]))
        layers.append(layer)
    return layers


def _own_weights(path: str, group, prefix: str, specs) -> StoredLayer | None:
    """The weights of the model itself, not of a layer (a subclassed model's `add_weight`),
    which tf.keras 2 keeps in `top_level_model_weights`, in the model's order."""
    if TOP_LEVEL not in group or "weight_names" not in group[TOP_LEVEL].attrs:
        return None
    own = StoredLayer(TOP_LEVEL, None, None)
    for weight_name in _strings(path, group[TOP_LEVEL].attrs, "weight_names"):
        key = f"{prefix}{TOP_LEVEL}/{weight_name}"
        if key not in specs:
            fault = f"lists weight '{weight_name}' of the model itself but holds no data for it"
            raise BadInput(path, fault)
        own.weights.append(StoredWeight(_SUFFIX.sub("", weight_name), key, specs[key]))
    return own if own.weights else None


def _strings(path: str, attrs, name: str) -> list[str]:
    if name not in attrs:
        raise BadInput(path, f"not a tf.keras 2 .h5: no '{name}' attribute where Keras keeps it")
    values = attrs[name]
    try:
        return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]
    except (TypeError, UnicodeDecodeError):
        raise BadInput(path, f"its '{name}' attribute is not a list of names") from None


def _config(path: str, file) -> dict | None:
    text = file.attrs.get("model_config")
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("utf8", errors="replace")
    try:
        config = json.loads(text)
    except (TypeError, ValueError):
        raise BadInput(path, "its model_config is not JSON") from None
    if not isinstance(config, dict):
        raise BadInput(path, "its model_config is not a Keras model configuration")
    return config
