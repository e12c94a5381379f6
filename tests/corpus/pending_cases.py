"""Matcher corpus cases the matcher does not get right yet: a place for findings awaiting a fix.

Empty today: every case the adversarial review found (11 wrong restores, 6 misses) is fixed and
lives in cases.py. Same structure as cases.py (Case, OLD_GRAPHS, CASES, CASE_NAMES), but
pytest does not collect these and cases.py does not import this module, because the project
does not commit a known wrong restore as xfail or skip. Run them with

    python tests/corpus/report.py --pending [CASE...]

When the matcher gets a case right, move it (and its old graph, if it has its own) to cases.py.
"""

from __future__ import annotations

from .cases import OLD_GRAPHS as _CORPUS_OLD_GRAPHS
from .cases import Case  # noqa: F401 - what a pending case is made of

OLD_GRAPHS = dict(_CORPUS_OLD_GRAPHS)

CASES: tuple = ()

CASE_NAMES = tuple(case.name for case in CASES)
