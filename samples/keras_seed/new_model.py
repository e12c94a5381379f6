"""The seed's new network in Keras 3: `Input -> A -> B -> Output1` plus `A -> C -> Output2`.

graphdiff runs this file and calls build_model(). Its variables are Keras paths (`A/kernel`,
`A/bias`, ...); the old checkpoint's are TF1 names (`A/w`, `A/b`, ...).
"""

import keras
from keras import layers

FEATURES, HIDDEN, CLASSES, HEAD2 = 4, 16, 3, 2


def build_model():
    inputs = keras.Input((FEATURES,), name="Input")
    hidden = layers.Dense(HIDDEN, activation="relu", name="A")(inputs)
    output1 = layers.Dense(CLASSES, name="B")(hidden)
    output2 = layers.Dense(HEAD2, name="C")(hidden)
    return keras.Model(inputs, [output1, output2])
