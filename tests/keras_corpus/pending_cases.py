"""Runs of the Keras corpus the matcher does not get right yet: the matcher team's target.

A run is `case[kind]` (cases.py). Each entry says, in one line, what the plan does wrong on
main today, and starts with its kind of fault:

- `WRONG`: the plan restores a tensor into a variable it does not belong to. pytest does not
  run these (the project does not commit a known wrong restore as xfail or skip);
- `MISSES`: nothing is restored wrongly, some variables are left initialized. pytest still
  plans these (unless slow) and fails if one of them ever restores something wrongly: a
  change that turns a miss into a guess is caught.

    python3 tests/keras_corpus/report.py --pending

When a run comes out exact (no wrong restore, nothing missed), report.py says so: delete its
line here and the collected test (tests/test_keras_matcher_corpus.py) requires it exact.
"""

from __future__ import annotations

_NORMALIZATION = (
    "MISSES: EfficientNetB0's own Normalization left initialized beside the inserted one of its "
    "shapes: Keras's Normalization computes with constants made from its mean and variance "
    "(finalize_state), so no op reads those variables and the graph cannot place them; their "
    "name only counts"
)
PENDING: dict[str, str] = {
    "efficientnetb0_normalization_made_first[weights.h5]": _NORMALIZATION,
    "efficientnetb0_normalization_made_first[keras]": _NORMALIZATION,
    "efficientnetb0_normalization_made_first[tf2]": _NORMALIZATION,
}

WRONG = "WRONG"
MISSES = "MISSES"


def fault(run: str) -> str | None:
    """WRONG or MISSES for a pending run (what its line starts with), None if not pending."""
    if run not in PENDING:
        return None
    return WRONG if PENDING[run].startswith(WRONG) else MISSES
