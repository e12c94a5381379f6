"""SOURCE_DATE_EPOCH (reproducible-builds.org): the creation time a reproducible plan records.

Checked before TensorFlow is imported: numpy, which TensorFlow imports, reads the variable too
and dies on a value that is not a whole number. `plan` refuses a malformed value (exit 2, the
variable named); the other commands do not use it and drop it from their environment instead.
An empty value counts as unset.
"""

from __future__ import annotations

import os

from graphdiff.errors import BadInput

NAME = "SOURCE_DATE_EPOCH"
LATEST = 253402300799  # 9999-12-31T23:59:59Z: the last second an ISO 8601 year can show


def source_date_epoch() -> int | None:
    """The variable's value in seconds; None when unset or empty; BadInput when malformed."""
    text = os.environ.get(NAME, "")
    if text == "":
        return None
    if not (text.isascii() and text.isdigit()) or int(text) > LATEST:
        raise BadInput(
            NAME,
            f"'{text}' is not a time in seconds since 1970 (a whole number from 0 to {LATEST})",
        )
    return int(text)


def settle_source_date_epoch(used: bool) -> None:
    """Before TensorFlow is imported: check the variable when `used`, else drop a bad one."""
    try:
        value = source_date_epoch()
    except BadInput:
        if used:
            raise
        value = None
    if value is None:
        os.environ.pop(NAME, None)
