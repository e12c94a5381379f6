"""graphdiff verify: prove that what the plan shares computes exactly what it computed before.

`verify_plan(plan, checkpoint)` takes a plan and the file `apply` wrote for it; gives a
VerifyReport. It opens both sides (sides.py): the old one from what the plan came from (a TF1
`.meta` with its checkpoint, Keras weights or an object-based checkpoint with their model), the
new one from the plan's graph file or `build_model()`, with `checkpoint` loaded as a user loads
it. It numbers their values together from the plan's restore entries and the paired inputs
(frontier.py, cut where a layer was inserted: cuts.py), picks the tensors to compare (pairs.py:
the shared frontier, restores misplaced (places.py), the models' outputs, or those asked for),
feeds both the same deterministic inputs (feeds.py), runs one forward pass of each, one after
the other (runs.py), and compares (report.py): bit for bit where both tensors come from the same
ops, within atol/rtol where asked or where they do not. Then it reads each restored variable
upstream of a compared tensor from both sides (restored.py): a forward pass cannot see a
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
from graphdiff.formats.base import MODEL_KINDS, NEW_KERAS, TF1_META
from graphdiff.loading import sha256_of
from graphdiff.plan import FileFingerprint, Plan
from graphdiff.verify.feeds import load_array
from graphdiff.verify.frontier import Correspondence, TensorPair
from graphdiff.verify.pairs import (
    AFTER_CUT,
    SAME_OPS,
    display_name,
    frontier,
    given_pair,
    op_and_port,
    output_pairs,
)
from graphdiff.verify.places import MISPLACED, misplaced_pairs
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
from graphdiff.verify.runs import run_pairs, with_cuts
from graphdiff.verify.sides import Side, check_kinds, open_sides

__all__ = [
    "OutputsCheck",
    "OutputsDiffer",
    "VerifyReport",
    "failure_line",
    "format_text",
    "verify_plan",
]

DEFAULT_ATOL, DEFAULT_RTOL = 1e-6, 1e-5  # for tensors not computed by the same ops


def verify_plan(
    plan: Plan,
    checkpoint: str | os.PathLike | None = None,
    *,
    tensors: Iterable[str] = (),
    feeds: Mapping[str, np.ndarray | str | os.PathLike] | None = None,
    inputs: Mapping[str, str] | None = None,
    atol: float | None = None,
    rtol: float | None = None,
    plan_path: str | os.PathLike | None = None,
    old_checkpoint: str | os.PathLike | None = None,
    new_graph: str | os.PathLike | None = None,
    old_model: str | os.PathLike | None = None,
) -> VerifyReport:
    """Compare the new model holding `checkpoint` with the old one holding what it was planned
    from.

    `checkpoint` defaults to the plan's output prefix (a `.weights.h5` for a Keras model).
    `tensors`: "NEW" or "NEW=OLD" tensor names (or model output names) to compare instead of
    the shared frontier. `feeds`: input name -> array or .npy path, instead of generated
    values. `inputs`: new input -> the old input fed the same array, where names and places do
    not pair them. `atol`/`rtol`: compare every tensor within these instead of bit for bit.
    `old_checkpoint`, `new_graph`, `old_model`: where the plan's inputs are now, if they moved
    (a .meta moves with its checkpoint). Raises BadInput (naming the file or the argument at
    fault) for anything that cannot be verified; a difference is no error: it is in the report
    (`report.verdict`), which also says whether each restored variable upstream of a compared
    tensor holds its source's value (read from both sides: restored.py).

    >>> verify_plan(read_plan("plan.json")).verdict  # doctest: +SKIP
    'identical'
    """
    where = str(plan_path) if plan_path is not None else "<plan>"
    plan = _relocated(plan, old_checkpoint, new_graph, old_model)
    check_kinds(plan, where)
    tolerance = _tolerance(atol, rtol)
    applied = _applied(plan, str(checkpoint or plan.output_prefix))
    _check_plan_files(plan)
    old, new = open_sides(plan, applied, where)
    tensors = list(tensors)
    correspondence = _correspondence(plan, old, new, feeds or {}, inputs or {}, not tensors)
    given = {name: load_array(name, value) for name, value in (feeds or {}).items()}
    pairs = _pairs(tensors, correspondence, old, new, where, plan)
    old_values, new_values, builder = run_pairs(correspondence, pairs, old, new, given)
    checks = [
        _check(pair, a, b, tolerance, correspondence, old, new)
        for pair, a, b in zip(pairs, old_values, new_values, strict=True)
    ]
    checks, checked, wrong = _with_suspects(checks, plan, old, new)
    return _report(plan, checks, new, old, builder, checked, wrong)


def _relocated(plan: Plan, old_checkpoint, new_graph, old_model) -> Plan:
    """The plan with its inputs where they are now (fingerprints checked by with_inputs_at)."""
    try:
        plan = with_inputs_at(
            plan,
            None if old_checkpoint is None else os.fspath(old_checkpoint),
            None if new_graph is None else os.fspath(new_graph),
        )
    except BadInput as error:  # verify's --checkpoint is the applied file: name the right flag
        fault = error.fault.replace("with --checkpoint", "with --old-checkpoint")
        raise BadInput(error.path, fault) from None
    if old_model is None:
        return plan
    recorded = plan.provenance.old_model
    if recorded is None:
        raise BadInput(
            "--old-model", "the plan was made without --old-model: there is none to move"
        )
    moved = FileFingerprint(storage.absolute(os.fspath(old_model)), recorded.sha256)
    return replace(plan, provenance=replace(plan.provenance, old_model=moved))


def _correspondence(plan: Plan, old: Side, new: Side, feeds: Mapping, inputs: Mapping, cut: bool):
    """Both graphs numbered together, cut where a restored layer is fed something new (only
    for the frontier: a tensor the user names is computed from the inputs alone); BadInput
    for a --feed or --input that names no input."""
    fed_ops = {op_and_port(name, new, "--feed")[0]: name for name in feeds}
    paired = {}
    for new_name, old_name in inputs.items():
        new_op = op_and_port(new_name, new, "--input")[0]
        paired[new_op] = op_and_port(old_name, old, "--input", "old")[0]
    inverse = {run: view for view, run in old.run_names.items()}
    outputs = {inverse.get(op.name, op.name): len(op.outputs) for op in old.graph.get_operations()}

    def fits(new_tensor: str, old_tensor: str) -> bool:
        a, b = new.tensor(new_tensor), old.tensor(old_tensor)
        return a.dtype == b.dtype and a.shape.is_compatible_with(b.shape)

    correspondence = Correspondence(
        plan, old.view, new.view, old.parts, fed_ops, outputs, fits if cut else None, paired
    )
    _check_named_inputs(correspondence, new, old, fed_ops, paired, inputs)
    return correspondence


def _check_named_inputs(correspondence, new: Side, old: Side, fed_ops, paired, inputs) -> None:
    """What --feed and --input name must be inputs, and an --input pair must take one array."""
    named = [("--feed", op, name, new) for op, name in fed_ops.items()]
    named += [("--input", op, op, new) for op in paired]
    named += [("--input", op, op, old) for op in paired.values()]
    for flag, op, name, side in named:
        sources = correspondence.new_sources if side is new else correspondence.old_sources
        if op not in sources:
            which = "new" if side is new else "old"
            raise BadInput(
                flag,
                f"{name}: not an input of the {which} graph {side.label} (a placeholder, or an "
                "iterator's or queue's output): verify feeds only inputs",
            )
    for new_name, old_name in inputs.items():
        new_op = op_and_port(new_name, new, "--input")[0]
        _one_array_fits_both(f"{new_name}={old_name}", new, new_op, old, paired[new_op])


def _one_array_fits_both(text: str, new: Side, new_op: str, old: Side, old_op: str) -> None:
    """An --input pair is fed one array: both inputs must take its dtype and shape."""
    a, b = new.tensor(f"{new_op}:0"), old.tensor(f"{old_op}:0")
    if a.dtype != b.dtype or not a.shape.is_compatible_with(b.shape):
        raise BadInput(
            "--input",
            f"{text}: the new input takes {a.dtype.name} {_shape_text(a.shape)}, the old one "
            f"{b.dtype.name} {_shape_text(b.shape)}: one array cannot feed both",
        )


def _shape_text(shape) -> str:
    if shape.rank is None:
        return "of any shape"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape.as_list()) + "]"


def _pairs(tensors, correspondence, old: Side, new: Side, where: str, plan: Plan) -> list:
    """The pairs asked for, else the shared frontier and the outputs it does not prove (pairs.py);
    BadInput when there is nothing to compare."""
    if tensors:
        return [given_pair(text, correspondence, new, old) for text in tensors]
    pairs = frontier(correspondence, new) + misplaced_pairs(correspondence, plan)
    pairs += output_pairs(correspondence, new, old)
    if not pairs:
        raise BadInput(where, _NOTHING.format(count=len(plan.restored)))
    return pairs


def _report(plan: Plan, checks, new: Side, old: Side, builder, checked, wrong) -> VerifyReport:
    compared = {name for check in checks for name in check.restored_upstream}
    return VerifyReport(
        verdict=DIFFERS if wrong else overall(checks),
        checkpoint=new.checkpoint,
        old_checkpoint=old.checkpoint,
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
        check_kinds(plan, str(plan_path) if plan_path is not None else "<plan>")
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


def _applied(plan: Plan, path: str) -> str:
    """The file apply wrote, absolute (a remote checkpoint as given): a checkpoint prefix, or
    for a Keras model its .weights.h5."""
    kind = plan.provenance.new_graph_kind
    if kind in MODEL_KINDS and storage.is_remote(path):
        raise BadInput(path, "a model's weights are read from a local path, as apply writes them")
    if kind == NEW_KERAS:
        if not storage.isfile(path):
            raise BadInput(
                path,
                "no weights file here: run graphdiff apply PLAN first, or give --checkpoint FILE",
            )
        return storage.absolute(path)
    index = path + ".index"
    if not storage.isfile(index):
        raise BadInput(
            index,
            "no checkpoint here: run graphdiff apply PLAN first, or give --checkpoint PREFIX",
        )
    data_files(path)
    return storage.absolute(path)


def _check_plan_files(plan: Plan) -> None:
    """The old graph (or model) file, the old checkpoint and the new graph file are those the
    plan was made of."""
    provenance = plan.provenance
    if provenance.old_kind == TF1_META:
        _check_unchanged(provenance.old_meta, _MOVED)
    if provenance.old_model is not None:
        _check_unchanged(provenance.old_model, _MOVED_MODEL)
    try:
        check_fingerprints(plan)
    except BadInput as error:  # verify's --checkpoint is the applied one: name the right flag
        raise BadInput(error.path, error.fault.replace(MOVED_CHECKPOINT, _MOVED)) from None


def _check_unchanged(fingerprint: FileFingerprint, if_moved: str) -> None:
    if not storage.isfile(fingerprint.path):
        raise BadInput(fingerprint.path, f"no such file (the plan was made from it); {if_moved}")
    if sha256_of(fingerprint.path) != fingerprint.sha256:
        raise BadInput(fingerprint.path, CHANGED)


def _check(pair: TensorPair, old_value, new_value, tolerance, correspondence, old, new):
    exact = pair.same_ops or pair.how == MISPLACED
    used = tolerance if tolerance is not None or exact else (DEFAULT_ATOL, DEFAULT_RTOL)
    verdict, max_abs, max_rel = compare(old_value, new_value, used)
    return TensorCheck(
        new=display_name(new, pair.new),
        old=display_name(old, pair.old),
        shape=tuple(np.shape(new_value)),
        old_shape=tuple(np.shape(old_value)),
        max_abs_diff=max_abs,
        max_rel_diff=max_rel,
        verdict=verdict,
        compared=tolerance_text(used),
        restored_upstream=tuple(
            correspondence.restored_upstream([pair.new.rsplit(":", 1)[0]], not with_cuts(pair))
        ),
        paired=AFTER_CUT
        if pair.how == SAME_OPS and correspondence.cut_upstream(pair.new)
        else pair.how,
        note=pair.reason,
    )


def _with_suspects(checks, plan: Plan, old: Side, new: Side) -> tuple[list, list, tuple]:
    """Each restored variable upstream of a compared tensor, read from both sides
    (restored.py): the ones not holding their source's value, and each differing tensor's
    suspects among them."""
    upstream = {name for check in checks for name in check.restored_upstream}
    names = [entry.name for entry in plan.restored if entry.name in upstream]
    wrong = not_holding_sources(plan, old, new, names)
    checks = [
        replace(check, suspects=tuple(n for n in check.restored_upstream if n in wrong))
        if check.verdict == DIFFERS
        else check
        for check in checks
    ]
    return checks, names, wrong


_MOVED = "if the old checkpoint moved, give its prefix with --old-checkpoint PREFIX"
_MOVED_MODEL = "if the old model's .py moved, give it with --old-model FILE"
_NOTHING = (
    "nothing to compare: the plan restores {count} variable(s), but no tensor of the new graph "
    "is computed from them by the same ops as in the old graph (name tensors with --tensor "
    "NEW=OLD to compare them within --atol/--rtol)"
)
