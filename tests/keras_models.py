"""Small real Keras 3 models for tests: model files written inline, weights saved for real.

`write_model(dir, body)` writes a `.py` defining `build_model()` (the body is its code, with
`keras`, `layers` and `tf` imported); `save_weights(model_py, path)` builds it with a fixed seed,
trains it one step (so no value is its initializer's) and saves a `.weights.h5`;
`save_tf2_checkpoint(model_py, prefix)` does the same into `tf.train.Checkpoint(model=...,
optimizer=...)`. `load_into(model_py, weights)` builds a model afresh and loads a file the way
a user would, failing on any warning Keras gives.
"""

from __future__ import annotations

import os
import runpy
import shutil
import textwrap
import warnings
from pathlib import Path

import h5py

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from graphdiff.formats.model_variables import keras_variables  # noqa: E402
from graphdiff.formats.python_model import eager_tensorflow  # noqa: E402

HEADER = """\
import keras
import tensorflow as tf
from keras import layers

"""


def write_model(directory: Path, body: str, name: str = "model.py") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(HEADER + textwrap.dedent(body))
    return path


def build(model_py: Path, seed: int = 0):
    eager_tensorflow()
    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    return runpy.run_path(str(model_py))["build_model"]()


def trained(model_py: Path, seed: int = 0):
    """The model, trained one step on random data (an optimizer state, values moved)."""
    import numpy as np
    import tensorflow as tf

    model = build(model_py, seed)
    if isinstance(model, tf.Module) and not hasattr(model, "fit"):
        return model, None
    model.compile(optimizer="adam", loss="mse", run_eagerly=True)  # TF1 tests ran in this process
    rng = np.random.default_rng(seed)
    inputs = [rng.normal(size=(4, *t.shape[1:])).astype("float32") for t in model.inputs]
    outputs = [rng.normal(size=(4, *t.shape[1:])).astype("float32") for t in model.outputs]
    model.fit(_one_or_list(inputs), _one_or_list(outputs), verbose=0)
    return model, model.optimizer


def _one_or_list(items: list):
    return items[0] if len(items) == 1 else items


def save_weights(model_py: Path, path: Path, seed: int = 0) -> dict[str, list]:
    """Save a trained model's `.weights.h5` at `path`; return its layer values."""
    model, _ = trained(model_py, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(str(path))
    return layer_values(model)


def save_tf2_checkpoint(model_py: Path, prefix: Path, seed: int = 0) -> dict[str, list]:
    """Write a trained model and its optimizer with tf.train.Checkpoint; return layer values."""
    import tensorflow as tf

    model, optimizer = trained(model_py, seed)
    objects = {"model": model} if optimizer is None else {"model": model, "optimizer": optimizer}
    tf.train.Checkpoint(**objects).write(str(prefix))
    return layer_values(model)


def load_into(model_py: Path, weights: Path):
    """A fresh model with `weights` loaded; AssertionError if Keras warns while loading."""
    model = build(model_py, seed=123)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.load_weights(str(weights))
    assert not caught, [str(w.message) for w in caught]
    return model


def layer_values(model) -> dict[str, list]:
    """Layer name -> its weights as numpy arrays, for every layer that has weights."""
    return {
        layer.name: [w.numpy() for w in layer.weights] for layer in model.layers if layer.weights
    }


def swapped_copy(weights: Path, target: Path, model_py: Path, first: str, second: str) -> Path:
    """A copy of `weights` with the values of variables `first` and `second` swapped: the
    corrupted output a bad copy or a wrong restore would leave."""
    shutil.copy(weights, target)
    paths = {name: v.stored_at for name, v in keras_variables(build(model_py)).items()}
    with h5py.File(target, "r+") as file:
        a, b = file[paths[first]][()], file[paths[second]][()]
        file[paths[first]][...], file[paths[second]][...] = b, a
    return target
