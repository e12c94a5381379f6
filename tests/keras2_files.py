"""tf.keras 2 files for tests, and the same architectures written with Keras 3.

`Keras2Files(directory)` writes every model of keras2_writer.py with tf.keras 2 itself, once,
in a subprocess (tf_keras must not share the tests' process with Keras 3); `files.path(model,
kind)` is then a whole-model `.h5`, a weights `.h5` or a TF-format checkpoint prefix, and
`files.expected(model)` the input and tf.keras 2's output on it. KERAS3 holds the Keras 3
`build_model()` bodies of the same architectures (keras_models.write_model writes them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import run_python

WRITER = Path(__file__).with_name("keras2_writer.py")
KINDS = {
    "whole": "whole.h5",
    "weights": "weights.h5",
    "checkpoint": "ckpt/model",
    "train_checkpoint": "tfckpt/ckpt",  # tf.train.Checkpoint(model=..., optimizer=...)
}


class Keras2Files:
    def __init__(self, directory: Path, models: tuple[str, ...] = ()):
        """`models`: keras2_writer.py's names to write (all of its MODELS when none)."""
        self.directory = directory
        result = run_python(WRITER, directory, *models, timeout=900)
        assert result.returncode == 0, f"keras2_writer.py failed:\n{result.stderr[-3000:]}"

    def path(self, model: str, kind: str) -> Path:
        return self.directory / model / KINDS[kind]

    def expected(self, model: str) -> tuple[np.ndarray, np.ndarray]:
        return np.load(self.directory / model / "x.npy"), np.load(self.directory / model / "y.npy")


KERAS3 = {
    "cnn": """
        def build_model():
            inputs = keras.Input((8, 8, 3))
            x = layers.Conv2D(4, 3, use_bias=False)(inputs)
            x = layers.BatchNormalization()(x)
            x = layers.ReLU()(x)
            x = layers.Conv2D(6, 3, padding="same")(x)
            x = layers.BatchNormalization()(x)
            x = layers.ReLU()(x)
            x = layers.GlobalAveragePooling2D()(x)
            return keras.Model(inputs, layers.Dense(5)(x))
        """,
    "sequential": """
        def build_model():
            return keras.Sequential(
                [
                    keras.Input((6,)),
                    layers.Dense(8, activation="relu"),
                    layers.Dropout(0.5),
                    layers.Dense(8, activation="tanh"),
                    layers.Dense(3),
                ]
            )
        """,
    "nested": """
        def build_model():
            body = keras.Sequential(
                [layers.Dense(4, activation="relu"), layers.BatchNormalization()], name="body"
            )
            head_in = keras.Input((4,))
            head = keras.Model(head_in, layers.Dense(2, use_bias=False)(head_in), name="head")
            inputs = keras.Input((6,))
            x = layers.Dense(6, name="pre")(inputs)
            return keras.Model(inputs, head(body(x)))
        """,
    "mobilenet": """
        def build_model():
            return keras.applications.MobileNet(
                weights=None, input_shape=(32, 32, 3), alpha=0.25, classes=5
            )
        """,
}

# The CNN changed: a new head (7 classes) and a convolution inserted after the first block.
# Layers are named here so that the test can say where each old layer's weights must land.
CNN_CHANGED = """
    def build_model():
        inputs = keras.Input((8, 8, 3))
        x = layers.Conv2D(4, 3, use_bias=False)(inputs)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.Conv2D(4, 1, name="inserted")(x)
        x = layers.Conv2D(6, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.GlobalAveragePooling2D()(x)
        return keras.Model(inputs, layers.Dense(7, name="new_head")(x))
    """
