"""The new model: a Dense layer `bottleneck` inserted between encoder and decoder."""

import keras
from keras import layers


def build_model():
    inputs = keras.Input((8,), name="features")
    h = layers.Dense(16, activation="relu", name="encoder")(inputs)
    h = layers.Dense(16, activation="relu", name="bottleneck")(h)  # new
    h = layers.Dense(16, activation="relu", name="decoder")(h)
    return keras.Model(inputs, layers.Dense(16, name="head")(h))
