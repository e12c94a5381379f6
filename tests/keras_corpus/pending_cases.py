"""Runs of the Keras corpus the matcher does not get right yet: the matcher team's target.

A run is `case[kind]` (cases.py). Each entry says, in one line, what the plan does wrong
today. pytest does not run these (the project does not commit a known wrong restore as xfail
or skip); report.py does:

    python3 tests/keras_corpus/report.py --pending

When a run comes out exact (no wrong restore, nothing missed), report.py says so: delete its
line here and the collected test (tests/test_keras_matcher_corpus.py) takes it.
"""

from __future__ import annotations

_INCEPTION = (
    "WRONG: every counted name shifted by one; 6 kernels of the mixed blocks' parallel "
    "branches restored by name (old conv2d_36 into new conv2d_36, which is old conv2d_35's "
    "layer), 28 variables left 'fits alike'; the concat's input order tells the branches apart"
)

PENDING: dict[str, str] = {
    "nobias_conv_inserted[weights.h5]": (
        "MISSES: old conv2d_2 (stride 2) left 'fits alike'; the inserted conv has stride 1"
    ),
    "nobias_conv_inserted[tf2]": (
        "MISSES: old conv2d_2 (stride 2) left 'fits alike'; the inserted conv has stride 1"
    ),
    "inceptionv3_stem_conv_made_first[weights.h5]": _INCEPTION,
    "inceptionv3_stem_conv_made_first[keras]": _INCEPTION,
}
