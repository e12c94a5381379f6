"""Rebuild, in Keras 3, the model a tf.keras 2 whole-model `.h5` describes in its model_config.

Why rebuild and trace rather than draw a DAG from the config (layers as nodes): the new side
is a traced Keras 3 model, and the matcher is only as good as the likeness of the two graphs.
A rebuilt old model is traced by the same code as the new one, so the op walk meets the same
ops, activations and normalizations on both sides, layer names survive (the config carries
them), and nothing here has to know what a layer computes. A config-level DAG would work
where Keras 3 cannot rebuild, but its nodes would be layer classes facing TF ops: the op walk
would stop at once and only the coarse layer alignment would be left. Where Keras 3 cannot
rebuild the config, `--old-model OLD.py` (the architecture written in Keras 3) is the way, and
the message says so.

Keras 3 reads most tf.keras 2 configs (its legacy loader); `keras3_config` first rewrites the
few differences known to stop it, each of which leaves the forward pass as it was:
- a layer name with `/` (DenseNet's `conv1/conv`): Keras 3 refuses it; `/` becomes `_`, and
  `renamed` maps the Keras 3 name back to the file's;
- a config key the Keras 3 class does not take, when it only initializes, regularizes or
  constrains (SeparableConv2D's `kernel_initializer`), only builds (MultiHeadAttention's
  `query_shape`), only draws training's randomness (`rng_type`), or has its neutral value
  (DepthwiseConv2D's `groups: 1`, an RNN's `time_major: false`); any other key is left for
  Keras 3 to refuse, and the message names the layer and the key;
- BatchNormalization's `axis` as a one-item list (`[3]`, as tf.keras 2 writes a built
  layer's): Keras 3 takes the int;
- a nested model's node indices: tf.keras 2 numbers a nested model's calls from 1 (node 0 is
  the one its own construction made, `_should_skip_first_node`), Keras 3 from 0.
"""

from __future__ import annotations

import copy
import inspect
import re
import warnings

from graphdiff.errors import BadInput

MODEL_CLASSES = frozenset({"Functional", "Model", "Sequential"})
_NO_EFFECT_ON_OUTPUTS = re.compile(
    r".*_(initializer|regularizer|constraint)"  # how weights start or are held in training
    r"|(query|key|value)_shape"  # MultiHeadAttention's build shapes: Keras 3 builds on call
    r"|rng_type"  # the random generator of augmentation layers, identity at inference
)
_NEUTRAL = {"groups": 1, "time_major": False, "softmax_robust_masking": False}
# Keras 3's legacy loader turns a config's text that names a function of keras.layers into
# that function (Attention's `score_mode: "dot"` became keras.layers.dot, which Attention
# refuses); naming each such text as itself keeps it text.
_KEPT_AS_TEXT = {
    name: name
    for name in ("add", "average", "concatenate", "dot", "maximum", "minimum", "multiply")
}


def rebuild(config: dict, path: str, keras):
    """The Keras 3 model of a tf.keras 2 `model_config`, and Keras 3 name -> file's layer name
    for the layers renamed on the way. BadInput naming `path` when Keras 3 cannot build it."""
    from keras.src.legacy.saving import saving_options, saving_utils
    from keras.src.saving import serialization_lib

    translated, renamed = keras3_config(config, path, keras)
    keras.backend.clear_session()
    try:
        legacy = saving_options.keras_option_scope(use_legacy_config=True)
        with legacy, serialization_lib.SafeModeScope(True), warnings.catch_warnings():
            # Keras's advice on how to write the layers (an Embedding given the input shape
            # tf.keras 2 kept in its config) is about the file, not the user's code: not shown
            warnings.simplefilter("ignore")
            model = saving_utils.model_from_config(translated, custom_objects=_KEPT_AS_TEXT)
    except Exception as error:  # an unknown layer class, a Lambda's bytecode, a bad config
        raise BadInput(
            path,
            f"Keras 3 cannot rebuild its model_config ({_first_line(error)}); give the .py "
            "that builds the same architecture in Keras 3 with --old-model OLD.py",
        ) from None
    if not isinstance(model, keras.Model):
        raise BadInput(path, "its model_config describes a layer, not a model")
    if not model.built:
        raise BadInput(
            path,
            "its model_config gives no input shape, so Keras 3 cannot build it; give the .py "
            "that builds it with --old-model OLD.py",
        )
    return model, renamed


def keras3_config(config: dict, path: str, keras) -> tuple[dict, dict[str, str]]:
    """A copy of `config` with the known tf.keras 2 -> Keras 3 differences rewritten."""
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise BadInput(path, "its model_config is not a Keras model configuration")
    config = copy.deepcopy(config)
    renamed: dict[str, str] = {}
    _translate(config, path, keras, renamed)
    return config, renamed


def _translate(entry: dict, path: str, keras, renamed: dict[str, str]) -> None:
    body = entry.get("config")
    if not isinstance(body, dict):
        return
    cls = entry.get("class_name")
    if cls in MODEL_CLASSES:
        layers = body.get("layers")
        if isinstance(layers, list):
            _renumber_nested_nodes(body)
            for layer in layers:
                if isinstance(layer, dict):
                    _rename(layer, renamed)
                    _translate(layer, path, keras, renamed)
            _rename_references(body)
            _tensor_keyword_arguments(body)
            _one_input_or_output_unlisted(body)
        return
    for value in body.values():  # a wrapper's layer (Bidirectional, TimeDistributed)
        if isinstance(value, dict) and "class_name" in value:
            _translate(value, path, keras, renamed)
    if cls == "MultiHeadAttention":
        _attention_build_shapes(entry)
    _drop_unknown_keys(cls, body, path, keras)
    if cls == "BatchNormalization":
        axis = body.get("axis")
        if isinstance(axis, list) and len(axis) == 1 and type(axis[0]) is int:
            body["axis"] = axis[0]


def _attention_build_shapes(entry: dict) -> None:
    """tf.keras 2 keeps MultiHeadAttention's input shapes in its config and a build_config of
    the query's shape alone, which Keras 3's build (query, value, key) cannot take; Keras 3
    keeps them as the build_config's shapes."""
    body = entry["config"]
    shapes = {k: body.get(k) for k in ("query_shape", "value_shape", "key_shape")}
    if shapes["query_shape"] is not None and shapes["value_shape"] is not None:
        entry["build_config"] = {"shapes_dict": shapes}


def _rename(layer: dict, renamed: dict[str, str]) -> None:
    name = layer.get("name")
    if isinstance(name, str) and "/" in name:
        new = name.replace("/", "_")
        renamed[new] = name
        layer["name"] = new
        if isinstance(layer.get("config"), dict):
            layer["config"]["name"] = new


def _rename_references(body: dict) -> None:
    def fix(value):
        if isinstance(value, list):
            if _is_reference(value):
                return [value[0].replace("/", "_"), *[fix(v) for v in value[1:]]]
            return [fix(v) for v in value]
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        return value

    for layer in body.get("layers", []):
        if isinstance(layer, dict) and "inbound_nodes" in layer:
            layer["inbound_nodes"] = fix(layer["inbound_nodes"])
    for key in ("input_layers", "output_layers"):
        if key in body:
            body[key] = fix(body[key])


def _renumber_nested_nodes(body: dict) -> None:
    """References to a nested model's node k become k-1 when tf.keras 2 skipped its node 0:
    the model is called in this config, and no reference uses node 0."""
    layers = [layer for layer in body.get("layers", []) if isinstance(layer, dict)]
    nested = {layer.get("name") for layer in layers if layer.get("class_name") in MODEL_CLASSES}
    references: dict[str, list[list]] = {}

    def collect(value):
        if isinstance(value, list):
            if _is_reference(value) and value[0] in nested:
                references.setdefault(value[0], []).append(value)
            for item in value:
                collect(item)
        elif isinstance(value, dict):
            for item in value.values():
                collect(item)

    for layer in layers:
        collect(layer.get("inbound_nodes"))
    collect(body.get("output_layers"))
    for refs in references.values():
        if refs and all(ref[1] >= 1 for ref in refs):
            for ref in refs:
                ref[1] -= 1


def _one_input_or_output_unlisted(body: dict) -> None:
    """tf.keras 2 lists a single input or output (`[["out_relu", 0, 0]]`) and returns it
    alone; Keras 3 keeps the list, and a nested model's output reached its next layer as a
    list of one (`GlobalAveragePooling2D` then gave two tensors)."""
    for key in ("input_layers", "output_layers"):
        value = body.get(key)
        single = isinstance(value, list) and len(value) == 1 and isinstance(value[0], list)
        if single and _is_reference(value[0]):
            body[key] = value[0]


def _tensor_keyword_arguments(body: dict) -> None:
    """A call given a tensor by keyword (MultiHeadAttention's `value=`) as Keras 3 writes it:
    Keras 3 reads tf.keras 2's form (`[layer, node, tensor, {"value": [layer, node,
    tensor]}]`) but passes the keyword's reference on as a list, not the tensor."""
    names = {layer.get("name") for layer in body.get("layers", []) if isinstance(layer, dict)}
    for layer in body.get("layers", []):
        nodes = layer.get("inbound_nodes") if isinstance(layer, dict) else None
        for index, node in enumerate(nodes if isinstance(nodes, list) else []):
            calls = node if isinstance(node, list) else []
            if not calls or not all(isinstance(c, list) and len(c) == 4 for c in calls):
                continue
            keywords = _tensors_in(calls[-1][3], names)
            if keywords != calls[-1][3]:
                inputs = [_keras_tensor(call) for call in calls]
                nodes[index] = {
                    "args": [inputs[0] if len(inputs) == 1 else inputs],
                    "kwargs": keywords,
                }


def _tensors_in(value, names: set):
    """`value` with each reference to a layer of `names` as a serialized Keras tensor."""
    if isinstance(value, list):
        if _is_reference(value) and value[0] in names:
            return _keras_tensor(value)
        return [_tensors_in(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _tensors_in(v, names) for k, v in value.items()}
    return value


def _keras_tensor(reference: list) -> dict:
    """Keras 3's form of a call's input; the shape and dtype are placeholders, the tensor is
    found by its history (layer, node, tensor) when the model is rebuilt."""
    history = [reference[0], reference[1], reference[2]]
    return {
        "class_name": "__keras_tensor__",
        "config": {"shape": [], "dtype": "float32", "keras_history": history},
    }


def _is_reference(value: list) -> bool:
    """`[layer name, node index, tensor index, kwargs]`: a call's input in a config."""
    return len(value) >= 3 and isinstance(value[0], str) and type(value[1]) is int


def _drop_unknown_keys(cls, body: dict, path: str, keras) -> None:
    target = getattr(keras.layers, cls, None) if isinstance(cls, str) else None
    if target is None:
        return  # an unknown class: Keras 3 says so when it builds
    try:
        parameters = inspect.signature(target.__init__).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        accepted = _base_layer_keys(parameters)
    else:
        accepted = set(parameters)
    for key in [k for k in body if k not in accepted]:
        if _NO_EFFECT_ON_OUTPUTS.fullmatch(key) or _NEUTRAL.get(key, object()) == body[key]:
            del body[key]


def _base_layer_keys(parameters) -> set[str]:
    """Keys a layer taking **kwargs passes on to keras.layers.Layer, and its own."""
    base = {"name", "trainable", "dtype", "autocast", "input_shape", "batch_input_shape"}
    base |= {"batch_size", "input_dim", "activity_regularizer", "input_length"}
    return set(parameters) | base


def _first_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    text = next((line for line in lines if line.startswith("Exception encountered")), None)
    text = text or (lines[0] if lines else type(error).__name__)
    return text[:300]
