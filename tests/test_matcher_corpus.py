"""The matcher corpus: real tf_slim nets and hand-written traps, every restore checked.

Each case (tests/corpus/cases.py) saves an old graph as a real checkpoint, plans it against a
new_graph.py with make_plan, and knows the right source of every new variable, slots included;
where the right answer is debatable, the case says why it chose its answer. A case fails on
any wrong restore (another source, or a restore where initialize was expected) and on inferred
rules other than the one or two a person would write. Over the whole corpus:

    precision = correct restores / all restores        must be 1.0
    recall    = correct restores / expected restores   must be at least 0.99

The figure goes to pytest's terminal summary ("matcher corpus" section, also under xdist).
Per-case details (which variable, expected vs got, the rules):
`python tests/corpus/report.py [CASE...]`.
Everything runs in this process: old checkpoints are saved once per session, each case is
planned once and its outcome shared by the tests below.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import report_in_summary  # noqa: E402
from corpus import harness  # noqa: E402
from corpus.cases import CASE_NAMES, CASES, NO_RULES  # noqa: E402

MIN_RECALL = 0.99

# tf_slim's layers call the deprecated Layer.apply; that is slim's business, not the corpus'.
pytestmark = pytest.mark.filterwarnings("ignore:`layer.apply` is deprecated:UserWarning")


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> harness.Workspace:
    return harness.Workspace(tmp_path_factory.mktemp("matcher_corpus"))


@pytest.mark.parametrize("case", CASES, ids=CASE_NAMES)
def test_no_wrong_restore(corpus, case):
    outcome = corpus.outcome(case)
    lines = [
        f"{name}: expected {want or 'initialize'}, restored from {got} ({method})"
        for name, want, got, method in outcome.wrong
    ]
    assert not lines, f"{case.name}: {len(lines)} wrong restore(s)\n" + "\n".join(lines)


RULED = [case for case in CASES if case.rules is not None]


@pytest.mark.parametrize("case", RULED, ids=[case.name for case in RULED])
def test_inferred_rules_read_as_written(corpus, case):
    """Moved and renamed cases: one or two rules, as a person would write them; else none."""
    outcome = corpus.outcome(case)
    inferred = frozenset((r.kind, r.old, r.new) for r in outcome.rules)
    if case.rules != NO_RULES:
        assert 1 <= len(inferred) <= 2, f"{case.name}: {harness.describe_rules(outcome.rules)}"
    assert outcome.rules_ok, (
        f"{case.name}: inferred {harness.describe_rules(outcome.rules) or 'no rule'}; "
        f"expected one of {[sorted(option) for option in case.rules]}"
    )


AMBIGUOUS = [case for case in CASES if case.ambiguous]


@pytest.mark.parametrize("case", AMBIGUOUS, ids=[case.name for case in AMBIGUOUS])
def test_ambiguous_variables_list_their_candidates(corpus, case):
    corpus.outcome(case)
    plan = corpus.plans[case.name]
    faults = []
    for pattern, keys in case.ambiguous:
        hits = [entry for entry in plan.variables if re.search(pattern, entry.name)]
        if not hits:
            raise harness.CaseError(f"{case.name}: '{pattern}' matches no new variable")
        for entry in hits:
            if not set(keys) <= set(entry.candidates):
                faults.append(f"{entry.name}: candidates {list(entry.candidates)}, want {keys}")
    assert not faults, f"{case.name}:\n" + "\n".join(faults)


def test_corpus_precision_and_recall(corpus, request):
    outcomes = [corpus.outcome(case) for case in CASES]
    precision, recall, *_ = harness.totals(outcomes)
    figure = harness.figure(outcomes)
    summary = [figure] + [
        f"  {o.case}: {len(o.wrong)} wrong, {len(o.missed)} missed, "
        f"rules {'as expected' if o.rules_ok else 'UNEXPECTED'}"
        for o in outcomes
        if o.wrong or o.missed or not o.rules_ok
    ]
    report_in_summary(request.config, "matcher corpus", summary)
    assert precision == 1.0, figure
    assert recall >= MIN_RECALL, figure
