"""Per-case details of the matcher corpus: wrong restores, missed restores, inferred rules.

    python tests/corpus/report.py                 # every case
    python tests/corpus/report.py siblings_shift  # some cases
    python tests/corpus/report.py --all           # list every miss, not the first 10
    python tests/corpus/report.py --pending       # the cases of pending_cases.py (known faults)

Runs the current matcher in this process, in a temporary directory (--keep DIR keeps it).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/, for `corpus`
sys.path.insert(1, str(Path(__file__).resolve().parent.parent.parent))  # the checkout

from corpus.cases import CASE_NAMES, CASES, OLD_GRAPHS  # noqa: E402
from corpus.harness import CaseError, Workspace, describe_rules, figure  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", metavar="CASE", help="; ".join(CASE_NAMES))
    parser.add_argument("--all", action="store_true", help="list every miss")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it")
    parser.add_argument(
        "--pending",
        action="store_true",
        help="run the cases of pending_cases.py (not collected by pytest) instead",
    )
    args = parser.parse_args(argv)
    cases, names, old_graphs = CASES, CASE_NAMES, OLD_GRAPHS
    if args.pending:
        from corpus import pending_cases

        cases, old_graphs = pending_cases.CASES, pending_cases.OLD_GRAPHS
        names = pending_cases.CASE_NAMES
    unknown = sorted(set(args.cases) - set(names))
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)}")
    chosen = [c for c in cases if not args.cases or c.name in args.cases]
    with tempfile.TemporaryDirectory(prefix="graphdiff-corpus-") as tmp:
        workspace = Workspace(Path(args.keep or tmp), old_graphs)
        outcomes = []
        for case in chosen:
            try:
                outcome = workspace.outcome(case)
            except CaseError as error:
                print(f"== {case.name}: CASE ERROR {error}")
                continue
            outcomes.append(outcome)
            print_outcome(case, outcome, args.all)
        print(figure(outcomes))
    failed = [o.case for o in outcomes if o.wrong or not o.rules_ok]
    print("cases with wrong restores or unexpected rules:", ", ".join(failed) or "none")
    return 0


def print_outcome(case, outcome, show_all: bool) -> None:
    status = "ok" if not outcome.wrong and outcome.rules_ok else "FAIL"
    print(
        f"== {case.name} [{status}] restores {outcome.restores}, correct {outcome.correct}, "
        f"expected {outcome.expected_restores}, wrong {len(outcome.wrong)}, "
        f"missed {len(outcome.missed)} ({outcome.seconds:.1f}s)"
    )
    for name, want, got, method in outcome.wrong:
        print(
            f"   WRONG  {name}: expected {want or 'initialize'}, got restore from {got} ({method})"
        )
    shown = outcome.missed if show_all else outcome.missed[:10]
    for name, want, reason in shown:
        print(f"   MISSED {name}: expected {want}, initialized: {reason}")
    if len(shown) < len(outcome.missed):
        print(f"   ... and {len(outcome.missed) - len(shown)} more missed (--all lists them)")
    rules = describe_rules(outcome.rules) or "none"
    mark = "" if outcome.rules_ok else f"  <- expected one of {[sorted(r) for r in case.rules]}"
    print(f"   rules inferred: {rules}{mark}")


if __name__ == "__main__":
    sys.exit(main())
