"""The format boundary: everything graphdiff knows of files lives below this package.

A *source* (OLD) is opened into a `Source` (base.py): a DAG whose variable nodes are named as
the plan will cite them, a variable table (name -> dtype, shape), the roles it knows, and where
each value is stored. A *target* (NEW) is opened into a `NewModel`: a DAG and a variable
table. The matcher and the plan see only these; apply reads values with `open_values` and
writes what the target loads natively (TF1: apply/executor.py; Keras / tf.Module: model_writer.py).

    OLD                                   how it is read                    values
    model.ckpt.meta (+ checkpoint)        tf1.meta_source                   tensor bundle
    a checkpoint prefix, name-based       tf1.checkpoint_source (no graph)  tensor bundle
    a checkpoint prefix, object-based     tf2_checkpoint.tf2_source         tensor bundle
    x.weights.h5 / x.keras                keras_source.keras_source         h5 (by h5 path)
    a SavedModel directory                saved_model.saved_model_source    tensor bundle
    a tf.keras 2 .h5 (whole or weights)   keras2_h5.keras2_h5_source        h5 (legacy layout)
    a tf.keras 2 save_weights("prefix")   keras2_checkpoint (layer-N tree)  tensor bundle

    NEW
    graph.py (TF1, build_graph) / .meta   tf1.tf1_new_model                 apply: apply/executor.py
    model.py with build_model()           model_target.model_new_model      apply: model_writer.py

A new format plugs in as one module that returns a Source (or a NewModel) and one branch in
`open_source` (or `open_new`); a new kind of stored values, as a reader with `specs()` and
`array(key)` in `open_values`.
"""

from __future__ import annotations

import os

from graphdiff import storage
from graphdiff.errors import BadInput
from graphdiff.formats.base import (
    H5_KINDS,
    KERAS2_H5,
    KERAS_ARCHIVE,
    KERAS_WEIGHTS,
    NewModel,
    Source,
)

__all__ = ["NewModel", "Source", "new_kind", "open_new", "open_source", "open_values"]


def open_source(
    old,
    *,
    checkpoint: str | None = None,
    old_model: str | None = None,
    new_model: str | None = None,
) -> Source:
    """OLD, whatever it is: a `.meta`, a checkpoint prefix, Keras weights, a SavedModel.

    `new_model`: NEW's `.py` when it builds a model; a tf.keras 2 checkpoint without
    `old_model` is tried against it (keras2_checkpoint.py), nothing else reads it.
    """
    text = os.fspath(old)
    if old_model is not None and not _takes_model(text):
        raise BadInput(
            "--old-model",
            f"is for Keras weights and object-based checkpoints; {text} carries its own graph",
        )
    if text.endswith(".meta"):
        from graphdiff.formats.tf1 import meta_source

        return meta_source(text, checkpoint)
    if checkpoint is not None:
        raise BadInput("--checkpoint", f"is for a .meta; {text} is where the values are")
    if text.endswith(".h5"):
        return _h5_source(text, old_model)
    if text.endswith(".keras"):
        from graphdiff.formats.keras_source import keras_source

        return keras_source(text, KERAS_ARCHIVE, old_model)
    if storage.isdir(text):
        return _directory_source(text, old_model, new_model)
    if _is_prefix(text):
        return _checkpoint_source(_prefix(text), old_model, new_model)
    if not storage.exists(text):
        raise BadInput(text, "no such file or checkpoint prefix")
    raise BadInput(
        text,
        "not a graph or checkpoint graphdiff reads: give a .meta, a checkpoint prefix, a "
        ".weights.h5 or .keras file, or a SavedModel directory",
    )


def _h5_source(path: str, old_model: str | None) -> Source:
    """Keras 3 weights (`layers/`, `vars/` at the top) or a tf.keras 2 `.h5` (`layer_names`)."""
    from graphdiff.formats.keras2_h5 import is_keras2_h5
    from graphdiff.formats.keras_source import keras_source

    if not storage.exists(path) or storage.isdir(path) or storage.is_remote(path):
        return keras_source(path, KERAS_WEIGHTS, old_model)  # it says what is wrong
    if is_keras2_h5(path):
        from graphdiff.formats.keras2_h5 import keras2_h5_source

        return keras2_h5_source(path, old_model)
    if not _is_keras3_weights(path):
        raise BadInput(
            path,
            "neither Keras 3 weights (.weights.h5) nor a tf.keras 2 .h5 (model.save or "
            "save_weights): no Keras weights in it",
        )
    return keras_source(path, KERAS_WEIGHTS, old_model)


def _is_keras3_weights(path: str) -> bool:
    """An HDF5 file with Keras 3's top groups; or not HDF5 at all (its reader says so)."""
    import h5py

    try:
        with h5py.File(path, "r") as file:
            return "layers" in file or "vars" in file
    except (OSError, ValueError):
        return True


def _takes_model(text: str) -> bool:
    """OLD is weights without a graph of their own: Keras, a checkpoint prefix, a directory."""
    if text.endswith(".meta"):
        return False
    return text.endswith((".h5", ".keras")) or _is_prefix(text) or storage.isdir(text)


def _directory_source(directory: str, old_model: str | None, new_model: str | None) -> Source:
    """A SavedModel directory, or a directory of checkpoints (its latest one)."""
    if storage.exists(storage.join(directory, "saved_model.pb")):
        from graphdiff.formats.saved_model import saved_model_source

        return saved_model_source(directory)
    from graphdiff.tf_import import tensorflow

    latest = tensorflow().train.latest_checkpoint(directory)
    if latest is None or not _is_prefix(latest):
        raise BadInput(
            directory, "a directory with neither a saved_model.pb nor a checkpoint state file"
        )
    return _checkpoint_source(latest, old_model, new_model)


def _is_prefix(text: str) -> bool:
    return storage.exists(_prefix(text) + ".index")


def _prefix(text: str) -> str:
    return text[: -len(".index")] if text.endswith(".index") else text


def _checkpoint_source(prefix: str, old_model: str | None, new_model: str | None) -> Source:
    from graphdiff.formats.tf1 import checkpoint_source
    from graphdiff.formats.tf2_checkpoint import OBJECT_GRAPH_KEY, object_graph, tf2_source
    from graphdiff.loading import read_checkpoint_index

    specs = read_checkpoint_index(prefix)
    graph = object_graph(prefix) if OBJECT_GRAPH_KEY in specs else None
    if graph is None:
        if old_model is not None:
            raise BadInput(
                prefix,
                "a name-based checkpoint (no object graph): --old-model cannot be matched to "
                "it; give its .meta instead, or plan from the checkpoint's names alone",
            )
        return checkpoint_source(prefix, specs)
    specs.pop(OBJECT_GRAPH_KEY)
    from graphdiff.formats.keras2_checkpoint import is_keras2_tree, keras2_checkpoint_source

    if is_keras2_tree(graph):
        return keras2_checkpoint_source(prefix, specs, graph, old_model, new_model)
    return tf2_source(prefix, specs, old_model, graph)


def new_kind(new) -> str:
    """ "meta", "python" (a TF1 graph), or "model" (build_model(): Keras or tf.Module)."""
    text = os.fspath(new)
    if text.endswith(".py") and not storage.is_remote(text):
        from graphdiff.formats.python_model import defines_build_model

        return "model" if defines_build_model(text) else "python"
    return "meta" if text.endswith(".meta") else "python"


def open_new(new, shape_for) -> NewModel:
    """NEW: a TF1 graph (`.py` or `.meta`), or a `.py` whose build_model() makes the model."""
    if new_kind(new) == "model":
        from graphdiff.formats.model_target import model_new_model

        return model_new_model(os.fspath(new))
    from graphdiff.formats.tf1 import tf1_new_model

    return tf1_new_model(new, shape_for)


def open_values(kind: str, path: str):
    """A reader of the stored values (`specs()`, `array(key)`; bundles also read raw bytes)."""
    if kind in H5_KINDS:
        from graphdiff.formats.h5_values import H5Values

        return H5Values(path, legacy=kind == KERAS2_H5)
    from graphdiff.bundle.reader import BundleReader

    return BundleReader(path)
