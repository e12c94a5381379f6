"""The restored variables upstream of the compared tensors, read directly from both checkpoints.

A forward pass cannot see a variable the compared tensors do not depend on numerically on the
inputs fed (multiplied by zero, a relu of negatives, zero inputs): they come out identical
whatever it holds. So verify also reads each restored variable upstream of a compared tensor
from the checkpoint verified and its source key from the old checkpoint, and checks that it
holds what the plan puts there, bit for bit (its source's value, with the plan's transforms
applied; for grow, the copied block). Takes the plan, both prefixes and the entry names; gives
the names that do not hold their source's value.
"""

from __future__ import annotations

from graphdiff.apply.written import holds_source_value
from graphdiff.bundle.reader import BundleReader
from graphdiff.plan import Plan


def not_holding_sources(plan: Plan, prefix: str, old_prefix: str, names) -> tuple[str, ...]:
    """Of `names` (plan entries), those whose value in `prefix` is not their source's."""
    names = list(names)
    if not names:
        return ()
    written, source = BundleReader(prefix), BundleReader(old_prefix)
    return tuple(name for name in names if not _holds(written, source, plan.entry(name)))


def _holds(written: BundleReader, source: BundleReader, entry) -> bool:
    if written.entry(entry.name) is None or source.entry(entry.stored_key) is None:
        return False
    try:
        return holds_source_value(written, source, entry)
    except ValueError:  # ranks or shapes the plan's transforms do not account for
        return False
