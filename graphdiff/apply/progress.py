"""Progress of a long apply on standard error: bytes and tensors done, rate, time left.

Drawn by tqdm, and only where a person watches: standard error is a terminal, `--quiet` was
not given and `CI` is not set. It appears after a second and a half, so short applies print
nothing.
"""

from __future__ import annotations

import os
import sys


class Progress:
    """Counts bytes written and tensors done; a no-op when not shown."""

    def __init__(self, total_bytes: int, total_tensors: int, shown: bool):
        self._tensors, self._total_tensors = 0, total_tensors
        self._bar = None
        if shown:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total_bytes,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                delay=1.5,
                file=sys.stderr,
                desc="apply",
                leave=False,
            )

    def add_bytes(self, count: int) -> None:
        if self._bar is not None:
            self._bar.update(count)

    def tensor_done(self) -> None:
        self._tensors += 1
        if self._bar is not None:
            self._bar.set_postfix_str(f"{self._tensors}/{self._total_tensors} tensors", False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def progress_wanted(quiet: bool) -> bool:
    """Show progress only to a person: a terminal, not --quiet, not in CI."""
    return not quiet and not os.environ.get("CI") and sys.stderr.isatty()
