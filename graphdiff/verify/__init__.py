"""graphdiff verify: prove that what the plan shares computes exactly what it computed before.

`verify_plan(plan, checkpoint)` takes a plan and the checkpoint `apply` wrote for it; gives a
VerifyReport. It builds both graphs (the old one from the plan's `.meta`, the new one from the
plan's graph file), numbers their values from the plan's restore entries and the paired inputs
(frontier.py), picks the tensors to compare (the shared frontier, or those asked for), feeds
both graphs the same deterministic inputs (feeds.py), restores the old checkpoint into the old
graph and `checkpoint` into the new one, runs one forward pass of each, one after the other
(sessions.py), and compares (report.py): bit for bit where both tensors come from the same ops,
within atol/rtol where asked or where they do not. Then it reads each restored variable
upstream of a compared tensor from both checkpoints (restored.py): a forward pass cannot see a
variable its tensors do not depend on numerically on these inputs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import replace

import numpy as np

from graphdiff import storage
from graphdiff.apply.fingerprints import (
    CHANGED,
    MOVED_CHECKPOINT,
    check_fingerprints,
    data_files,
    with_inputs_at,
)
from graphdiff.errors import BadInput, GraphdiffError
from graphdiff.loading import read_meta_graph, sha256_of
from graphdiff.partitions import partitions_in_meta
from graphdiff.plan import Plan
from graphdiff.verify import sessions
from graphdiff.verify.feeds import FeedBuilder, load_array
from graphdiff.verify.frontier import Correspondence, TensorPair, upstream_ops
from graphdiff.verify.report import (
    DIFFERS,
    TensorCheck,
    VerifyReport,
    compare,
    failure_line,
    format_text,
    overall,
    tolerance_text,
)
from graphdiff.verify.restored import not_holding_sources
from graphdiff.verify.values import view_of, writes_state

__all__ = [
    "OutputsCheck",
    "OutputsDiffer",
    "VerifyReport",
    "failure_line",
    "format_text",
    "verify_plan",
]

DEFAULT_ATOL, DEFAULT_RTOL = 1e-6, 1e-5  # for tensors not computed by the same ops
_NOT_VALUES = frozenset({"resource", "variant"})


def verify_plan(
    plan: Plan,
    checkpoint: str | os.PathLike | None = None,
    *,
    tensors: Iterable[str] = (),
    feeds: Mapping[str, np.ndarray | str | os.PathLike] | None = None,
    atol: float | None = None,
    rtol: float | None = None,
    plan_path: str | os.PathLike | None = None,
    old_checkpoint: str | os.PathLike | None = None,
) -> VerifyReport:
    """Compare the new graph restored from `checkpoint` with the old graph restored as planned.

    `checkpoint` defaults to the plan's output prefix. `tensors`: "NEW" or "NEW=OLD" tensor
    names to compare instead of the shared frontier. `feeds`: input name -> array or .npy path,
    instead of generated values. `atol`/`rtol`: compare every tensor within these instead of
    bit for bit. `old_checkpoint`: where the plan's (old) checkpoint is now, if it moved (its
    .meta moves with it). Raises BadInput (naming the file or the argument at fault) for
    anything that cannot be verified; a difference is no error: it is in the report
    (`report.verdict`), which also says whether each restored variable upstream of a compared
    tensor holds its source's value (read from both checkpoints: restored.py).

    >>> verify_plan(read_plan("plan.json")).verdict  # doctest: +SKIP
    'identical'
    """
    where = str(plan_path) if plan_path is not None else "<plan>"
    if len(plan.provenance.old_sources) > 1:
        names = ", ".join(s.label for s in plan.provenance.old_sources)
        raise BadInput(where, f"has several sources ({names}); verify compares one old graph")
    if old_checkpoint is not None:
        plan = with_inputs_at(plan, os.fspath(old_checkpoint))
    _check_tf1_plan(plan, where)
    tolerance = _tolerance(atol, rtol)
    prefix = _applied_prefix(str(checkpoint or plan.output_prefix))
    old_prefix = plan.provenance.checkpoint_prefix
    _check_plan_files(plan)
    correspondence, new, old = _graphs(plan, where, feeds or {})
    given = {name: load_array(name, value) for name, value in (feeds or {}).items()}
    tensors = list(tensors)
    pairs = (
        [_pair(text, correspondence, new, old) for text in tensors]
        if tensors
        else _frontier(correspondence, new)
    )
    if not pairs:
        raise BadInput(where, _NOTHING.format(count=len(plan.restored)))
    builder = _feeds(correspondence, pairs, new, old, given)
    old_values = sessions.run(old, old_prefix, [p.old for p in pairs], builder.old_feed)
    new_values = sessions.run(new, prefix, [p.new for p in pairs], builder.new_feed)
    checks = [
        _check(pair, a, b, tolerance, correspondence)
        for pair, a, b in zip(pairs, old_values, new_values, strict=True)
    ]
    checks, checked, wrong = _with_suspects(checks, plan, prefix, old_prefix)
    return _report(plan, checks, prefix, builder, checked, wrong)


def _graphs(plan: Plan, where: str, feeds: Mapping) -> tuple:
    """Both graphs built, and numbered together; BadInput for a --feed that names no input."""
    meta = read_meta_graph(plan.provenance.old_meta.path)
    new = sessions.new_graph(plan, where)
    old = sessions.old_graph(meta, plan.provenance.old_meta.path)
    fed_ops = {_op_and_port(name, new, "--feed")[0]: name for name in feeds}
    outputs = {op.name: len(op.outputs) for op in old.graph.get_operations()}
    correspondence = Correspondence(
        plan,
        view_of(meta.graph_def),
        view_of(new.graph_def),
        partitions_in_meta(meta),
        fed_ops,
        outputs,
    )
    for op, name in fed_ops.items():
        if op not in correspondence.new_sources:
            raise BadInput(
                "--feed",
                f"{name}: not an input of the new graph {new.label} (a placeholder, or an "
                "iterator's or queue's output): verify feeds only inputs",
            )
    return correspondence, new, old


def _report(plan: Plan, checks, prefix: str, builder, checked, wrong) -> VerifyReport:
    compared = {name for check in checks for name in check.restored_upstream}
    return VerifyReport(
        verdict=DIFFERS if wrong else overall(checks),
        checkpoint=prefix,
        old_checkpoint=plan.provenance.checkpoint_prefix,
        tensors=tuple(checks),
        inputs=tuple(builder.fed.values()),
        not_compared=tuple(
            e.name for e in plan.restored if e.role == "model" and e.name not in compared
        ),
        state_not_compared=sum(e.role != "model" and e.name not in compared for e in plan.restored),
        variables_checked=len(checked),
        variables_differing=tuple(wrong),
    )


class OutputsDiffer(GraphdiffError):
    """`apply --verify-outputs`: a compared tensor differs; nothing was published (exit 3)."""

    exit_status = 3

    def __init__(self, report: VerifyReport):
        self.report = report
        super().__init__(failure_line(report))


class OutputsCheck:
    """The `after_write` of `apply --verify-outputs`: verify the staged checkpoint.

    Raises OutputsDiffer when a tensor differs, so that apply publishes nothing; the report
    names `published`, the prefix the checkpoint would have had.
    """

    def __init__(self, plan: Plan, plan_path=None, published: str | None = None):
        _check_tf1_plan(plan, str(plan_path) if plan_path is not None else "<plan>")
        self.plan, self.plan_path = plan, plan_path
        self.published = storage.absolute(published or plan.output_prefix)
        self.summary = ""

    def __call__(self, staging_prefix: str) -> None:
        report = verify_plan(self.plan, staging_prefix, plan_path=self.plan_path)
        report = replace(report, checkpoint=self.published)
        if report.verdict == DIFFERS:
            raise OutputsDiffer(report)
        names = ", ".join(check.new for check in report.tensors)
        self.summary = (
            f"{len(report.tensors)} tensor(s) {report.verdict.replace('_', ' ')} ({names})"
        )


_MOVED = "if the old checkpoint moved, give its prefix with --old-checkpoint PREFIX"
_NOTHING = (
    "nothing to compare: the plan restores {count} variable(s), but no tensor of the new graph "
    "is computed from them by the same ops as in the old graph (name tensors with --tensor "
    "NEW=OLD to compare them within --atol/--rtol)"
)


def _check_tf1_plan(plan: Plan, where: str) -> None:
    """verify runs two TF1 graphs in sessions: a .meta on the old side, a graph on the new."""
    provenance = plan.provenance
    if provenance.old_kind == "tf1_meta" and provenance.new_graph_kind in ("python", "meta"):
        return
    raise BadInput(
        where,
        f"graphdiff verify runs TF1 graphs; this plan goes from {provenance.old_kind} to a "
        f"{provenance.new_graph_kind} model: compare the model's outputs with your own inputs "
        "(apply --verify checks what was written, and that it loads)",
    )


def _tolerance(atol, rtol):
    """(atol, rtol), or None for bit for bit; inf lets any finite difference pass."""
    given = {}
    for flag, value in (("--atol", atol), ("--rtol", rtol)):
        try:
            number = None if value is None else float(value)
        except (TypeError, ValueError):
            number = math.nan
        if number is not None and not number >= 0:  # NaN is not >= 0 either
            raise BadInput(
                flag, f"{value}: give a number of 0 or more (inf: any finite difference)"
            )
        given[flag] = number
    if atol is None and rtol is None:
        return None
    return (given["--atol"] or 0.0, given["--rtol"] or 0.0)


def _applied_prefix(prefix: str) -> str:
    """The checkpoint to verify, absolute; a remote one (gs://, ram://) as given."""
    index = prefix + ".index"
    if not storage.isfile(index):
        raise BadInput(
            index,
            "no checkpoint here: run graphdiff apply PLAN first, or give --checkpoint PREFIX",
        )
    data_files(prefix)
    return storage.absolute(prefix)


def _check_plan_files(plan: Plan) -> None:
    """The old .meta, the old checkpoint and the new graph file are those the plan was made of."""
    meta = plan.provenance.old_meta
    if not storage.isfile(meta.path):
        raise BadInput(meta.path, f"no such file (the plan was made from it); {_MOVED}")
    if sha256_of(meta.path) != meta.sha256:
        raise BadInput(meta.path, CHANGED)
    try:
        check_fingerprints(plan)
    except BadInput as error:  # verify's --checkpoint is the applied one: name the right flag
        raise BadInput(error.path, error.fault.replace(MOVED_CHECKPOINT, _MOVED)) from None


def _op_and_port(text: str, loaded, flag: str, side: str = "new") -> tuple[str, int]:
    op, colon, port = text.rpartition(":")
    if not colon or not port.isdigit():
        op, port = text, "0"
    try:
        operation = loaded.graph.get_operation_by_name(op)
    except (KeyError, ValueError):
        raise BadInput(flag, f"{text}: no op '{op}' in the {side} graph {loaded.label}") from None
    if int(port) >= len(operation.outputs):
        raise BadInput(
            flag, f"{text}: '{op}' has {len(operation.outputs)} output(s) in the {side} graph"
        )
    if operation.outputs[int(port)].dtype.name in _NOT_VALUES:
        raise BadInput(flag, f"{text}: a {operation.outputs[int(port)].dtype.name}, not a value")
    return op, int(port)


def _pair(text: str, correspondence: Correspondence, new, old) -> TensorPair:
    """A --tensor NEW[=OLD]: OLD defaults to the old tensor NEW equals, else NEW's own name."""
    new_text, _, old_text = text.partition("=")
    new_op, new_port = _op_and_port(new_text, new, "--tensor")
    if old_text:
        old_op, old_port = _op_and_port(old_text, old, "--tensor", "old")
    else:
        found = (
            correspondence.old_tensor(new_op, new_port) if correspondence.shared(new_op) else None
        )
        if found is None and new_op not in correspondence.old.dag:
            raise BadInput(
                "--tensor",
                f"{text}: the old graph computes no tensor equal to it and has none of its name; "
                f"name one: --tensor {new_text}=OLD",
            )
        old_op, old_port = _op_and_port(found or f"{new_op}:{new_port}", old, "--tensor", "old")
    for view, op in ((correspondence.new, new_op), (correspondence.old, old_op)):
        _refuse_writes(view, op)
    _refuse_meaningless(text, correspondence, (new_op, new_port), (old_op, old_port))
    same = correspondence.same_ops((new_op, new_port), (old_op, old_port))
    return TensorPair(f"{new_op}:{new_port}", f"{old_op}:{old_port}", same)


def _refuse_meaningless(text: str, correspondence: Correspondence, new, old) -> None:
    """A --tensor that proves nothing (an input both graphs are fed, a value no restored
    variable feeds) or that may not be computed (inside a cond whose branch is not known)."""
    for side, (op, port), values in (
        ("new", new, correspondence.new_values),
        ("old", old, correspondence.old_values),
    ):
        if values.may_not_run(op, port):
            raise BadInput(
                "--tensor",
                f"{text}: '{op}:{port}' of the {side} graph is inside a v1 tf.cond branch that may "
                "not run on the inputs verify feeds: name a tensor after the cond",
            )
    if new[0] in correspondence.new_sources or old[0] in correspondence.old_sources:
        raise BadInput(
            "--tensor",
            f"{text}: an input: verify feeds both graphs the same array, so comparing it proves "
            "nothing; name a tensor computed from the restored variables",
        )
    if not correspondence.restored_upstream([new[0]]):
        raise BadInput(
            "--tensor",
            f"{text}: no restored variable is upstream of it in the new graph, so comparing it "
            "proves nothing about the restore; name a tensor computed from them",
        )


def _refuse_writes(view, op: str) -> None:
    """Verify runs forward computations only: never a training step or a variable update."""
    writer = _writer_upstream(view, op)
    if writer is not None:
        raise BadInput(
            "--tensor",
            f"{op}: computing it runs '{writer}', which updates a variable "
            "(training machinery); verify compares forward computations only",
        )


def _writer_upstream(view, op: str) -> str | None:
    """An op that updates a variable and runs when `op` is fetched (control inputs too)."""
    return next(
        (up for up in sorted(upstream_ops(view, [op], control=True)) if writes_state(view.op(up))),
        None,
    )


def _frontier(correspondence: Correspondence, new) -> list[TensorPair]:
    """The frontier, less what cannot be fetched as a value or would update a variable."""
    return [
        pair
        for pair in correspondence.frontier()
        if new.graph.get_tensor_by_name(pair.new).dtype.name not in _NOT_VALUES
        and _writer_upstream(correspondence.new, pair.new.rsplit(":", 1)[0]) is None
        and _writer_upstream(correspondence.old, pair.old.rsplit(":", 1)[0]) is None
    ]


def _feeds(correspondence: Correspondence, pairs, new, old, given) -> FeedBuilder:
    given_tensors = {}
    for name, value in given.items():
        op, port = _op_and_port(name, new, "--feed")
        if f"{op}:{port}" in given_tensors:
            raise BadInput("--feed", f"{name}: input {op}:{port} is given more than one array")
        given_tensors[f"{op}:{port}"] = value
    builder = FeedBuilder(new.graph, old.graph, correspondence.source_pairs, given_tensors)
    new_ops = [pair.new.rsplit(":", 1)[0] for pair in pairs]
    old_ops = [pair.old.rsplit(":", 1)[0] for pair in pairs]
    for op in correspondence.sources_upstream(correspondence.new, new_ops):
        builder.for_new(op)
    for op in correspondence.sources_upstream(correspondence.old, old_ops):
        builder.for_old(op)
    return builder


def _check(pair: TensorPair, old_value, new_value, tolerance, correspondence) -> TensorCheck:
    used = tolerance if tolerance is not None or pair.same_ops else (DEFAULT_ATOL, DEFAULT_RTOL)
    verdict, max_abs, max_rel = compare(old_value, new_value, used)
    return TensorCheck(
        new=pair.new,
        old=pair.old,
        shape=tuple(np.shape(new_value)),
        old_shape=tuple(np.shape(old_value)),
        max_abs_diff=max_abs,
        max_rel_diff=max_rel,
        verdict=verdict,
        compared=tolerance_text(used),
        restored_upstream=tuple(correspondence.restored_upstream([pair.new.rsplit(":", 1)[0]])),
    )


def _with_suspects(checks, plan: Plan, prefix: str, old_prefix: str) -> tuple[list, tuple]:
    """Each restored variable upstream of a compared tensor, read from both checkpoints
    (restored.py): the ones not holding their source's value, and each differing tensor's
    suspects among them."""
    upstream = {name for check in checks for name in check.restored_upstream}
    names = [entry.name for entry in plan.restored if entry.name in upstream]
    wrong = not_holding_sources(plan, prefix, old_prefix, names)
    checks = [
        replace(check, suspects=tuple(n for n in check.restored_upstream if n in wrong))
        if check.verdict == DIFFERS
        else check
        for check in checks
    ]
    return checks, names, wrong
