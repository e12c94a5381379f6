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

_INCEPTION = (
    "WRONG: every counted name shifted by one; 6 kernels of the mixed blocks' parallel "
    "branches restored by name (old conv2d_36 into new conv2d_36, which is old conv2d_35's "
    "layer), 28 variables left 'fits alike'; the concat's input order tells the branches apart"
)
_RESIDUAL = (
    "MISSES: the old residual block's convs (relu, then Add + ReLU) left 'fits alike' with "
    "the inserted block's (elu, then Add + ELU)"
)
_LAYERNORM = (
    "MISSES: old gelu dense_1 and its LayerNorm left 'fits alike' with the inserted silu "
    "dense + LayerNorm"
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
    "residual_block_inserted[weights.h5]": _RESIDUAL,
    "residual_block_inserted[keras]": _RESIDUAL,
    "residual_block_inserted[tf2]": _RESIDUAL,
    "layernorm_block_inserted[weights.h5]": _LAYERNORM,
    "layernorm_block_inserted[keras]": _LAYERNORM,
    "layernorm_block_inserted[tf2]": _LAYERNORM,
}

WRONG = "WRONG"
MISSES = "MISSES"


def fault(run: str) -> str | None:
    """WRONG or MISSES for a pending run (what its line starts with), None if not pending."""
    if run not in PENDING:
        return None
    return WRONG if PENDING[run].startswith(WRONG) else MISSES
