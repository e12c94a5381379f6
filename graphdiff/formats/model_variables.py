"""The variables of a Keras 3 model or a tf.Module, under the names a plan gives them.

Keras: a variable is named by its Keras path (`dense_1/kernel`: the layer's name, then the
weight's), the name `model.summary()` and the user's code use. A path is not unique on its
own (a layer built under another layer's name scope, a shared layer), so a name seen before
gets `~2`, `~3` in the order `save_weights` writes them. Why not the `.weights.h5` path
(`layers/dense_1/vars/0`): it counts layers by class and position, so a layer inserted
before another takes that layer's path — the very mix-up graphdiff is there to prevent — and
it tells a reviewer nothing about which layer it is. The h5 path is kept beside the name
(`stored_at`): it is where the value lives in the file. The variables are exactly those
`save_weights` writes, found by running Keras's own saving walk against a store that only
records what it is given.

tf.Module: object paths, as `tf.train.Checkpoint(model=module)` names them (`model/l1/w`):
the attribute names from the module down, breadth first, first path wins.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphdiff.tf_import import tensorflow

MODULE_ROOT = "model"  # the attribute under which a tf.Module is checkpointed


@dataclass(frozen=True)
class ModelVariable:
    name: str  # the plan's name
    variable: object  # keras.Variable or tf.Variable
    dtype: str
    shape: tuple[int, ...]
    stored_at: str  # h5 path (Keras) or object path (tf.Module)
    counted: bool = False  # its layer's name is one Keras made by counting (dense_1), not chosen
    within: str = ""  # the Keras models around its layer below the root (`efficientnetb0`)


def keras_variables(model) -> dict[str, ModelVariable]:
    """Plan name -> ModelVariable for every variable `model.save_weights` writes, in its order."""
    recorded = _saved_by_keras(model)
    counted = _counted_layers_variables(model)
    within = _models_around(model)
    seen: dict[str, int] = {}
    found = {}
    for h5_path, variable in recorded:
        path = variable.path
        seen[path] = seen.get(path, 0) + 1
        name = path if seen[path] == 1 else f"{path}~{seen[path]}"
        found[name] = ModelVariable(
            name,
            variable,
            _dtype(variable),
            _shape(variable),
            h5_path,
            id(variable) in counted,
            within.get(id(variable), ""),
        )
    return found


def _models_around(model) -> dict[int, str]:
    """Id of each variable -> the names of the models that hold its layer, below `model`
    (`efficientnetb0` for a keras.applications net wrapped in a model; "" at the root).
    A variable's path does not say it: Keras names a layer by where it was built."""
    import keras

    found: dict[int, str] = {}

    def visit(container, where: str) -> None:
        for layer in container._flatten_layers(include_self=False, recursive=False):
            if isinstance(layer, keras.Model):
                visit(layer, f"{where}/{layer.name}" if where else layer.name)
            else:
                for variable in layer.weights:
                    found.setdefault(id(variable), where)

    visit(model, "")
    return found


def _counted_layers_variables(model) -> set[int]:
    """Ids of the variables whose layer has the name Keras gives when none is: its class in
    snake case, numbered (`dense`, `dense_1`): a position among layers of its kind."""
    import re

    from keras.src.utils import naming

    found = set()
    for layer in model._flatten_layers(include_self=False):
        auto = re.escape(naming.to_snake_case(type(layer).__name__))
        if re.fullmatch(rf"{auto}(_\d+)?", layer.name):
            found.update(id(v) for v in layer._trainable_variables + layer._non_trainable_variables)
    return found


def _saved_by_keras(model) -> list[tuple[str, object]]:
    """(h5 path, variable) for what `save_weights` would write, by Keras's own walk."""
    import keras
    from keras.src.saving import saving_lib

    recorded: list[tuple[str, object]] = []

    class Recorder(saving_lib.H5IOStore):  # the walk insists on an H5IOStore
        def __init__(self):  # no file: nothing is written
            pass

        def __bool__(self):
            return True

        def make(self, path, metadata=None):
            return _Entry(path.strip("/"), recorded)

        def close(self):
            pass

    saving_lib._save_state(
        model, weights_store=Recorder(), assets_store=None, inner_path="", visited_saveables=set()
    )
    return [(path, value) for path, value in recorded if isinstance(value, keras.Variable)]


class _Entry(dict):
    def __init__(self, path: str, recorded: list):
        super().__init__()
        self._path, self._recorded = path, recorded

    def __setitem__(self, key, value):
        where = f"{self._path}/vars/{key}" if self._path else f"vars/{key}"
        self._recorded.append((where, value))


def module_variables(module, root: str = MODULE_ROOT) -> dict[str, ModelVariable]:
    """Plan name -> ModelVariable for every variable a checkpoint of `module` holds."""
    found = {}
    for path, variable in object_paths(module, root):
        found[path] = ModelVariable(path, variable, _dtype(variable), _shape(variable), path)
    return found


def object_paths(obj, root: str):
    """(object path, variable) breadth first from `obj` (named `root`), first path wins."""
    seen, queue = {id(obj)}, [(root, obj)]
    while queue:
        path, current = queue.pop(0)
        if is_variable(current):
            yield path, current
            continue
        for name, child in children(current).items():
            if id(child) not in seen:
                seen.add(id(child))
                queue.append((f"{path}/{name}" if path else name, child))


def children(obj) -> dict:
    """An object's children by name, as a checkpoint of it would record them."""
    getter = getattr(obj, "_trackable_children", None)
    if getter is None:
        return {}
    try:
        return dict(getter(save_type="checkpoint"))
    except TypeError:
        return dict(getter())


def is_variable(obj) -> bool:
    tf = tensorflow()
    if isinstance(obj, tf.Variable):
        return True
    import keras

    return isinstance(obj, keras.Variable)


def resource_handle(variable):
    """The resource tensor a trace captures for `variable` (Keras variables wrap a tf one)."""
    inner = getattr(variable, "_value", None)
    return inner.handle if inner is not None and hasattr(inner, "handle") else variable.handle


def _dtype(variable) -> str:
    dtype = variable.dtype
    return dtype if isinstance(dtype, str) else dtype.base_dtype.name


def _shape(variable) -> tuple[int, ...]:
    return tuple(int(d) for d in variable.shape)
