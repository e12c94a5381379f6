"""The Keras matcher corpus: real Keras 3 models saved for real, every restore checked.

Each case (tests/keras_corpus/cases.py) tags the layers of an old and a new model, so that
the right source of every new variable follows from how the case was built; each run plans
one case from one kind of old file (`.weights.h5`, `.keras` with or without --old-model, a
TF2 checkpoint, a TF1 checkpoint) with make_plan. A run passes when the plan is exact: no
wrong restore, nothing it should restore left initialized, and the candidates listed where
the case is undecidable by construction. Runs the matcher does not get right yet are in
keras_corpus/pending_cases.py: those with a known wrong restore are not run here, those that
only miss restores must still restore nothing wrongly. Slow ones (keras.applications nets)
run in the report script only:

    python3 tests/keras_corpus/report.py [--pending | --everything] [CASE...]

Old models are built, trained one step and saved once per session; each run is planned once.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import report_in_summary  # noqa: E402
from keras_corpus import harness  # noqa: E402
from keras_corpus.cases import CASES, OLD, runs  # noqa: E402
from keras_corpus.pending_cases import PENDING, WRONG, fault  # noqa: E402

# Keras's TensorFlow backend converts tensors with np.array(x, copy=False) when it trains the
# old models: NumPy 2 warns about that, hundreds of times; that is Keras's business.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

FAST = [(case, kind) for case, kind in runs(CASES, slow=False)]
EXACT = [(c, k) for c, k in FAST if fault(harness.run_id(c, k)) is None]
GUARDED = [(c, k) for c, k in FAST if fault(harness.run_id(c, k)) != WRONG]


def _ids(selected):
    return [harness.run_id(case, kind) for case, kind in selected]


@pytest.fixture(scope="session")
def keras_corpus(tmp_path_factory) -> harness.Workspace:
    return harness.Workspace(tmp_path_factory.mktemp("keras_corpus"), OLD)


@pytest.mark.parametrize(("case", "kind"), EXACT, ids=_ids(EXACT))
def test_plan_is_exact(keras_corpus, case, kind):
    outcome = keras_corpus.outcome(case, kind)
    lines = _wrong_lines(outcome) + [
        f"MISSED {name}: expected {want}: {reason}" for name, want, reason in outcome.missed
    ]
    lines += [f"CANDIDATES {fault}" for fault in outcome.candidate_faults]
    assert not lines, f"{outcome.run} ({case.why}):\n" + "\n".join(lines)


MISSING = [run for run in GUARDED if run not in EXACT]


if MISSING:  # pending runs that only miss and are planned here (the slow ones: report.py)

    @pytest.mark.parametrize(("case", "kind"), MISSING, ids=_ids(MISSING))
    def test_pending_run_restores_nothing_wrongly(keras_corpus, case, kind):
        """Pending for misses only: leaving a variable initialized is allowed, a guess is not."""
        outcome = keras_corpus.outcome(case, kind)
        lines = _wrong_lines(outcome)
        assert not lines, f"{outcome.run} ({case.why}):\n" + "\n".join(lines)


def _wrong_lines(outcome) -> list[str]:
    return [
        f"WRONG {name}: expected {want or 'initialize'}, restored from {got} ({method})"
        for name, want, got, method in outcome.wrong
    ]


def test_pending_runs_are_runs_of_the_corpus():
    every = {harness.run_id(case, kind) for case, kind in runs(CASES)}
    assert not set(PENDING) - every, sorted(set(PENDING) - every)


def test_keras_corpus_precision_and_recall(keras_corpus, request):
    """Precision 1 over every run planned here; recall 1 over the runs not pending."""
    guarded = [keras_corpus.outcome(case, kind) for case, kind in GUARDED]
    exact = [keras_corpus.outcome(case, kind) for case, kind in EXACT]
    precision, *_ = harness.totals(guarded)
    _, recall, *_ = harness.totals(exact)
    summary = [
        harness.figure(guarded, "keras matcher corpus, runs planned here"),
        *harness.per_class(guarded),
        harness.figure(exact, "  of which exact, not pending"),
        f"  pending runs: {len(PENDING)}, of which {len(FAST) - len(GUARDED)} with a wrong "
        "restore are not planned here (python3 tests/keras_corpus/report.py --pending)",
    ]
    report_in_summary(request.config, "keras matcher corpus", summary)
    assert precision == 1.0, summary[0]
    assert recall == 1.0, summary[-2]
