"""TF1 graphs as verify runs them, and `run`, which runs any Side once.

Takes the plan; gives the old side (imported from the plan's old `.meta`, restored by the
Saver it recorded) and the new side (built from the plan's graph file as `apply` builds it,
restored by a Saver of every variable the plan covers). `run` puts a side's values into a
fresh session of its graph, runs one forward pass that fetches the tensors asked for, and
closes the session. Only the fetched tensors' upstream runs: no update op, no iterator, no
queue. Every TensorFlow failure becomes a BadInput naming the file at fault.
"""

from __future__ import annotations

from graphdiff.apply.executor import planned_shapes
from graphdiff.apply.initial_values import clear_devices, op_error_text
from graphdiff.apply.targets import check_coverage, targets_of
from graphdiff.bundle.reader import BundleReader
from graphdiff.errors import BadInput
from graphdiff.loading import read_meta_graph
from graphdiff.new_graph import build_new_graph
from graphdiff.partitions import partitions_in_meta
from graphdiff.plan import Plan
from graphdiff.tf_import import tensorflow
from graphdiff.verify.sides import Side
from graphdiff.verify.values import view_of


def old_side(plan: Plan) -> Side:
    """The old graph from the plan's `.meta`, devices cleared, restored by its own Saver."""
    tf = tensorflow()
    path = plan.provenance.old_meta.path
    meta = read_meta_graph(path)
    tf.compat.v1.disable_eager_execution()
    graph = tf.Graph()
    with graph.as_default():
        try:
            saver = tf.compat.v1.train.import_meta_graph(meta, clear_devices=True)
        except Exception as error:  # TensorFlow raises a zoo of types here
            raise BadInput(path, f"cannot be imported: {first_line(error)}") from None
    if saver is None:
        raise BadInput(path, "has no variables: there is nothing restored to verify")
    prefix = plan.provenance.checkpoint_prefix
    return Side(
        label=path,
        view=view_of(meta.graph_def),
        graph=graph,
        run=SessionRunner(graph, saver, prefix, path),
        values=_Bundle(prefix),
        checkpoint=prefix,
        parts=partitions_in_meta(meta),
    )


def new_side(plan: Plan, applied: str, where: str) -> Side:
    """The new graph built from the plan's graph file, restored from `applied` by a Saver of
    every variable the plan covers; BadInput if the plan does not cover the graph."""
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
    return Side(
        label=graph_file,
        view=view_of(graph_def),
        graph=built.graph,
        run=SessionRunner(built.graph, saver, applied, graph_file),
        values=_Bundle(applied),
        checkpoint=applied,
    )


class _Bundle:
    """A checkpoint's tensors by key, the reader opened on first use."""

    def __init__(self, prefix: str):
        self.prefix, self._reader = prefix, None

    @property
    def reader(self) -> BundleReader:
        if self._reader is None:
            self._reader = BundleReader(self.prefix)
        return self._reader

    def array(self, key: str):
        if self.reader.entry(key) is None:
            raise KeyError(key)
        return self.reader.array(key)


class SessionRunner:
    """Restores a checkpoint into a fresh session of a TF1 graph and runs it once per group of
    (fetches, feeds) (view tensor names), one forward pass each; an empty group is not run."""

    def __init__(self, graph, saver, prefix: str, label: str):
        self.graph, self.saver, self.prefix, self.label = graph, saver, prefix, label

    def __call__(self, groups: list[tuple[list[str], dict]]) -> list[list]:
        tf = tensorflow()
        config = tf.compat.v1.ConfigProto(allow_soft_placement=True)
        with tf.compat.v1.Session(graph=self.graph, config=config) as session:
            try:
                self.saver.restore(session, self.prefix)
            except (tf.errors.OpError, ValueError) as error:
                raise BadInput(
                    self.prefix,
                    f"cannot be restored into the graph of {self.label}: {first_line(error)}",
                ) from None
            return [self._run(session, *group) if group[0] else [] for group in groups]

    def _run(self, session, fetches: list[str], feeds: dict) -> list:
        tf = tensorflow()
        try:
            return session.run(fetches, feed_dict=feeds)
        except tf.errors.OpError as error:
            raise BadInput(
                self.label,
                f"its graph fails on the inputs verify gives it: {first_line(error)}; "
                "give inputs with --feed NAME=FILE.npy",
            ) from None


def run(side: Side, groups: list[tuple[list[str], dict]]) -> list[list]:
    """Run `side` once per group of (fetches, feeds), named as in its view."""
    return side.run(
        [
            (
                [side.run_name(name) for name in fetches],
                {side.run_name(name): value for name, value in feeds.items()},
            )
            for fetches, feeds in groups
        ]
    )


def first_line(error: Exception) -> str:
    """The line of an error that says what went wrong (for TensorFlow's, not its "Graph
    execution error:" heading nor where the failing node was defined)."""
    if getattr(error, "message", None):
        return op_error_text(error)
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
