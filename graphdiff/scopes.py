"""The scope-level truth of a plan: which subtrees are shared (old -> new), new, or removed.

A reviewer should see a dozen lines, not 10,000 variables, so scopes are collapsed to the
largest subtree that behaves uniformly: every variable restored (shared; through one rename
of its scope from one source, or from several old scopes), every variable initialized (new),
some of each (partial), or every key of a source unused: removed (nothing in the new graph
matches it) or, with several sources, not taken (another source gives what it could). `show`,
the picture and the summary `plan` prints count scopes this way.
"""

from __future__ import annotations

from graphdiff.plan import RESTORE, ScopeSummary, UnusedKey, VariableEntry

ROOT = "(root)"
REMOVED, NOT_TAKEN = "removed", "not_taken"


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
        fates = {u.key: _fate(u) for u in unused if u.source_name == source_name}
        old_items = [(tuple(k.split("/")), fates.get(k)) for k in keys]
        _collapse_old((), old_items, summaries, source_name)
    return summaries


def _fate(unused: UnusedKey) -> str:
    """What an unused key is: removed (nothing in the new graph matches it), or not taken
    (another source gives what it could have given)."""
    return NOT_TAKEN if unused.reason.startswith("not taken:") else REMOVED


def _join(parts) -> str:
    return "/".join(parts) if parts else ROOT


def _shared_prefix(prefix: tuple, items) -> str | None:
    """The old scope all these restored variables come from by one rename of their scopes, if
    there is one (leaf names may differ: Keras's `A/kernel` restored from TF1's `A/w`)."""
    old_prefix = None
    if len({entry.source_name for _, entry in items}) > 1:
        return None  # from several sources: no one old scope
    for parts, entry in items:
        if entry.action != RESTORE:
            return None
        relative = parts[len(prefix) : -1]
        source = tuple(entry.source.split("/"))[:-1]
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
        # Every variable restored is shared (as `show` and the picture count it), from one old
        # scope or, when they come from several, from none in particular (old: None).
        status = "shared" if restored == len(direct) else ("new" if restored == 0 else "partial")
        source = direct[0][1].source_name if old is not None else None
        out.append(
            ScopeSummary(
                status, old, _join(prefix), restored, len(direct) - restored, source_name=source
            )
        )
    for child, group in _children(prefix, items):
        _collapse_new(prefix + (child,), group, out)


def _collapse_old(prefix: tuple, items, out: list, source) -> None:
    fates = {fate for _, fate in items}
    if prefix and len(fates) == 1 and None not in fates:
        (fate,) = fates
        out.append(ScopeSummary(fate, _join(prefix), None, unused=len(items), source_name=source))
        return
    direct = [fate for parts, fate in items if len(parts) == len(prefix) + 1]
    for fate in (REMOVED, NOT_TAKEN):
        if fate in direct:
            out.append(
                ScopeSummary(
                    fate, _join(prefix), None, unused=direct.count(fate), source_name=source
                )
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
