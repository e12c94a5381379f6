"""One named source's part of a plan, as a plan of that one source.

What compares one old graph with the new one (verify) runs once per source on its part: the
entries restored from that source stay restored (its keys, its fingerprints), every other
variable reads as initialized ("from another source"), so that what the part shares with its
old graph is exactly what that source gave. The part is plain data, a format-1 plan: the code
that reads one source needs nothing new.
"""

from __future__ import annotations

import dataclasses

from graphdiff.plan import (
    FORMAT_VERSION,
    INITIALIZE,
    RESTORE,
    Plan,
    VariableEntry,
    with_old_sources,
)


def source_part(plan: Plan, name: str | None) -> Plan:
    """`plan` as if `name` were its one unnamed source (KeyError: no such source)."""
    old = dataclasses.replace(plan.provenance.old_source(name), name=None)
    return dataclasses.replace(
        plan,
        format_version=FORMAT_VERSION,
        provenance=with_old_sources(plan.provenance, [old]),
        variables=tuple(_as_part(entry, name) for entry in plan.variables),
        unused=tuple(
            dataclasses.replace(u, source_name=None) for u in plan.unused if u.source_name == name
        ),
        rules=tuple(
            dataclasses.replace(r, source_name=None)
            for r in plan.rules
            if r.source_name in (None, name)
        ),
        scopes=(),
    )


def _as_part(entry: VariableEntry, name: str | None) -> VariableEntry:
    resolution = entry.shape_resolution
    if resolution is not None:
        resolution = dataclasses.replace(resolution, source_name=None)
    plain = dataclasses.replace(
        entry, source_name=None, alternatives=(), candidates=(), shape_resolution=resolution
    )
    if entry.action == RESTORE and entry.source_name == name:
        return plain
    if entry.action == RESTORE:
        return dataclasses.replace(
            plain,
            action=INITIALIZE,
            source=None,
            match=None,
            stored_as=None,
            transforms=(),
            reason=f"from source {entry.source_name}, not this part's",
        )
    return plain
