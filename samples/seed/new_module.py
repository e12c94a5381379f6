"""The new graph as a tf.Module: `Input -> A -> B -> Output1` plus `A -> C -> Output2`.

graphdiff calls build_model() and traces `__call__`; its variables are named by object path
(`model/A/w`, ...), and apply writes a `tf.train.Checkpoint(model=module)` that
`tf.train.Checkpoint(model=build_model()).read(prefix)` restores.
"""

import tensorflow as tf

FEATURES, HIDDEN, CLASSES, HEAD2 = 4, 16, 3, 2


class Dense(tf.Module):
    def __init__(self, inputs: int, units: int, name: str):
        super().__init__(name=name)
        self.w = tf.Variable(tf.random.normal([inputs, units], stddev=0.1), name="w")
        self.b = tf.Variable(tf.zeros([units]), name="b")

    def __call__(self, x):
        return x @ self.w + self.b


class TwoHeads(tf.Module):
    def __init__(self):
        super().__init__()
        self.A = Dense(FEATURES, HIDDEN, "A")
        self.B = Dense(HIDDEN, CLASSES, "B")
        self.C = Dense(HIDDEN, HEAD2, "C")

    @tf.function(input_signature=[tf.TensorSpec([None, FEATURES], tf.float32, name="Input")])
    def __call__(self, x):
        hidden = tf.nn.relu(self.A(x))
        return self.B(hidden), self.C(hidden)


def build_model():
    return TwoHeads()
