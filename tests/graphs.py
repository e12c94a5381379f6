"""Small real graphs for tests: build in a fresh tf.Graph, save with TensorFlow's own Saver.

`save_checkpoint(dir, build)` runs `build()` in a new graph, initializes every variable and
saves `dir/model.ckpt` (with its .meta). `write_new_graph(dir, source)` writes a new_graph.py.
Layers take `use_resource` explicitly, so that reference (VariableV2) and resource
(VarHandleOp) variables can both be built in one process whatever mode it is in.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from graphdiff.tf_import import tensorflow

tf = tensorflow()
v1 = tf.compat.v1


def save_checkpoint(directory: Path, build, seed: int = 0) -> str:
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(seed)
        build()
        saver = v1.train.Saver()
        with v1.Session() as session:
            # Trainables first: a moving-average shadow starts from its variable's value.
            trainable = v1.trainable_variables()
            rest = [v for v in v1.global_variables() if v not in trainable]
            session.run(v1.variables_initializer(trainable))
            session.run(v1.variables_initializer(rest))
            directory.mkdir(parents=True, exist_ok=True)
            return saver.save(session, str(directory / "model.ckpt"))


def write_new_graph(directory: Path, source: str, name: str = "new_graph.py") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(HEADER + textwrap.dedent(source))
    return path


def dense(inputs, units: int, scope: str, use_resource: bool = False, bias_name: str = "b"):
    """A fully connected layer with get_variable weights `w` and bias `b`."""
    with v1.variable_scope(scope):
        w = v1.get_variable("w", [int(inputs.shape[-1]), units], use_resource=use_resource)
        b = v1.get_variable(
            bias_name, [units], initializer=v1.zeros_initializer(), use_resource=use_resource
        )
        return tf.nn.relu(tf.matmul(inputs, w) + b)


def inputs(features: int = 4):
    return v1.placeholder(tf.float32, [None, features], name="Input")


def adam(loss):
    step = v1.train.get_or_create_global_step()
    return v1.train.AdamOptimizer(0.01).minimize(loss, global_step=step)


# Every new_graph.py written by a test starts with this, so that it can use the helpers.
HEADER = f"""\
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
import tensorflow as tf
from graphs import adam, dense, inputs, v1
"""
