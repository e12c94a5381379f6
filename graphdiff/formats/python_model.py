"""Run a user's `.py` that defines `build_model()`, eagerly, and keep the model it returns.

`defines_build_model(path)` tells, without running anything, whether a `.py` is such a file
(a top-level `def build_model`) or a TF1 graph script: the two need opposite modes
(TensorFlow 1 graphs disable eager execution, Keras traces need it), so the kind is decided
before anything runs. `build_model(path)` runs the file with the TensorFlow backend for
Keras, eager execution on and Keras's global names reset (so `dense`, `dense_1` are the same
in every process), calls `build_model()` and returns what it built: a Keras 3 model (built)
or a tf.Module, with the input signature to trace it with. Every fault is a BadInput naming
the file.
"""

from __future__ import annotations

import ast
import os
import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path

from graphdiff import storage
from graphdiff.errors import BadInput
from graphdiff.messages import collected
from graphdiff.new_graph import _where
from graphdiff.tf_import import tensorflow

KERAS = "keras"
MODULE = "module"


@dataclass
class BuiltModel:
    model: object  # a keras.Model (built) or a tf.Module
    kind: str  # KERAS or MODULE
    signature: list | None  # tf.TensorSpec per positional input, or None when none is known
    file: str
    messages: list[str] = field(default_factory=list)


def defines_build_model(path: str | os.PathLike) -> bool:
    """True when the `.py` at `path` defines `build_model` at its top level (nothing is run)."""
    try:
        tree = ast.parse(Path(path).read_text(), filename=str(path))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return False  # running it will say what is wrong, in its own words
    return any(
        isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "build_model"
        for node in tree.body
    )


def eager_tensorflow():
    """TensorFlow with eager execution on (a TF1 graph built earlier may have turned it off).

    Keras is set to its TensorFlow backend, whatever KERAS_BACKEND says (it may well name the
    backend the user trains with): weights are the same on every backend, and graphdiff
    traces with TensorFlow.
    """
    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = "tensorflow"
    tf = tensorflow()
    if not tf.executing_eagerly():
        # TensorFlow refuses to turn eager execution back on once graph mode has used its
        # global default graph; graphdiff's TF1 side builds in graphs of its own, so that
        # graph holds nothing of ours and may go.
        tf.compat.v1.reset_default_graph()
        tf.compat.v1.enable_eager_execution()
    return tf


def keras_module(where):
    """`keras`, on the TensorFlow backend; BadInput naming `where` otherwise."""
    eager_tensorflow()
    try:
        import keras
    except ImportError:
        raise BadInput(where, "needs Keras 3: pip install keras") from None
    if keras.backend.backend() != "tensorflow":
        raise BadInput(
            where,
            f"Keras runs on the {keras.backend.backend()} backend here; graphdiff traces models "
            "with TensorFlow: set KERAS_BACKEND=tensorflow",
        )
    return keras


def build_model(path: str | os.PathLike, flag: str = "NEW") -> BuiltModel:
    """Run the `.py` at `path`, call its `build_model()`, and check what came back."""
    file = _local_file(path, flag)
    keras = keras_module(file)
    keras.backend.clear_session()  # auto names (dense, dense_1, ...) from zero, as in any process
    messages: list[str] = []
    namespace, model = _run(file, messages)
    kind = _kind_of(model, file)
    if kind == KERAS and not model.built:
        raise BadInput(
            file,
            "build_model() returned a Keras model that is not built (it has no weights yet): "
            "give it a keras.Input, or call it once on an example",
        )
    signature = _signature(namespace, model, kind, file)
    return BuiltModel(model, kind, signature, str(file), messages)


def _local_file(path, flag: str) -> Path:
    text = os.fspath(path)
    if storage.is_remote(text):
        raise BadInput(path, f"{flag}: a model's .py must be a local file")
    file = Path(text)
    if not file.is_file():
        raise BadInput(path, "no such file" if not file.exists() else "is not a file")
    if file.suffix != ".py":
        raise BadInput(path, f"{flag}: expected a .py that defines build_model()")
    return file


def _run(file: Path, messages: list[str]):
    directory = str(file.parent.resolve())
    sys.path.insert(0, directory)
    try:
        with collected(messages):
            namespace = runpy.run_path(str(file), run_name="__graphdiff_model__")
            build = namespace.get("build_model")
            if not callable(build):
                raise BadInput(file, "defines no build_model() function")
            return namespace, build()
    except BadInput:
        raise
    except SystemExit as error:
        raise BadInput(file, f"exited with status {error.code} while building the model") from None
    except Exception as error:  # the user's code may raise anything
        raise BadInput(file, f"raised {_where(error, file)}") from None
    finally:
        sys.path.remove(directory)


def _kind_of(model, file: Path) -> str:
    import keras

    tf = tensorflow()
    if isinstance(model, keras.Model):
        return KERAS
    if isinstance(model, keras.layers.Layer):
        raise BadInput(
            file, "build_model() returned a Keras layer, not a model: wrap it in keras.Model"
        )
    if isinstance(model, tf.Module):
        return MODULE
    raise BadInput(
        file,
        f"build_model() returned {type(model).__name__}; expected a Keras 3 model "
        "(keras.Model, Sequential or functional) or a tf.Module",
    )


def _signature(namespace: dict, model, kind: str, file: Path) -> list | None:
    """Input specs: the file's `input_signature()`, a Keras model's inputs, or a tf.function's."""
    tf = tensorflow()
    given = namespace.get("input_signature")
    if callable(given):
        try:
            specs = given()
        except Exception as error:
            raise BadInput(file, f"input_signature() raised {_where(error, file)}") from None
        specs = list(specs) if isinstance(specs, (list, tuple)) else [specs]
        if not all(isinstance(s, tf.TensorSpec) for s in tf.nest.flatten(specs)):
            raise BadInput(file, "input_signature() must return tf.TensorSpec objects")
        return specs
    if kind == KERAS:
        return keras_input_signature(model)
    declared = getattr(type(model).__call__, "input_signature", None)
    return list(declared) if declared else None


def keras_input_signature(model) -> list | None:
    """One spec structure for a Keras model's one call argument, nested as built; None when
    the model has no symbolic inputs (subclassed). A Sequential built by `build(shape)` or by
    a call has `inputs` but no `input` (Keras raises), so the flat list stands in for it."""
    tf = tensorflow()
    try:
        inputs = model.inputs
    except AttributeError:
        return None
    if not inputs:
        return None
    try:
        structure = model.input
    except AttributeError:
        structure = inputs[0] if len(inputs) == 1 else list(inputs)
    return [tf.nest.map_structure(_spec_of, structure)]


def _spec_of(keras_tensor):
    tf = tensorflow()
    name = getattr(keras_tensor, "name", None) or None
    return tf.TensorSpec(keras_tensor.shape, keras_tensor.dtype, name=name)
