"""The new graph: the old one plus a branch `Input -> A -> C -> Output2`, trained with Adam.

graphdiff runs this file in a fresh graph and calls build_graph(). B's bias leaves its shape
undefined: graphdiff takes it from the checkpoint.
"""

import model
import tensorflow as tf


def build_graph():
    tf.compat.v1.disable_v2_behavior()
    x = model.inputs()
    hidden = model.layer_a(x)
    out1 = model.layer_b(hidden, undefined_bias_shape=True)
    out2 = model.layer_c(hidden)
    loss = tf.reduce_mean(tf.square(out1)) + tf.reduce_mean(tf.square(out2))
    model.train_op(loss)
