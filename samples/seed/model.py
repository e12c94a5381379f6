"""The seed scenario's layers, shared by the old and the new graph.

Old: Input -> A -> B -> Output1. New: the same plus Input -> A -> C -> Output2.
A's bias is a `tf.compat.v1.Variable` (an assign-by-name loop over `get_variable` misses it);
in the new graph B's bias is a `get_variable` whose shape is left undefined.
"""

import tensorflow as tf

v1 = tf.compat.v1
FEATURES, HIDDEN, CLASSES, HEAD2 = 4, 16, 3, 2


def layer_a(inputs):
    with v1.variable_scope("A"):
        w = v1.get_variable("w", [FEATURES, HIDDEN])
        b = v1.Variable(tf.zeros([HIDDEN]), name="b")  # not a get_variable
        return tf.nn.relu(tf.matmul(inputs, w) + b)


def layer_b(hidden, undefined_bias_shape=False):
    with v1.variable_scope("B"):
        w = v1.get_variable("w", [HIDDEN, CLASSES])
        if undefined_bias_shape:
            b = v1.get_variable("b", initializer=v1.zeros_initializer())  # shape left undefined
        else:
            b = v1.get_variable("b", [CLASSES], initializer=v1.zeros_initializer())
        return tf.identity(tf.matmul(hidden, w) + b, name="Output1")


def layer_c(hidden):
    with v1.variable_scope("C"):
        w = v1.get_variable("w", [HIDDEN, HEAD2])
        b = v1.get_variable("b", [HEAD2], initializer=v1.zeros_initializer())
        return tf.identity(tf.matmul(hidden, w) + b, name="Output2")


def inputs():
    return v1.placeholder(tf.float32, [None, FEATURES], name="Input")


def train_op(loss):
    step = v1.train.get_or_create_global_step()
    return v1.train.AdamOptimizer(0.01).minimize(loss, global_step=step)
