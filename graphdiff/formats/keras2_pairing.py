"""Pair what tf.keras 2 stored, layer by layer, with the variables of a Keras 3 model.

A tf.keras 2 file says, per layer of the model's layer list, which weights it holds: a legacy
`.h5` by layer name and weight name in creation order, a TF-format checkpoint by position
(`layer-N`) and attribute (`kernel`). Both readers give a list of `StoredLayer`s; `pair`
walks it beside the Keras 3 model's layers:

- layers: the file's own config rebuilt, by name (the names are the file's); a checkpoint,
  by position (`layer-N` is the N-th of the list); an `.h5` into the user's model, by order
  among the layers with weights, as Keras's loader does, and a stored name that names
  another of the model's layers is a Mismatch (the order is not the model's) unless both
  are automatic names (`dense_1`: the order the code made the layers in, not an identity);
  a nested model's layers pair the same way, one level down;
- weights of a paired layer: by their name in the layer (`kernel`, `query/kernel`), then by
  the last part of it where that is unique, then, where tf.keras 2 and Keras 3 name a weight
  differently (DepthwiseConv2D's `depthwise_kernel` is Keras 3's `kernel`), by shape where
  the weights left on both sides have one shape each. What differs is kept as a note.

Nothing is guessed: a layer whose weights differ in number or shape, or leave a doubt, is a
`Mismatch` naming it; the caller refuses the file (it was not saved from that model).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from graphdiff.loading import TensorSpec
from graphdiff.match.core import format_shape


@dataclass(frozen=True)
class StoredWeight:
    name: str  # its name in its layer, as tf.keras 2 named it: `kernel`, `query/kernel`
    key: str  # where its value is: an h5 dataset path, a checkpoint key
    spec: TensorSpec


@dataclass
class StoredLayer:
    label: str  # how a message names it: `'dense_1'` (h5) or `layer-3` (checkpoint)
    name: str | None  # the layer's name (h5), None when the file does not say (checkpoint)
    position: int | None  # its index in its model's layer list, when the file says
    weights: list[StoredWeight] = field(default_factory=list)
    sublayers: list[StoredLayer] | None = None  # a nested model's layers

    def has_weights(self) -> bool:
        return bool(self.weights) or any(s.has_weights() for s in self.sublayers or ())


class Mismatch(Exception):
    """The stored layers are not the model's; the message says where they part."""


@dataclass
class Pairing:
    keys: dict[int, str] = field(default_factory=dict)  # id(Keras 3 variable) -> stored key
    notes: dict[str, str] = field(default_factory=dict)  # stored key -> what differs
    unpaired: dict[str, str] = field(default_factory=dict)  # stored key -> why it is not
    strict: bool = True


def pair(
    stored: list[StoredLayer],
    model,
    renamed: dict[str, str] | None = None,
    strict: bool = True,
    own: StoredLayer | None = None,
) -> Pairing:
    """Pair every stored weight with a variable of the Keras 3 `model`.

    `renamed` maps a Keras 3 layer name to the file's, for layers renamed on the way in;
    `own`, the weights of the model itself (an .h5's `top_level_model_weights`).
    Strict (the model is the user's word for the file's architecture): any difference is a
    Mismatch. Not strict (the file's own config rebuilt by Keras 3): a layer whose weights
    differ is left out, its keys in `unpaired` with the reason, and the rest is paired.
    """
    pairing = Pairing(strict=strict)
    _pair_layers(stored, list(model.layers), renamed or {}, pairing, where="")
    if own is not None:
        try:
            pair_weights(own, _OwnWeights(model), own.label, pairing)
        except Mismatch as mismatch:
            if strict:
                raise
            for weight in own.weights:
                pairing.unpaired[weight.key] = f"the model's own weights do not pair: {mismatch}"
    return pairing


class _OwnWeights:
    """The variables a model made itself (`add_weight` on a subclassed model), not its
    layers', seen as a layer of their own: what `top_level_model_weights` holds."""

    def __init__(self, model):
        self.name = model.name
        self._trainable_variables = list(model._trainable_variables)
        self._non_trainable_variables = list(model._non_trainable_variables)
        self.weights = self._trainable_variables + self._non_trainable_variables


def _pair_layers(stored, live: list, renamed, pairing: Pairing, where: str) -> None:
    pairs, how = _layer_pairs(stored, live, renamed, where, pairing.strict)
    for old, new in pairs:
        label = f"{where}{old.label}"
        if old.sublayers is not None:
            if not hasattr(new, "layers"):
                raise Mismatch(f"{label} is a nested model; the model's '{new.name}' is a layer")
            _pair_layers(old.sublayers, list(new.layers), renamed, pairing, f"{label}/")
        elif hasattr(new, "layers"):  # an h5 group of a nested model: its layers' weights
            inner = _legacy_layer_order(new)
            _pair_layers(_split(old, inner, renamed), inner, renamed, pairing, f"{label}/")
        else:
            try:
                pair_weights(old, new, label, pairing)
            except Mismatch as mismatch:
                if pairing.strict:
                    raise
                for weight in old.weights:
                    pairing.unpaired[weight.key] = f"its layer does not pair: {mismatch}"
                continue
            for weight in old.weights if how else ():
                add_note(pairing, weight.key, how)


def add_note(pairing: Pairing, key: str, note: str) -> None:
    """Say `note` of the stored key `key` in the plan's reasons, after any said before."""
    before = pairing.notes.get(key)
    pairing.notes[key] = f"{before}; {note}" if before else note


def _split(group: StoredLayer, live: list, renamed) -> list[StoredLayer]:
    """A nested model's h5 group as its layers: weights named `dense_2/kernel` belong to
    `dense_2`, in the order the group lists them. A layer's name may hold a `/` itself
    (DenseNet's `conv1/conv/kernel`): the longest start of the weight's name that names a
    layer of the nested model (`/` read as Keras 3's `_`) is its layer's."""
    names = {renamed.get(layer.name, layer.name) for layer in live}
    names |= {layer.name for layer in live}
    layers: dict[str, StoredLayer] = {}
    for weight in group.weights:
        parts = weight.name.split("/")
        cut = next(
            (
                k
                for k in range(len(parts) - 1, 0, -1)
                if {"/".join(parts[:k]), "_".join(parts[:k])} & names
            ),
            1,
        )
        first, rest = "/".join(parts[:cut]), "/".join(parts[cut:])
        if not rest:
            raise Mismatch(f"{group.label} holds '{weight.name}', of no layer of its model")
        layer = layers.setdefault(first, StoredLayer(f"'{first}'", first, None))
        layer.weights.append(StoredWeight(rest, weight.key, weight.spec))
    return list(layers.values())


def _legacy_layer_order(model) -> list:
    """A nested model's layers that hold weights, in the order tf.keras 2 wrote their weights
    into its group (trainable weights first, then the others: Keras's `_legacy_weights`),
    nested models flattened, as their weights' names are."""
    owner = {}
    for layer in _leaves(model):
        for variable in layer.weights:
            owner[id(variable)] = layer
    order: dict[int, object] = {}
    for variable in [*model.trainable_weights, *model.non_trainable_weights]:
        layer = owner.get(id(variable))
        if layer is not None:
            order.setdefault(id(layer), layer)
    return list(order.values())


def _leaves(model) -> list:
    found = []
    for layer in model.layers:
        found.extend(_leaves(layer) if hasattr(layer, "layers") else [layer])
    return found


def _layer_pairs(stored: list[StoredLayer], live: list, renamed, where: str, strict: bool):
    with_weights = [s for s in stored if s.has_weights()]
    live_with = [layer for layer in live if layer.weights]
    by_name = {renamed.get(layer.name, layer.name): layer for layer in live_with}
    named = all(s.name is not None and s.name in by_name for s in with_weights)
    if not strict and with_weights and named and len(with_weights) == len(live_with):
        return [(s, by_name[s.name]) for s in with_weights], None  # the file's config rebuilt
    if all(s.position is not None for s in stored):
        try:
            return _by_position(stored, live, where), None
        except Mismatch as mismatch:
            if len(with_weights) != len(live_with):
                raise
            how = (
                "paired by its place among the layers with weights (layer_with_weights-N), "
                f"as the layer lists differ in layers without weights ({mismatch})"
            )
            return list(zip(with_weights, live_with, strict=True)), how
    if len(with_weights) != len(live_with):
        raise Mismatch(
            f"{where or 'the model'}: {len(with_weights)} layers with weights in the file, "
            f"{len(live_with)} in the model"
        )
    pairs = list(zip(with_weights, live_with, strict=True))
    _check_names_follow_order(pairs, by_name, where)
    return pairs, None


def _by_position(stored: list[StoredLayer], live: list, where: str) -> list:
    """`layer-N` with the N-th of the model's layers, when both lists have the same layers
    with weights in the same places."""
    if len(stored) != len(live):
        raise Mismatch(
            f"{where or 'the model'}: {len(stored)} layers in the file, {len(live)} in the model"
        )
    pairs = [(s, live[s.position]) for s in stored]
    for s, layer in pairs:
        if s.has_weights() != bool(layer.weights):
            has = "holds weights" if s.has_weights() else "holds none"
            raise Mismatch(f"{where}{s.label} {has}; the model's '{layer.name}' does not")
    return [(s, layer) for s, layer in pairs if s.has_weights()]


def _check_names_follow_order(pairs, by_name: dict, where: str) -> None:
    """Layers pair by their order among those with weights, as Keras's own loader pairs them;
    a stored name that names another of the model's layers says the order is not the
    model's: a Mismatch. Automatic names (`dense_1`) are exempt: they count layers in the
    order the code made them, which is not the order they are called in, so they are
    positions, not identities."""
    for stored, layer in pairs:
        name = stored.name or ""
        other = by_name.get(name) or by_name.get(name.replace("/", "_"))
        if other is None or other is layer:
            continue
        if _automatic(name, layer) and _automatic(layer.name, other):
            continue
        raise Mismatch(
            f"{where}{stored.label} is the model's '{other.name}' by name but '{layer.name}' "
            "by the order of the layers with weights: its layers are in another order"
        )


def _automatic(name: str, layer) -> bool:
    """Whether `name` is what Keras calls an unnamed layer of `layer`'s class (`dense_3`)."""
    from keras.src.utils.naming import to_snake_case

    base = to_snake_case(type(layer).__name__)
    return re.fullmatch(rf"{re.escape(base)}(_\d+)?", name) is not None


def pair_weights(old: StoredLayer, layer, label: str, pairing: Pairing) -> None:
    """Pair the stored layer's weights with the Keras 3 `layer`'s into `pairing`, or raise a
    Mismatch saying where they part (number, names that leave a doubt, shapes)."""
    live = _live_weights(layer)
    if len(live) != len(old.weights):
        raise Mismatch(
            f"{label} holds {len(old.weights)} weights ({_listed(old.weights)}); the model's "
            f"'{layer.name}' has {len(live)} ({', '.join(v.name for v in live)})"
        )
    left = list(old.weights)
    found: dict[str, _Live] = {}
    notes: dict[str, str] = {}
    for rule in (_same_name, _same_last_part, _same_shape):
        for weight, variable in rule(left, live):
            found[weight.key] = variable
            if rule is _same_shape:
                notes[weight.key] = (
                    f"tf.keras 2 named it '{weight.name}', Keras 3 '{variable.name}'"
                )
        left = [w for w in left if w.key not in found]
        taken = {id(v) for v in found.values()}
        live = [v for v in live if id(v) not in taken]
    if left:
        raise Mismatch(
            f"{label}: cannot tell which of the model's '{layer.name}' weights "
            f"({', '.join(v.name for v in live)}) hold {_listed(left)}"
        )
    for weight in old.weights:
        shape = found[weight.key].shape
        if tuple(weight.spec.shape) != shape:
            raise Mismatch(
                f"{label}/{weight.name} is {format_shape(weight.spec.shape)} in the file, "
                f"{format_shape(shape)} in the model's '{layer.name}'"
            )
    for weight in old.weights:
        pairing.keys[id(found[weight.key].variable)] = weight.key
    pairing.notes.update(notes)


def weights_signature(layer) -> tuple:
    """What pair_weights reads of `layer`: two layers of one signature pair alike."""
    return tuple((v.name, v.attribute_path, v.shape) for v in _live_weights(layer))


def _live_weights(layer) -> list[_Live]:
    attributes = _attribute_paths(layer)
    return [_Live(_name_in_layer(v, layer), attributes.get(id(v)), v) for v in layer.weights]


@dataclass(frozen=True)
class _Live:
    """A Keras 3 variable of the layer being paired, under the names it goes by there."""

    name: str  # its Keras path in the layer: `kernel`, `query/kernel`
    attribute_path: str | None  # the attributes leading to it: `_query_dense/kernel`
    variable: object

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.variable.shape)

    @property
    def last(self) -> str:
        return self.name.rsplit("/", 1)[-1]


def _same_name(left: list[StoredWeight], live: list[_Live]):
    """By the weight's name in its layer: its Keras path there (`query/kernel`) or the
    attributes that lead to it (`_query_dense/kernel`, as a TF-format checkpoint says)."""
    names: dict[str, _Live] = {}
    for candidate in live:
        names.setdefault(candidate.name, candidate)
        if candidate.attribute_path:
            names.setdefault(candidate.attribute_path, candidate)
    return [(w, names[w.name]) for w in left if w.name in names]


def _same_last_part(left: list[StoredWeight], live: list[_Live]):
    old_last = Counter(w.name.rsplit("/", 1)[-1] for w in left)
    new_last = Counter(v.last for v in live)
    by_last = {v.last: v for v in live}
    return [
        (w, by_last[last])
        for w in left
        if old_last[last := w.name.rsplit("/", 1)[-1]] == 1 and new_last[last] == 1
    ]


def _same_shape(left: list[StoredWeight], live: list[_Live]):
    """Only where as many are left on each side (a renamed weight, not a missing one)."""
    if len(left) != len(live):
        return []
    old_shapes = Counter(tuple(w.spec.shape) for w in left)
    new_shapes = Counter(v.shape for v in live)
    by_shape = {v.shape: v for v in live}
    return [
        (w, by_shape[shape])
        for w in left
        if old_shapes[shape := tuple(w.spec.shape)] == 1 and new_shapes[shape] == 1
    ]


def _name_in_layer(variable, layer) -> str:
    """`kernel` for `dense/kernel`, `query/kernel` for `multi_head_attention/query/kernel`."""
    path, prefix = variable.path, f"{layer.name}/"
    if path.startswith(prefix):
        return path[len(prefix) :]
    if f"/{prefix}" in path:
        return path.split(f"/{prefix}", 1)[1]
    return variable.name


def _attribute_paths(layer) -> dict[int, str]:
    """id(variable) -> the attributes that lead to it from `layer` (`cell/kernel`,
    `_query_dense/kernel`), its last part the variable's name: how tf.keras 2's object graph
    names a layer's weights, sublayers included."""
    import keras

    found: dict[int, str] = {}
    seen, queue = {id(layer)}, [(layer, "")]
    while queue:
        current, path = queue.pop(0)
        for variable in getattr(current, "_trainable_variables", []) + getattr(
            current, "_non_trainable_variables", []
        ):
            found.setdefault(id(variable), f"{path}{variable.name}")
        for attribute, value in vars(current).items():
            if isinstance(value, keras.layers.Layer) and id(value) not in seen:
                seen.add(id(value))
                queue.append((value, f"{path}{attribute}/"))
    return found


def _listed(weights: list[StoredWeight]) -> str:
    return ", ".join(w.name for w in weights)
