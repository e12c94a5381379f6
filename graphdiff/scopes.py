"""The scope-level truth of a plan: which subtrees are shared (old -> new), new, or removed.

A reviewer should see a dozen lines, not 10,000 variables, so scopes are collapsed to the
largest subtree that behaves uniformly: every variable restored through one prefix rename
from one source (shared), every variable initialized (new), or every key of a source unused
(removed).
"""

from __future__ import annotations

from graphdiff.plan import RESTORE, ScopeSummary, UnusedKey, VariableEntry

ROOT = "(root)"


def scope_of(name: str) -> str:
    """The scope a variable lives in: everything before its last '/' ('(root)' for none)."""
    return name.rsplit("/", 1)[0] if "/" in name else ROOT


def summarize(
    entries: list[VariableEntry], unused: list[UnusedKey], old_keys: dict
) -> list[ScopeSummary]:
    """Summaries for model variables (slots and optimizer state follow them, so are left out).

    `old_keys` maps each source's name (None: the unnamed one) to its model keys, in order.
    """
    model = [e for e in entries if e.role == "model"]
    new_items = [(tuple(e.name.split("/")), e) for e in model]
    summaries = []
    _collapse_new((), new_items, summaries)
    for source_name, keys in old_keys.items():
        unused_keys = {u.key for u in unused if u.source_name == source_name}
        old_items = [(tuple(k.split("/")), k in unused_keys) for k in keys]
        _collapse_old((), old_items, summaries, source_name)
    return summaries


def _join(parts) -> str:
    return "/".join(parts) if parts else ROOT


def _shared_prefix(prefix: tuple, items) -> str | None:
    """The old scope all these restored variables come from by one rename, if there is one."""
    old_prefix = None
    if len({entry.source_name for _, entry in items}) > 1:
        return None  # from several sources: no one old scope
    for parts, entry in items:
        if entry.action != RESTORE:
            return None
        relative = parts[len(prefix) :]
        source = tuple(entry.source.split("/"))
        if len(source) < len(relative) or source[len(source) - len(relative) :] != relative:
            return None
        head = source[: len(source) - len(relative)]
        if old_prefix is None:
            old_prefix = head
        elif head != old_prefix:
            return None
    return _join(old_prefix)


def _collapse_new(prefix: tuple, items, out: list) -> None:
    if prefix:
        restored = sum(e.action == RESTORE for _, e in items)
        if restored == 0:
            out.append(ScopeSummary("new", None, _join(prefix), 0, len(items)))
            return
        old = _shared_prefix(prefix, items)
        if old is not None:
            source = items[0][1].source_name
            out.append(ScopeSummary("shared", old, _join(prefix), restored, 0, source_name=source))
            return
    direct = [(p, e) for p, e in items if len(p) == len(prefix) + 1]
    if direct:
        restored = sum(e.action == RESTORE for _, e in direct)
        old = _shared_prefix(prefix, direct) if restored == len(direct) else None
        status = "shared" if old is not None else ("new" if restored == 0 else "partial")
        source = direct[0][1].source_name if old is not None else None
        out.append(
            ScopeSummary(
                status, old, _join(prefix), restored, len(direct) - restored, source_name=source
            )
        )
    for child, group in _children(prefix, items):
        _collapse_new(prefix + (child,), group, out)


def _collapse_old(prefix: tuple, items, out: list, source) -> None:
    if prefix and all(is_unused for _, is_unused in items):
        out.append(
            ScopeSummary("removed", _join(prefix), None, unused=len(items), source_name=source)
        )
        return
    direct_unused = sum(u for p, u in items if len(p) == len(prefix) + 1)
    if direct_unused:
        out.append(
            ScopeSummary("removed", _join(prefix), None, unused=direct_unused, source_name=source)
        )
    for child, group in _children(prefix, items):
        _collapse_old(prefix + (child,), group, out, source)


def _children(prefix: tuple, items):
    groups: dict[str, list] = {}
    for item in items:
        parts = item[0]
        if len(parts) > len(prefix) + 1:
            groups.setdefault(parts[len(prefix)], []).append(item)
    return sorted(groups.items())
