"""Per-run details of the Keras matcher corpus, and precision/recall per class.

    python3 tests/keras_corpus/report.py                  # every run but the pending ones
    python3 tests/keras_corpus/report.py --pending        # the pending runs (known faults)
    python3 tests/keras_corpus/report.py --everything     # all runs, pending ones included
    python3 tests/keras_corpus/report.py --fast           # without the slow (applications) cases
    python3 tests/keras_corpus/report.py tanh_between_relus  # some cases

Runs the current matcher in this process, in a temporary directory (--keep DIR keeps it).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/
sys.path.insert(1, str(Path(__file__).resolve().parent.parent.parent))  # the checkout

from graphdiff.errors import GraphdiffError  # noqa: E402
from keras_corpus.cases import CASE_NAMES, CASES, OLD, runs  # noqa: E402
from keras_corpus.harness import (  # noqa: E402
    CaseError,
    Workspace,
    figure,
    per_class,
    run_id,
)
from keras_corpus.pending_cases import MISSES, PENDING, fault  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", metavar="CASE", help="; ".join(CASE_NAMES))
    chosen_runs = parser.add_mutually_exclusive_group()
    chosen_runs.add_argument("--pending", action="store_true", help="only the pending runs")
    chosen_runs.add_argument("--everything", action="store_true", help="pending runs too")
    parser.add_argument("--fast", action="store_true", help="leave out the slow cases")
    parser.add_argument("--all", action="store_true", help="list every miss")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.cases) - set(CASE_NAMES))
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)}")
    chosen = [
        (case, kind)
        for case, kind in runs(CASES, slow=not args.fast)
        if (not args.cases or case.name in args.cases)
        and (args.everything or (run_id(case, kind) in PENDING) == args.pending)
    ]
    with tempfile.TemporaryDirectory(prefix="graphdiff-keras-corpus-") as tmp:
        workspace = Workspace(Path(args.keep or tmp), OLD)
        outcomes = []
        for case, kind in chosen:
            try:
                outcome = workspace.outcome(case, kind)
            except CaseError as error:
                print(f"== {run_id(case, kind)}: CASE ERROR {error}", flush=True)
                continue
            except GraphdiffError as error:  # a refusal is a finding too: show it, go on
                print(f"== {run_id(case, kind)}: PLAN REFUSED {error}", flush=True)
                continue
            outcomes.append(outcome)
            print_outcome(case, outcome, args.all)
    for line in per_class(outcomes):
        print(line)
    print(figure(outcomes))
    inexact = [o.run for o in outcomes if not o.exact]
    print("runs with a wrong or missed restore:", ", ".join(inexact) or "none")
    worse = [o.run for o in outcomes if o.wrong and fault(o.run) in (None, MISSES)]
    if worse:
        print("runs with a wrong restore that pytest plans (it fails):", ", ".join(worse))
    fixed = [o.run for o in outcomes if o.exact and o.run in PENDING]
    if fixed:
        print("pending runs that are exact now (move them out of pending):", ", ".join(fixed))
    return 0


def print_outcome(case, outcome, show_all: bool) -> None:
    status = "ok" if outcome.exact else ("WRONG" if outcome.wrong else "MISSES")
    print(
        f"== {outcome.run} [{status}] class {outcome.klass}: restores {outcome.restores}, "
        f"correct {outcome.correct}, expected {outcome.expected_restores}, "
        f"wrong {len(outcome.wrong)}, missed {len(outcome.missed)} ({outcome.seconds:.1f}s)"
    )
    if outcome.run in PENDING:
        print(f"   pending: {PENDING[outcome.run]}")
    for name, want, got, method in outcome.wrong:
        print(f"   WRONG  {name}: expected {want or 'initialize'}, got {got} ({method})")
    shown = outcome.missed if show_all else outcome.missed[:10]
    for name, want, reason in shown:
        print(f"   MISSED {name}: expected {want}, initialized: {reason}")
    if len(shown) < len(outcome.missed):
        print(f"   ... and {len(outcome.missed) - len(shown)} more missed (--all lists them)")
    if outcome.split:
        print(f"   layers split across sources: {', '.join(outcome.split)}")
    for line in outcome.candidate_faults:
        print(f"   CANDIDATES {line}")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
