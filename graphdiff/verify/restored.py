"""The restored variables upstream of the compared tensors, read directly from both sides.

A forward pass cannot see a variable the compared tensors do not depend on numerically on the
inputs fed (multiplied by zero, a relu of negatives, zero inputs): they come out identical
whatever it holds. So verify also reads each restored variable upstream of a compared tensor
as the new side holds it (the checkpoint verified, or the model the applied file was loaded
into) and its source as the old side holds it (the old checkpoint, or the old model with its
file loaded), and checks that it holds what the plan puts there, bit for bit (its source's
value, with the plan's transforms applied; for grow, the copied block). Takes the plan, both
Sides and the entry names; gives the names that do not hold their source's value.
"""

from __future__ import annotations

import numpy as np

from graphdiff.apply.written import holds_source_value
from graphdiff.plan import Plan
from graphdiff.transforms import apply_transforms, grows


def not_holding_sources(plan: Plan, old, new, names) -> tuple[str, ...]:
    """Of `names` (plan entries), those whose value on the `new` Side is not their source's
    value on the `old` Side."""
    return tuple(name for name in names if not _holds(old.values, new.values, plan.entry(name)))


def _holds(source, written, entry) -> bool:
    bundles = getattr(source, "reader", None), getattr(written, "reader", None)
    if None not in bundles:  # two tensor bundles: compared by their stored bytes where they can
        theirs, ours = bundles
        if ours.entry(entry.name) is None or theirs.entry(entry.stored_key) is None:
            return False
        try:
            return holds_source_value(ours, theirs, entry)
        except ValueError:  # ranks or shapes the plan's transforms do not account for
            return False
    try:
        ours = np.asarray(written.array(entry.name))
        raw = np.asarray(source.array(entry.source))
    except KeyError:
        return False
    if grows(entry):  # the block copied in, the rest initialized
        block = tuple(slice(0, min(a, b)) for a, b in zip(ours.shape, raw.shape, strict=False))
        return ours.ndim == raw.ndim and (
            ours[block].tobytes() == raw[block].astype(ours.dtype).tobytes()
        )
    try:
        theirs = apply_transforms(raw, entry.transforms, None)
    except ValueError:
        return False
    if ours.dtype != theirs.dtype or ours.shape != theirs.shape:
        return False
    if ours.dtype == object:  # strings: compare the values, not the pointers
        return bool(np.array_equal(ours, theirs))
    return ours.tobytes() == theirs.tobytes()
