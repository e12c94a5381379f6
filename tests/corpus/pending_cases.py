"""Matcher corpus cases the matcher does not get fully right yet: restores it misses.

None of them restores wrongly any more (the wrong restores the adversarial review found are
fixed and their cases live in cases.py); each initializes variables it could have restored.

Same structure as cases.py (Case, OLD_GRAPHS, CASES, CASE_NAMES), but pytest does not collect
these, and cases.py does not import this module: the project does not commit a wrong restore as
xfail or skip. Run them with

    python tests/corpus/report.py --pending [CASE...]

When the matcher gets a case right, move it (and its old
graph, if it has its own) to cases.py.
"""

from __future__ import annotations

from .cases import OLD_GRAPHS as _CORPUS_OLD_GRAPHS
from .cases import Case, rules

OLD_GRAPHS = {
    **_CORPUS_OLD_GRAPHS,
}


CASES = (
    # --- missed restores -----------------------------------------------------------------------
    Case(
        "towers_one_extra",
        "chain",
        """
        with nets.variables():
            with nets.scope("tower_0"):
                nets.chain()
            with nets.scope("tower_1"):
                nets.chain(("enc1", "enc2", "enc3"))
        """,
        renames=(("^tower_[01]/", ""),),
        fresh=("^tower_1/enc3/",),
        rules=rules({("prefix", "", "tower_0"), ("prefix", "", "tower_1")}),
        why="Two towers from one pretrained net, tower_1 with an extra block appended. Both "
        "towers restore every old variable; only tower_1/enc3 is new. One extra block must not "
        "cost tower_1 its whole restore.",
    ),
)

CASE_NAMES = tuple(case.name for case in CASES)
assert len(set(CASE_NAMES)) == len(CASES), "case names must be unique"
