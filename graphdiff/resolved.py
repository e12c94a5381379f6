"""resolved_shapes(plan): build the new graph in your own code with the shapes the plan resolved.

A new graph may leave a variable's shape undefined (`get_variable("b", initializer=zeros)`),
trusting the checkpoint to give it. graphdiff fills it in while planning and records it in the
plan (`shape_resolution`); plain TensorFlow cannot build that code ("Shape of a new variable
(B/b) must be fully defined"). Inside `resolved_shapes(plan)`, every `get_variable` of the
default graph that leaves its shape undefined gets the shape the plan gives that variable, so
that the user's own script builds the same graph apply wrote the checkpoint for, and a plain
`Saver().restore` (or `restore_into_session`) works. Shapes given in the code are never changed.

    with tf.Graph().as_default(), graphdiff.resolved_shapes("plan.json"):
        new_graph.build_graph()
        saver = tf.compat.v1.train.Saver()
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

from graphdiff.plan import Plan
from graphdiff.tf_import import tensorflow


def planned_shapes(plan: Plan) -> Callable[[str], tuple[int, ...] | None]:
    """Variable name -> its shape as the plan resolved it (else as planned), or None."""
    shapes = {}
    for entry in plan.variables:
        if entry.shape_resolution is not None:
            shapes[entry.name] = tuple(entry.shape_resolution.shape)
        elif entry.shape is not None:
            shapes[entry.name] = tuple(entry.shape)
    return shapes.get


@contextlib.contextmanager
def resolved_shapes(plan: Plan | str | os.PathLike) -> Iterator[None]:
    """Within the block, `get_variable` calls of the default graph that leave a shape undefined
    get the plan's shape for that variable. `plan` is a Plan or the path of a plan file.

    Enter it after the graph you build into (`with tf.Graph().as_default(),
    resolved_shapes(plan):`); a variable the plan does not know keeps TensorFlow's own error.
    """
    if not isinstance(plan, Plan):
        from graphdiff.plan_io import read_plan

        plan = read_plan(plan)
    tf = tensorflow()
    shape_for = planned_shapes(plan)

    def plan_shape_getter(getter, name, *args, **kwargs):  # TF passes these by keyword
        if not _shape_given(tf, kwargs) and shape_for(name) is not None:
            kwargs["shape"] = shape_for(name)
        return getter(name, *args, **kwargs)

    scope = tf.compat.v1.get_variable_scope()
    with tf.compat.v1.variable_scope(scope, custom_getter=plan_shape_getter):
        yield


def _shape_given(tf, kwargs) -> bool:
    """The call defines the shape: in full, or through an initial value (a tensor or literal)."""
    import numpy as np

    initializer = kwargs.get("initializer")
    if isinstance(initializer, tf.Tensor | np.ndarray | list | tuple | int | float):
        return True
    return tf.TensorShape(kwargs.get("shape")).is_fully_defined()
