"""Keras 3 models and tf.Modules as verify runs them: built, loaded as a user loads, traced.

`new_side(plan, applied)` builds the new model from its `build_model()` and loads the applied
file the way a user would: `model.load_weights(path)` (a Keras warning is a refusal) or
`tf.train.Checkpoint(model=module).read(prefix)`. `old_side(plan)` builds the model the plan
came from and loads the plan's source with Keras's or TensorFlow's own loader, not through
the plan's own reading of it: a `.weights.h5` into the `--old-model`'s model (`load_weights`),
a `.keras` archive (`load_model`, or `load_weights` into the `--old-model`'s), an object-based
checkpoint into the `--old-model`'s model under the object that holds it
(`tf.train.Checkpoint(...).read`).

Either way the model is traced as the matcher traces it (formats/trace.py, `training=False`)
and becomes a Side: the traced graph with variables under the plan's names (to number), the
same graph run as a function whose captures are the loaded model's own variables (nothing is
copied: they hold what the file put there), and the model's outputs by name (a dict's keys, a
Keras model's output names).
"""

from __future__ import annotations

import contextlib

import numpy as np

from graphdiff.errors import BadInput
from graphdiff.formats.base import (
    KERAS2_CHECKPOINT,
    KERAS2_H5,
    KERAS_ARCHIVE,
    KERAS_WEIGHTS,
    NEW_KERAS,
)
from graphdiff.formats.model_target import built_target
from graphdiff.formats.model_variables import MODULE_ROOT, keras_variables, module_variables
from graphdiff.formats.python_model import KERAS, BuiltModel, build_model, eager_tensorflow
from graphdiff.formats.trace import trace_model, traced_graph
from graphdiff.messages import collected
from graphdiff.plan import Plan
from graphdiff.tf_import import tensorflow
from graphdiff.verify.sessions import first_line
from graphdiff.verify.sides import Side
from graphdiff.verify.values import view_of


class ModelValues:
    """The values a loaded model holds, by the plan's names (`array(name)`), read on demand."""

    def __init__(self, variables: dict):
        self._variables = variables  # plan name -> ModelVariable

    def array(self, name: str) -> np.ndarray:
        return np.asarray(self._variables[name].variable.numpy())


class FunctionRunner:
    """Runs a traced graph as a function whose captures are the loaded model's own variables
    (and values): `graph_def` imported into a `wrap_function` with its captured placeholders
    mapped to them, so that no value is copied; one function per group of fetches."""

    def __init__(self, graph_def, captures: dict, label: str):
        self.graph_def, self.captures, self.label = graph_def, captures, label

    def __call__(self, groups: list[tuple[list[str], dict]]) -> list[list]:
        return [self._run(fetches, feeds) if fetches else [] for fetches, feeds in groups]

    def _run(self, fetches: list[str], feeds: dict) -> list:
        tf = eager_tensorflow()  # a TF1 graph built since (the other side's) may have ended it
        arrays = {name: np.asarray(value) for name, value in feeds.items()}
        needed = fetched_subgraph(self.graph_def, fetches, arrays)
        present = {node.name for node in needed.node}
        names = [name for name in feeds if name.rsplit(":", 1)[0] in present]
        arrays = [arrays[name] for name in names]
        captures = {name: value for name, value in self.captures.items() if name in present}

        def body(*args):
            graph = tf.compat.v1.get_default_graph()
            mapping = {f"{name}:0": graph.capture(value) for name, value in captures.items()}
            mapping.update(zip(names, args, strict=True))
            return tf.graph_util.import_graph_def(
                needed, input_map=mapping, return_elements=fetches, name=""
            )

        specs = [
            tf.TensorSpec(a.shape, tf.string if a.dtype.kind in "OSU" else tf.as_dtype(a.dtype))
            for a in arrays
        ]
        try:
            with _ops_as_written(tf):
                function = tf.compat.v1.wrap_function(body, specs)
                return [np.asarray(value) for value in function(*arrays)]
        except tf.errors.OpError as error:
            raise BadInput(
                self.label,
                f"its graph fails on the inputs verify gives it: {first_line(error)}; "
                "give inputs with --feed NAME=FILE.npy",
            ) from None


def fetched_subgraph(graph_def, fetches: list[str], feeds: dict):
    """What computes `fetches` from `feeds` (tensor name -> array): the ops upstream of the
    fetches, not walking past a fed tensor, and a placeholder for each fed tensor whose op is
    not needed otherwise (a cut fed the old model's value leaves the ops before it out: with no
    optimizer to prune them, an input they read would have to be fed)."""
    tf = tensorflow()
    nodes = {node.name: node for node in graph_def.node}
    fed = set(feeds)
    keep, stack = set(), [name.rsplit(":", 1)[0] for name in fetches]
    while stack:
        name = stack.pop()
        if name in keep:
            continue
        keep.add(name)
        for text in nodes[name].input:
            control = text.startswith("^")
            op = text.lstrip("^").split(":")[0]
            tensor = text if ":" in text else f"{text}:0"
            if control or tensor not in fed:
                stack.append(op)
    subgraph = tf.compat.v1.GraphDef()
    subgraph.versions.CopyFrom(graph_def.versions)
    subgraph.library.CopyFrom(graph_def.library)
    subgraph.node.extend(node for node in graph_def.node if node.name in keep)
    for tensor, array in feeds.items():
        op, port = tensor.rsplit(":", 1)
        if op in keep or op not in nodes:
            continue
        if port != "0":  # the op's other outputs are read: keep it and what it reads
            return tf.compat.v1.graph_util.extract_sub_graph(graph_def, list(keep | {op}))
        placeholder = subgraph.node.add(name=op, op="Placeholder")
        dtype = tf.string if array.dtype.kind in "OSU" else tf.as_dtype(array.dtype)
        placeholder.attr["dtype"].type = dtype.as_datatype_enum
    return subgraph


@contextlib.contextmanager
def _ops_as_written(tf):
    """Grappler off while a function is made and first run: each op runs as traced, so that
    the same ops give the same bits on both sides (an optimizer may fuse a convolution with
    its bias and activation on one side and not on the other, where a fetched tensor or a cut
    breaks the pattern), and no time goes into optimizing a graph run once."""
    options = tf.config.optimizer
    before = options.get_experimental_options().get("disable_meta_optimizer", False)
    options.set_experimental_options({"disable_meta_optimizer": True})
    try:
        yield
    finally:
        options.set_experimental_options({"disable_meta_optimizer": before})


def new_side(plan: Plan, applied: str, where: str) -> Side:
    """The new model with the applied file loaded into it, as a user loads it."""
    from graphdiff.formats.model_writer import check_model

    file = plan.provenance.new_graph.path
    target = built_target(file)
    check_model(plan, target, where)
    if plan.provenance.new_graph_kind == NEW_KERAS:
        _load_weights(target.built.model, applied, file)
    else:
        _read_checkpoint({MODULE_ROOT: target.built.model}, applied, file)
    return _side(target.built, target.variables, file, applied)


def old_side(plan: Plan) -> Side:
    """The model the plan's source was saved from, with the source loaded into it."""
    provenance = plan.provenance
    source = provenance.checkpoint_prefix
    old_model = provenance.old_model.path if provenance.old_model else None
    if provenance.old_kind == KERAS_ARCHIVE and old_model is None:
        from graphdiff.formats.keras_source import model_of_archive

        built = model_of_archive(source)  # load_model: the archive's weights are in it
        return _side(built, keras_variables(built.model), source, source)
    if provenance.old_kind in (KERAS2_H5, KERAS2_CHECKPOINT):
        from graphdiff.formats.keras2_loaded import loaded_keras2

        built = loaded_keras2(provenance.old_kind, source, old_model)  # as plan paired it
        return _side(built, keras_variables(built.model), old_model or source, source)
    built = build_model(old_model, "--old-model")
    if provenance.old_kind in (KERAS_WEIGHTS, KERAS_ARCHIVE):
        _load_weights(built.model, source, old_model)
        return _side(built, keras_variables(built.model), old_model, source)
    from graphdiff.formats.tf2_checkpoint import model_root

    root = model_root(source, built.model, old_model)
    if built.kind == KERAS:
        variables = keras_variables(built.model)
    else:
        variables = module_variables(built.model, root)
    _read_checkpoint({root or "root": built.model}, source, old_model)
    return _side(built, variables, old_model, source)


def _load_weights(model, path: str, model_file: str) -> None:
    heard: list[str] = []
    try:
        with collected(heard):
            model.load_weights(path)
    except Exception as error:  # Keras raises many kinds for a file of another model
        raise BadInput(
            path, f"load_weights into the model of {model_file} fails: {first_line(error)}"
        ) from None
    if heard:
        raise BadInput(path, f"load_weights into the model of {model_file} warns: {heard[0]}")


def _read_checkpoint(objects: dict, prefix: str, model_file: str) -> None:
    tf = tensorflow()
    try:
        status = tf.train.Checkpoint(**objects).read(prefix)
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as error:
        raise BadInput(
            prefix, f"does not restore the model of {model_file}: {first_line(error)}"
        ) from None
    status.expect_partial()  # an optimizer's state may be there too: not the model's


def _side(built: BuiltModel, variables: dict, label: str, checkpoint: str) -> Side:
    """Trace the loaded model; the Side that numbers and runs its forward pass."""
    concrete = trace_model(built)
    traced = traced_graph(concrete, variables)
    externals = {internal.op.name: external for external, internal in concrete.graph.captures}
    return Side(
        label=str(label),
        view=view_of(_with_captured_values(traced, externals)),
        graph=concrete.graph if not traced.inlined else _imported(traced.flat),
        run=FunctionRunner(traced.flat, externals, str(label)),
        values=ModelValues(variables),
        checkpoint=str(checkpoint),
        run_names={new: old for old, new in traced.renamed.items()},
        outputs=_outputs(built, concrete, traced.renamed),
    )


def _with_captured_values(traced, externals: dict):
    """The named GraphDef, each captured value (not a resource) a constant holding it: a
    constant compares by value, as in a TF1 graph."""
    tf = tensorflow()
    original = {new: old for old, new in traced.renamed.items()}
    graph_def = tf.compat.v1.GraphDef()
    graph_def.CopyFrom(traced.named)
    for node in graph_def.node:
        external = externals.get(original.get(node.name, node.name))
        if external is not None and external.dtype != tf.resource:
            node.op = "Const"
            node.attr.clear()
            node.attr["dtype"].type = external.dtype.as_datatype_enum
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(external.numpy()))
    return graph_def


def _imported(graph_def):
    """A tf.Graph holding `graph_def` (calls inlined), for its static shapes and dtypes."""
    tf = tensorflow()
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    return graph


def _outputs(built: BuiltModel, concrete, renamed: dict) -> dict[str, str]:
    """The model's outputs by name: a dict's keys (joined paths), a Keras model's output names,
    else their places (`0`, `1`), or `output` for a single one."""
    tf = tensorflow()
    from tensorflow.python.util import nest

    pairs = nest.flatten_with_joined_string_paths(concrete.structured_outputs)
    tensors = [tensor for _, tensor in pairs if isinstance(tensor, tf.Tensor)]
    names = [path for path, tensor in pairs if isinstance(tensor, tf.Tensor)]
    keras_names = list(getattr(built.model, "output_names", None) or ())
    is_dict = isinstance(concrete.structured_outputs, dict)
    if built.kind == KERAS and not is_dict and len(keras_names) == len(tensors):
        names = keras_names
    elif len(tensors) == 1 and names == [""]:
        names = ["output"]
    outputs = {}
    for name, tensor in zip(names, tensors, strict=True):
        op = renamed.get(tensor.op.name, tensor.op.name)
        outputs.setdefault(name, f"{op}:{tensor.value_index}")
    return outputs
