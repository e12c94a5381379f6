"""Write real tf.keras 2 files, with tf.keras 2 itself (`tf_keras`), in a process of its own.

    python tests/keras2_writer.py OUT_DIR [MODEL ...]

For each model (all of MODELS when none is named; keras2_attack_models.py's by name too):
build it with a fixed seed, train it one step (so that no value is its initializer's and batch
norm's moving statistics have moved), and write into OUT_DIR/MODEL/:
  whole.h5      model.save("whole.h5")           legacy whole-model HDF5 (config + weights;
                                                  not for a subclassed model, which has none)
  weights.h5    model.save_weights("weights.h5")  legacy weights-only HDF5
  ckpt/model    model.save_weights("ckpt/model")  TF-format checkpoint (object graph)
  tfckpt/ckpt   tf.train.Checkpoint(model=model, optimizer=...).write: the model one level down
  x.npy, y.npy  an input and tf.keras 2's output on it (training=False)

Run apart from the tests' process on purpose: `tf_keras` and Keras 3 in one process share
TensorFlow's global state (name scopes, `tf.keras`'s resolution by TF_USE_LEGACY_KERAS), and
graphdiff must read these files without tf_keras installed anyway.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def cnn(keras):
    """A functional CNN with batch norm, a convolution without bias, automatic names."""
    layers = keras.layers
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Conv2D(6, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(5)(x))


def sequential(keras):
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((6,)),
            layers.Dense(8, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(8, activation="tanh"),
            layers.Dense(3),
        ]
    )


def nested(keras):
    """A Sequential built by its call (no Input) and a functional model inside a functional
    model: tf.keras 2 numbers their nodes from 1 in the config (its `_should_skip_first_node`)."""
    layers = keras.layers
    body = keras.Sequential(
        [layers.Dense(4, activation="relu"), layers.BatchNormalization()], name="body"
    )
    head_in = keras.Input((4,))
    head = keras.Model(head_in, layers.Dense(2, use_bias=False)(head_in), name="head")
    inputs = keras.Input((6,))
    x = layers.Dense(6, name="pre")(inputs)
    return keras.Model(inputs, head(body(x)))


def mobilenet(keras):
    return keras.applications.MobileNet(
        weights=None, input_shape=(32, 32, 3), alpha=0.25, classes=5
    )


MODELS = {"cnn": cnn, "sequential": sequential, "nested": nested, "mobilenet": mobilenet}


def _builder(name: str):
    if name in MODELS:
        return MODELS[name]
    from keras2_attack_models import tf_keras_builder

    return tf_keras_builder(name)


def write(keras, name: str, out: Path) -> None:
    import numpy as np

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = _builder(name)(keras)
    rng = np.random.default_rng(0)
    graph_network = bool(model.inputs)  # not a subclassed model: model.save("x.h5") takes it
    spec = model.inputs[0] if graph_network else model.save_spec()[0][0]
    shape = (4, *spec.shape[1:])
    if spec.dtype.is_integer:  # token ids, for an Embedding
        x = rng.integers(0, 10, shape).astype(spec.dtype.name)
    else:
        x = rng.random(shape, dtype=np.float32)
    output = model.outputs[0] if graph_network else model(x[:1])
    y = rng.random((4, *output.shape[1:]), dtype=np.float32)
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, verbose=0, epochs=2)
    directory = out / name
    (directory / "ckpt").mkdir(parents=True, exist_ok=True)
    if graph_network:
        model.save(directory / "whole.h5")
    model.save_weights(directory / "weights.h5")
    model.save_weights(str(directory / "ckpt" / "model"))
    import tensorflow as tf

    optimizer = keras.optimizers.Adam()  # another than the model's own (model/optimizer/...)
    tf.train.Checkpoint(model=model, optimizer=optimizer).write(str(directory / "tfckpt" / "ckpt"))
    np.save(directory / "x.npy", x)
    np.save(directory / "y.npy", model(x, training=False).numpy())


def main(argv: list[str]) -> int:
    import warnings

    warnings.simplefilter("ignore")
    import tf_keras as keras

    out = Path(argv[0])
    for name in argv[1:] or list(MODELS):
        write(keras, name, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
