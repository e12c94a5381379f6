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

_HEAD_BESIDE = (
    "MISSES: predictions renamed main with an alike head 'aux' beside it on the same features: "
    "both left initialized; only the outputs' order (main is output 0, as predictions was) "
    "tells, and a walk paired by position is weak evidence"
)

_GRU = (
    "MISSES: a GRU of g2's shapes inserted before g2: old gru_1 left for a decision between new "
    "gru_1 and gru_2, though only gru_2 returns one step (return_sequences) and feeds the dense, "
    "as the old one did; the recurrent ops run inside a while loop the walks do not look into"
)
_CONTAINER = (
    "MISSES: an identical relu dense made first in a named decoder: e2 (encoder/dense_1 on both "
    "sides) is left undecided with the decoder's alike layers; the chosen container name "
    "'encoder' should settle it"
)

PENDING: dict[str, str] = {
    "gru_inserted_between_grus[weights.h5]": _GRU,
    "decoder_relu_inserted_encoder_kept[weights.h5]": _CONTAINER,
    "head_renamed_alike_head_beside[weights.h5]": _HEAD_BESIDE,
    "head_renamed_alike_head_beside[keras]": _HEAD_BESIDE,
}

WRONG = "WRONG"
MISSES = "MISSES"


def fault(run: str) -> str | None:
    """WRONG or MISSES for a pending run (what its line starts with), None if not pending."""
    if run not in PENDING:
        return None
    return WRONG if PENDING[run].startswith(WRONG) else MISSES
