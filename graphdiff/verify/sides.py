"""One side of a verify run: a model as verify numbers it and as TensorFlow runs it.

A `Side` holds the graph verify numbers (`view`: variables under the names the plan gives
them), the tf.Graph that holds it (`graph`: static shapes and dtypes), how it runs (`run`: a
session restored by a Saver, or a function over a loaded model's own variables), the values
themselves by name (`values.array(name)`, for the restored variables read directly) and, for
a Keras model or a tf.Module, its declared outputs by name. `open_sides(plan, applied)`
opens the plan's old side (what the plan came from) and new side (the applied file in the
new model) by their kinds: TF1 graphs (sessions.py) or models built by a .py (models.py).

Models are built first: a Keras trace needs eager execution, which a TF1 graph script ends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from graphdiff.errors import BadInput
from graphdiff.formats.base import (
    KERAS2_CHECKPOINT,
    KERAS2_H5,
    KERAS_ARCHIVE,
    KERAS_WEIGHTS,
    MODEL_KINDS,
    NEW_META,
    NEW_PYTHON,
    TF1_META,
    TF2_CHECKPOINT,
)
from graphdiff.plan import Plan
from graphdiff.verify.values import GraphView


@dataclass
class Side:
    label: str  # the file messages name: the .meta, the graph's .py, the model's .py
    view: GraphView  # the graph numbered: variables under the plan's names
    graph: object  # a tf.Graph holding it under the run names: static shapes and dtypes
    run: Callable  # run([(fetches, feeds), ...]) -> one list of values per group (runs.py)
    values: object  # array(name): a variable's value as this side holds it
    checkpoint: str  # where the values came from, for the report
    run_names: dict[str, str] = field(default_factory=dict)  # view op -> graph op, if they differ
    outputs: dict[str, str] = field(default_factory=dict)  # declared output -> view "op:port"
    parts: dict = field(default_factory=dict)  # TF1: the old graph's partitioned variables

    def run_name(self, tensor: str) -> str:
        """The name in `graph` of view tensor (or op) `tensor`."""
        op, colon, port = tensor.rpartition(":")
        if not colon or not port.isdigit():
            return self.run_names.get(tensor, tensor)
        return f"{self.run_names.get(op, op)}:{port}"

    def operation(self, op: str):
        return self.graph.get_operation_by_name(self.run_name(op))

    def tensor(self, name: str):
        return self.graph.get_tensor_by_name(self.run_name(name))

    def output_count(self, op: str) -> int:
        try:
            return len(self.operation(op).outputs)
        except (KeyError, ValueError):
            return 0


def open_sides(plan: Plan, applied: str, where: str) -> tuple[Side, Side]:
    """(old side, new side) of the plan, the new one holding the values of `applied`."""
    provenance = plan.provenance
    check_kinds(plan, where)
    new_is_model = provenance.new_graph_kind in MODEL_KINDS
    old_is_model = provenance.old_kind != TF1_META
    from graphdiff.verify import models, sessions

    old = new = None
    if old_is_model:
        old = models.old_side(plan)
    if new_is_model:
        new = models.new_side(plan, applied, where)
    if not old_is_model:
        old = sessions.old_side(plan)
    if not new_is_model:
        new = sessions.new_side(plan, applied, where)
    return old, new


def check_kinds(plan: Plan, where: str) -> None:
    """The old side must have a graph verify can run, with the values the plan restores."""
    provenance = plan.provenance
    if len(provenance.old_sources) > 1:
        names = ", ".join(s.label for s in provenance.old_sources)
        raise BadInput(
            where,
            f"has several sources ({names}); verify_plan compares one old graph: "
            "graphdiff.verify_sources(plan) compares each source against its own",
        )
    if provenance.new_graph_kind not in (*MODEL_KINDS, NEW_PYTHON, NEW_META):
        raise BadInput(
            where, f"a new graph of kind {provenance.new_graph_kind!r}: verify runs none"
        )
    kind = provenance.old_kind
    if kind in (TF1_META, KERAS_WEIGHTS, KERAS_ARCHIVE, KERAS2_H5):
        return
    if kind in (TF2_CHECKPOINT, KERAS2_CHECKPOINT) and provenance.old_model is not None:
        return
    why = {
        TF2_CHECKPOINT: "an object-based checkpoint planned without --old-model: verify needs "
        "the model it was saved from; plan again with --old-model OLD.py",
        "tf1_checkpoint": "a checkpoint without its .meta: verify needs the old graph; plan "
        "again from the .meta",
        KERAS2_CHECKPOINT: "a tf.keras 2 checkpoint planned without its model (it did not fit "
        "NEW layer for layer, so its own architecture is unknown): verify needs the model it "
        "was saved from; plan again with --old-model OLD.py",
    }.get(
        kind,
        f"a {kind}: verify runs TF1 graphs (.meta), Keras weights and object-based "
        "checkpoints with their model",
    )
    raise BadInput(where, f"the plan's old side is {why}")
