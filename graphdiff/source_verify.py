"""graphdiff verify for a plan of several named sources: each source against its own old graph.

verify compares one old graph with the new one. Here it runs once per source, on that source's
part of the plan (source_plans.py): what the source restored stays restored, the rest reads as
another source's, so the shared frontier of a part is what the new model computes from that
source's variables alone (and the paired inputs), compared with its own old graph. A source
whose variables only ever meet another source's (heads on another run's backbone) has nothing
to compare alone: it is reported so, not as a failure; a plan none of whose sources has
anything to compare is refused (exit 2), as verify refuses a plan of one source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from graphdiff import storage
from graphdiff.apply.fingerprints import with_inputs_at
from graphdiff.errors import BadInput
from graphdiff.plan import Plan
from graphdiff.source_plans import source_part
from graphdiff.verify import OutputsDiffer, VerifyReport, failure_line, format_text, verify_plan
from graphdiff.verify.report import DIFFERS, IDENTICAL, WITHIN

_NOTHING = "nothing to compare"
_MOVED = "--old-checkpoint PREFIX"  # the remedy verify gives for its one source


@dataclass(frozen=True)
class SourceVerdict:
    name: str
    report: VerifyReport | None  # None: nothing of this source's to compare alone
    note: str | None = None


def verify_sources(
    plan: Plan,
    checkpoint=None,
    *,
    feeds=None,
    atol=None,
    rtol=None,
    plan_path=None,
    old_checkpoint=None,
    new_graph=None,
    old_model=None,
) -> list[SourceVerdict]:
    """One SourceVerdict per named source that restored anything, in the plan's order.

    `checkpoint`, `feeds`, `atol`, `rtol`, `plan_path` and `new_graph` are verify_plan's;
    `old_checkpoint` and `old_model` map a source's name to where its checkpoint (its .meta
    moves with it) or its --old-model .py is now, if it moved. Raises BadInput as verify_plan
    does, naming the source.

    >>> [(v.name, v.report and v.report.verdict) for v in verify_sources(plan)]  # doctest: +SKIP
    [('cls', 'identical'), ('det', 'identical')]
    """
    where = str(plan_path) if plan_path is not None else "<plan>"
    if old_checkpoint is not None:
        try:
            plan = with_inputs_at(plan, old_checkpoint)
        except BadInput as error:  # verify's --checkpoint is the applied file
            fault = error.fault.replace("with --checkpoint", "with --old-checkpoint")
            raise BadInput(error.path, fault) from None
    verdicts = []
    for source in plan.provenance.old_sources:
        part = source_part(plan, source.name)
        if not part.restored:
            continue
        try:
            report = verify_plan(
                part,
                checkpoint,
                feeds=feeds,
                atol=atol,
                rtol=rtol,
                plan_path=plan_path,
                new_graph=new_graph,
                old_model=(old_model or {}).get(source.name),
            )
        except BadInput as error:
            if not error.fault.startswith(_NOTHING):
                fault = error.fault.replace(_MOVED, f"--old-checkpoint {source.name}=PREFIX")
                raise BadInput(error.path, f"source {source.name}: {fault}") from None
            note = (
                f"nothing to compare from {source.name} alone: no tensor of the new graph is "
                "computed from its variables without another source's"
            )
            verdicts.append(SourceVerdict(source.name, None, note))
            continue
        verdicts.append(SourceVerdict(source.name, report))
    if not any(v.report for v in verdicts):
        raise BadInput(
            where,
            "nothing to compare: no source's variables compute a tensor of the new graph "
            "without another source's",
        )
    return verdicts


def verdict(verdicts: list[SourceVerdict]) -> str:
    """The worst of the sources' verdicts."""
    found = {v.report.verdict for v in verdicts if v.report}
    return DIFFERS if DIFFERS in found else WITHIN if WITHIN in found else IDENTICAL


def sources_text(verdicts: list[SourceVerdict]) -> str:
    parts = []
    for one in verdicts:
        body = format_text(one.report) if one.report else f"  {one.note}\n"
        parts.append(f"source {one.name}:\n{body}")
    return "\n".join(parts)


def sources_json(verdicts: list[SourceVerdict]) -> str:
    document = {
        "verdict": verdict(verdicts),
        "sources": [
            {"name": v.name, "report": v.report.to_json() if v.report else None, "note": v.note}
            for v in verdicts
        ],
    }
    return json.dumps(document, indent=2, allow_nan=False) + "\n"


def first_failure(verdicts: list[SourceVerdict]) -> str | None:
    """The one line of the first source whose compared tensors differ, if any."""
    for one in verdicts:
        if one.report is not None and one.report.verdict == DIFFERS:
            return f"source {one.name}: {failure_line(one.report)}"
    return None


class SourcesCheck:
    """`apply --verify-outputs` for several sources: verify the staged checkpoint, each
    source against its own old graph; OutputsDiffer (nothing published) when one differs."""

    def __init__(self, plan: Plan, plan_path=None, published: str | None = None):
        self.plan, self.plan_path = plan, plan_path
        self.published = storage.absolute(published or plan.output_prefix)
        self.summary = ""

    def __call__(self, staging_prefix: str) -> None:
        verdicts = verify_sources(self.plan, staging_prefix, plan_path=self.plan_path)
        for one in verdicts:
            if one.report is not None and one.report.verdict == DIFFERS:
                raise OutputsDiffer(replace(one.report, checkpoint=self.published))
        self.summary = "; ".join(
            f"{v.name}: {len(v.report.tensors)} tensor(s) {v.report.verdict.replace('_', ' ')}"
            if v.report
            else f"{v.name}: nothing to compare alone"
            for v in verdicts
        )
