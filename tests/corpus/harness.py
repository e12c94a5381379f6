"""Run the corpus: save old graphs as checkpoints, plan every case, score each plan.

`Workspace(root)` builds each old graph once (a real checkpoint written by Saver, with the
initializers' values) and plans each case once, in this process, with `make_plan`
(`Workspace(root, old_graphs)` takes the old graphs of another set of cases, such as
pending_cases.py's). `score`
compares a plan with the case's expected sources; `totals` gives precision and recall:

    precision = correct restores / all restores
    recall    = correct restores / expected restores

A restore is correct when its source is the expected key; restoring a variable that must be
initialized, or from another key, is a wrong restore.
"""

from __future__ import annotations

import re
import runpy
import shutil
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

from graphdiff.plan import RESTORE, Plan, Rule

from .cases import CASES, OLD_GRAPHS, Case

NETS = Path(__file__).resolve().parent / "corpus_nets.py"

_SOURCE = '''"""{doc}"""

import corpus_nets as nets
import tensorflow as tf


def build_graph():
{body}
'''


class CaseError(Exception):
    """The case itself is wrong (a source the checkpoint lacks, a regex that matches nothing)."""


@dataclass
class Outcome:
    case: str
    restores: int = 0
    correct: int = 0
    expected_restores: int = 0
    wrong: list[tuple[str, str | None, str, str]] = field(default_factory=list)
    # (new variable, expected source or None, restored from, match method)
    missed: list[tuple[str, str, str]] = field(default_factory=list)
    # (new variable, expected source, the plan's reason)
    rules: tuple[Rule, ...] = ()  # inferred
    rules_ok: bool = True
    seconds: float = 0.0


def write_source(directory: Path, filename: str, body: str, doc: str) -> Path:
    """Write a graph source (build_graph() around `body`) with corpus_nets.py beside it."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(NETS, directory / "corpus_nets.py")
    body = textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
    path = directory / filename
    path.write_text(_SOURCE.format(doc=doc, body=body))
    return path


def save_checkpoint(source: Path, prefix: Path) -> dict[str, tuple[int, ...]]:
    """Build `source` in a fresh graph, save it with Saver at `prefix`; return key -> shape."""
    from graphdiff.tf_import import tensorflow

    tf = tensorflow()
    v1 = tf.compat.v1
    v1.disable_eager_execution()  # graphdiff does the same; v2 behavior otherwise stays on
    graph = tf.Graph()
    sys.path.insert(0, str(source.parent))
    try:
        with graph.as_default():
            runpy.run_path(str(source), run_name="__corpus_old_graph__")["build_graph"]()
            saver = v1.train.Saver()
            with v1.Session() as session:
                # Trainable variables first: others (moving averages) start from their values.
                trainable = v1.trainable_variables()
                session.run(v1.variables_initializer(trainable))
                rest = [v for v in v1.global_variables() if v not in trainable]
                session.run(v1.variables_initializer(rest))
                saver.save(session, str(prefix))
    finally:
        sys.path.remove(str(source.parent))
    return {name: tuple(shape) for name, shape in tf.train.list_variables(str(prefix))}


class Workspace:
    """Old checkpoints and plans under `root`, each made once, on first use."""

    def __init__(self, root: Path, old_graphs: dict[str, str] = OLD_GRAPHS):
        self.root = Path(root)
        self.old_graphs = old_graphs
        self._checkpoints: dict[str, tuple[Path, dict]] = {}
        self._outcomes: dict[str, Outcome] = {}
        self.plans: dict[str, Plan] = {}

    def checkpoint(self, old: str) -> tuple[Path, dict[str, tuple[int, ...]]]:
        if old not in self._checkpoints:
            directory = self.root / "old" / old
            source = write_source(
                directory, "old_graph.py", self.old_graphs[old], f"Old graph {old}."
            )
            prefix = directory / "model.ckpt"
            self._checkpoints[old] = (prefix, save_checkpoint(source, prefix))
        return self._checkpoints[old]

    def outcome(self, case: Case) -> Outcome:
        if case.name not in self._outcomes:
            from graphdiff.planning import make_plan

            prefix, keys = self.checkpoint(case.old)
            new_graph = write_source(
                self.root / "new" / case.name, "new_graph.py", case.new, case.why
            )
            start = time.perf_counter()
            plan = make_plan(f"{prefix}.meta", new_graph)
            seconds = time.perf_counter() - start
            self.plans[case.name] = plan
            self._outcomes[case.name] = score(case, plan, keys)
            self._outcomes[case.name].seconds = seconds
        return self._outcomes[case.name]

    def outcomes(self) -> list[Outcome]:
        """The outcomes of the cases planned so far, in the order they were planned."""
        return list(self._outcomes.values())


def expected_sources(case: Case, names, keys: dict) -> dict[str, str | None]:
    """new variable -> checkpoint key it must be restored from, or None (initialize)."""
    fresh = [re.compile(pattern) for pattern in case.fresh]
    renames = [(re.compile(pattern), new) for pattern, new in case.renames]
    used = set()
    expected = {}
    for name in names:
        hit = next((p for p in fresh if p.search(name)), None)
        if hit:
            used.add(hit.pattern)
            expected[name] = None
            continue
        source = name
        for pattern, replacement in renames:
            if pattern.search(name):
                used.add(pattern.pattern)
                source = pattern.sub(replacement, name, count=1)
                break
        if source not in keys:
            raise CaseError(
                f"{case.name}: expected source '{source}' of '{name}' not in checkpoint"
            )
        expected[name] = source
    unused = [p for p in (*case.fresh, *(p for p, _ in case.renames)) if p not in used]
    if unused:
        raise CaseError(f"{case.name}: patterns that match no new variable: {unused}")
    return expected


def score(case: Case, plan: Plan, keys: dict) -> Outcome:
    expected = expected_sources(case, [e.name for e in plan.variables], keys)
    outcome = Outcome(case.name)
    for entry in plan.variables:
        want = expected[entry.name]
        if want is not None:
            if entry.action != RESTORE and entry.shape is not None and entry.shape != keys[want]:
                raise CaseError(
                    f"{case.name}: '{entry.name}' has shape {entry.shape}, "
                    f"its expected source '{want}' {keys[want]}"
                )
            outcome.expected_restores += 1
        if entry.action == RESTORE:
            outcome.restores += 1
            if entry.source == want:
                outcome.correct += 1
            else:
                method = entry.match.method if entry.match else "?"
                outcome.wrong.append((entry.name, want, entry.source, method))
        elif want is not None:
            outcome.missed.append((entry.name, want, entry.reason))
    outcome.rules = tuple(r for r in plan.rules if r.origin == "inferred")
    if case.rules is not None:
        outcome.rules_ok = frozenset((r.kind, r.old, r.new) for r in outcome.rules) in case.rules
    return outcome


def totals(outcomes) -> tuple[float, float, int, int, int]:
    """(precision, recall, correct, restores, expected restores) over the outcomes."""
    outcomes = list(outcomes)
    correct = sum(o.correct for o in outcomes)
    restores = sum(o.restores for o in outcomes)
    expected = sum(o.expected_restores for o in outcomes)
    precision = correct / restores if restores else 1.0
    recall = correct / expected if expected else 1.0
    return precision, recall, correct, restores, expected


def figure(outcomes) -> str:
    precision, recall, correct, restores, expected = totals(outcomes)
    outcomes = list(outcomes)
    return (
        f"matcher corpus ({len(outcomes)} cases): precision {precision:.4f} "
        f"({correct}/{restores} restores correct), recall {recall:.4f} "
        f"({correct}/{expected} expected restores)"
    )


def describe_rules(rules) -> str:
    return "; ".join(f"{r.kind} '{r.old}' -> '{r.new}' (support {r.support})" for r in rules)


def case_by_name(name: str) -> Case:
    for case in CASES:
        if case.name == name:
            return case
    raise KeyError(name)
