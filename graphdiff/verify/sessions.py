"""Both graphs as TensorFlow runs them, one after the other.

Takes the plan; gives the old graph (imported from the plan's old `.meta`, with the Saver it
recorded) and the new graph (built from the plan's graph file as `apply` builds it, with a
Saver of every variable the plan covers), and `run`, which restores a checkpoint into a fresh
session of one graph, runs one forward pass that fetches the tensors asked for, and closes
the session. Only the fetched tensors' upstream runs: no update op, no iterator, no queue.
Every TensorFlow failure becomes a BadInput naming the file at fault.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphdiff.apply.executor import planned_shapes
from graphdiff.apply.initial_values import clear_devices, op_error_text
from graphdiff.apply.targets import check_coverage, targets_of
from graphdiff.errors import BadInput
from graphdiff.new_graph import build_new_graph
from graphdiff.plan import Plan
from graphdiff.tf_import import tensorflow


@dataclass
class Loaded:
    graph: object  # tf.Graph
    saver: object  # tf.compat.v1.train.Saver
    label: str  # the file the graph came from, for messages
    graph_def: object  # the GraphDef before verify added anything (its Saver, reads)


def old_graph(meta, meta_path: str) -> Loaded:
    """The old graph from its MetaGraphDef, devices cleared, with its own Saver."""
    tf = tensorflow()
    tf.compat.v1.disable_eager_execution()
    graph = tf.Graph()
    with graph.as_default():
        try:
            saver = tf.compat.v1.train.import_meta_graph(meta, clear_devices=True)
        except Exception as error:  # TensorFlow raises a zoo of types here
            raise BadInput(meta_path, f"cannot be imported: {first_line(error)}") from None
    if saver is None:
        raise BadInput(meta_path, "has no variables: there is nothing restored to verify")
    return Loaded(graph, saver, meta_path, meta.graph_def)


def new_graph(plan: Plan, where: str) -> Loaded:
    """The new graph built from the plan's graph file; BadInput if the plan does not cover it."""
    tf = tensorflow()
    graph_file = plan.provenance.new_graph.path
    built = build_new_graph(graph_file, shape_for=planned_shapes(plan))
    targets = targets_of(built.graph, graph_file)
    check_coverage(plan.variables, targets, where, graph_file)
    clear_devices(built.graph)
    graph_def = built.graph.as_graph_def()
    variables = [variable for target in targets.values() for variable in target.variables]
    with built.graph.as_default():
        saver = tf.compat.v1.train.Saver(var_list=variables, allow_empty=True, name="graphdiff")
    return Loaded(built.graph, saver, graph_file, graph_def)


def run(loaded: Loaded, prefix: str, fetches: list[str], feeds: dict) -> list:
    """Restore `prefix` into `loaded.graph` and fetch `fetches` (tensor names) once."""
    tf = tensorflow()
    config = tf.compat.v1.ConfigProto(allow_soft_placement=True)
    with tf.compat.v1.Session(graph=loaded.graph, config=config) as session:
        try:
            loaded.saver.restore(session, prefix)
        except (tf.errors.OpError, ValueError) as error:
            raise BadInput(
                prefix, f"cannot be restored into the graph of {loaded.label}: {first_line(error)}"
            ) from None
        try:
            return session.run(fetches, feed_dict=feeds)
        except tf.errors.OpError as error:
            raise BadInput(
                loaded.label,
                f"its graph fails on the inputs verify gives it: {first_line(error)}; "
                "give inputs with --feed NAME=FILE.npy",
            ) from None


def first_line(error: Exception) -> str:
    """The line of an error that says what went wrong (for TensorFlow's, not its "Graph
    execution error:" heading nor where the failing node was defined)."""
    if getattr(error, "message", None):
        return op_error_text(error)
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
