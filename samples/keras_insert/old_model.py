"""The old model: features -> encoder -> decoder -> head, each a named Dense layer."""

import keras
from keras import layers


def build_model():
    inputs = keras.Input((8,), name="features")
    h = layers.Dense(16, activation="relu", name="encoder")(inputs)
    h = layers.Dense(16, activation="relu", name="decoder")(h)
    return keras.Model(inputs, layers.Dense(16, name="head")(h))
