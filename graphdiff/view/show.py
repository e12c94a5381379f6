"""The plan as text: a table for the terminal, or markdown to paste into a pull request.

In: a diffview.View, the one the picture draws, so both give the same counts. Out: a string.
First the totals, then one line a box (`=` restored, `~` partly, `+` new, `-` unused), then
what needs a look (variables left for a decision, shapes taken from the checkpoint, inferred
rename rules, variables initialized by policy), the unused keys by scope and reason, and a
last count line in the manner of `terraform plan`.

    print(format_text(build_view(plan)))
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from graphdiff.console import ASCII_MARKS
from graphdiff.view.boxes import Box
from graphdiff.view.diffview import View, describe, describe_rule, merged_unused
from graphdiff.view.quantities import compact, plural
from graphdiff.view.render_labels import (
    UNUSED_GROUPS,
    count_lines,
    title_lines,
    variable_fate,
    variable_shape,
)
from graphdiff.view.scopetree import (
    ROOT,
    Item,
    display_name,
    source_of,
    thin_evidence,
    within_source,
)

SYMBOL = {"shared": "=", "partial": "~", "new": "+", "removed": "-"}
LOOK_LINES = 10
FORMATS = ("text", "markdown")


@dataclass(frozen=True)
class Look:
    """One thing for a reviewer to check: its kind, the name, and what to check."""

    kind: str  # "decision", "thin", "shape", "rule", "policy"
    name: str
    detail: str


def format_plan(view: View, fmt: str = "text", ascii_only: bool = False) -> str:
    """`fmt` "text" or "markdown"; ascii_only: graphdiff's own marks as ASCII (`→` as `->`),
    for a terminal that cannot print them (names keep their characters: the stream escapes)."""
    if fmt == "markdown":
        text = format_markdown(view)
        return text.translate(ASCII_MARKS) if ascii_only else text
    return format_text(view, ascii_only)


def format_text(view: View, ascii_only: bool = False) -> str:
    old, new = view.files
    lines = [f"{old} \u2192 {new}", *title_lines(view), ""]
    lines += [_heading(view), *_scope_lines(view, ascii_only), ""]
    looks = needs_a_look(view)
    if looks:
        lines.append("needs a look")
        lines += [f"  {kind:<9} {text}" for kind, text in _look_lines(looks)]
        lines.append("")
    if view.unused:
        lines.append(plural(sum(len(g.keys) for g in view.unused), "unused checkpoint key"))
        for group in merged_unused(view.unused, UNUSED_GROUPS):
            lines.append(f"  {display_name(group.scope)}: {_unused_words(view, group)}")
        lines.append("")
    lines.append(count_line(view))
    text = "\n".join(lines) + "\n"
    return text.translate(ASCII_MARKS) if ascii_only else text


def count_line(view: View) -> str:
    """Every variable of the new graph, optimizer state included: the counts `plan` and
    `apply --report` give (the title splits them into model variables and state)."""
    restored = view.model.restored.count + view.state.restored.count
    initialized = view.model.initialized.count + view.state.initialized.count
    return (
        f"Plan: {restored} to restore, {initialized} to initialize, "
        f"{plural(view.unused_keys, 'checkpoint key')} unused."
    )


def _heading(view: View) -> str:
    where = {s: f" in {p}/" if p else "" for s, p in view.prefixes.items()}
    if view.sources:
        return f"scopes (new graph{where['new']} \u2190 {' | '.join(view.sources)})"
    return f"scopes (new graph{where['new']} \u2190 checkpoint{where['old']})"


def _scope_lines(view: View, ascii_only: bool = False) -> list[str]:
    """One line a box, in columns (padded after the marks are made ASCII, if they are)."""
    if view.sources:
        return _source_columns(view, ascii_only)
    sources = _sources(view)
    rows = []
    for row in view.rows:
        if row.new is not None:
            came = ", ".join(sources.get(row.new.key, ()))
            rows.append((row.new, row.new.label, f"\u2190 {came}" if came else ""))
        elif row.old is not None and row.old.counts.unused.count:
            rows.append((row.old, row.old.label, "(checkpoint)"))
    if ascii_only:
        rows = [(b, label.translate(ASCII_MARKS), s.translate(ASCII_MARKS)) for b, label, s in rows]
    width = max((len(label) for _, label, _ in rows), default=0)
    source_width = max((len(s) for _, _, s in rows), default=0)
    lines = []
    for box, label, source in rows:
        lines.append(
            f"  {SYMBOL[box.status]} {label:<{width}}  {source:<{source_width}}  {_counts(box)}"
        )
        if box.detail:
            lines += _variable_lines(box, ascii_only)
    return lines


def _variable_lines(box: Box, ascii_only: bool) -> list[str]:
    """A focused scope without child scopes: each variable, its shape, and what happens to it
    and why, as the picture lists them (here all of them)."""
    cut = 0 if box.key == ROOT else len(box.key) + 1
    cells = [(i.name[cut:], variable_shape(i), variable_fate(i)) for i in box.items]
    if ascii_only:
        cells = [tuple(c.translate(ASCII_MARKS) for c in row) for row in cells]
    name_width = max((len(name) for name, _, _ in cells), default=0)
    shape_width = max((len(shape) for _, shape, _ in cells), default=0)
    return [
        f"      {name:<{name_width}}  {shape:<{shape_width}}  {fate}" for name, shape, fate in cells
    ]


def _source_columns(view: View, ascii_only: bool) -> list[str]:
    """Named sources: one column each, saying what a new box restores from that source (←) or
    could have, had another source not given it (✗); a source's unused boxes in its column."""
    columns = {name: _column_texts(view, name) for name in view.sources}
    rows = []
    for row in view.rows:
        if row.new is not None:
            texts = [columns[name].get(row.new.key, "") for name in view.sources]
            rows.append((row.new, row.new.label, texts))
        elif row.old is not None and row.old.counts.unused.count:
            source = source_of(row.old.key)
            texts = [within_source(row.old.label) if n == source else "" for n in view.sources]
            rows.append((row.old, "", texts))
    header = (None, "", list(view.sources))
    table = [header, *rows]
    if ascii_only:
        table = [
            (b, label.translate(ASCII_MARKS), [t.translate(ASCII_MARKS) for t in texts])
            for b, label, texts in table
        ]
    width = max(len(label) for _, label, _ in table)
    widths = [max(len(texts[n]) for _, _, texts in table) for n in range(len(view.sources))]
    lines = []
    for box, label, texts in table:
        cells = "  ".join(f"{t:<{w}}" for t, w in zip(texts, widths, strict=True))
        mark = _symbol(box) if box is not None else " "
        counts = _counts(box) if box is not None else ""
        lines.append(f"  {mark} {label:<{width}}  {cells}  {counts}".rstrip())
    return lines


def _symbol(box: Box) -> str:
    return "\u2717" if box.passed_over else SYMBOL[box.status]


def _column_texts(view: View, source: str) -> dict[str, str]:
    """New box -> what it takes from `source` (← old boxes), or could have (✗ old boxes)."""
    labels = {b.key: within_source(b.label) for b in view.column(source)}
    taken: dict[str, list[str]] = {}
    for link in view.links:
        if link.old in labels:
            taken.setdefault(link.new, []).append(labels[link.old])
    passed: dict[str, list[str]] = {}
    for conflict in view.conflicts:
        if conflict.old in labels:
            passed.setdefault(conflict.new, []).append(labels[conflict.old])
    texts = {}
    for new in {*taken, *passed}:
        parts = [f"\u2190 {', '.join(taken[new])}"] if new in taken else []
        parts += [f"\u2717 {', '.join(dict.fromkeys(passed[new]))}"] if new in passed else []
        texts[new] = " ".join(parts)
    return texts


def _sources(view: View) -> dict[str, list[str]]:
    labels = {b.key: b.label for b in view.boxes("old")}
    found: dict[str, list[str]] = {}
    for link in view.links:
        found.setdefault(link.new, []).append(labels[link.old])
    return found


def _counts(box: Box) -> str:
    words = "; ".join(count_lines(box.side, box.counts, nbytes=False))
    if box.folded:
        words = f"{box.fold_words}; {words}"
    if box.counts.flag("decision"):
        words += f"; {decision_words(box)}"
    if box.counts.flag("resolved"):
        words += f"; {plural(box.counts.flag('resolved'), 'shape')} from the checkpoint"
    if box.counts.flag("thin"):
        words += f"; {box.counts.flag('thin')} on thin evidence"
    return words


def decision_words(box: Box) -> str:
    """A new box counts variables left for a decision; a checkpoint box, their candidates."""
    number = box.counts.flag("decision")
    if box.side == "old":
        return f"{plural(number, 'candidate')} for a decision"
    return f"{plural(number, 'variable')} left for a decision"


def needs_a_look(view: View) -> list[Look]:
    """Decisions, shapes from the checkpoint, inferred rules and policy, for the boxes drawn."""
    items = [i for b in view.boxes("new") for i in b.items]
    looks = [Look("decision", i.name, _candidates(i)) for i in items if "decision" in i.flags]
    looks += [Look("thin", i.name, _thin(i)) for i in items if "thin" in i.flags]
    looks += [Look("shape", i.name, _resolution(i)) for i in items if "resolved" in i.flags]
    for rule in view.rules:
        if rule.origin == "inferred":
            name, _, detail = describe_rule(rule).partition(": ")
            looks.append(Look("rule", name, detail))
    looks += [Look("policy", i.name, i.entry.reason) for i in items if "policy" in i.flags]
    labels = {b.key: b.label for b in view.boxes("old")} | {
        b.key: b.label for b in view.boxes("new")
    }
    looks += [
        Look(
            "conflict",
            labels[c.new],
            f"{plural(c.count, 'variable')} {labels[c.old]} could give, not taken: {c.why}",
        )
        for c in view.conflicts
    ]
    return looks


def _thin(item: Item) -> str:
    return f"restored from '{item.entry.source}' on thin evidence: {thin_evidence(item.entry)}"


def _candidates(item: Item) -> str:
    """Why the matcher would not choose, then among what: a decision needs both."""
    why = item.entry.reason.strip()
    return f"initialized ({why}); candidates " + ", ".join(item.entry.candidates)


def _resolution(item: Item) -> str:
    resolution = item.entry.shape_resolution
    shape = "[" + ",".join(map(str, resolution.shape)) + "]"
    return f"shape {shape} taken from '{resolution.source}'"


def _look_lines(looks: list[Look]) -> list[tuple[str, str]]:
    """At most LOOK_LINES of a kind; the plan has them all."""
    kinds: dict[str, list[Look]] = {}
    for look in looks:
        kinds.setdefault(look.kind, []).append(look)
    lines = []
    for kind, group in kinds.items():
        lines += [(kind, f"{look.name}: {look.detail}") for look in group[:LOOK_LINES]]
        if len(group) > LOOK_LINES:
            lines.append((kind, f"\u2026 and {len(group) - LOOK_LINES} more in the plan"))
    return lines


def _unused_words(view: View, group) -> str:
    return (
        f"{len(group.keys)} {describe(group.category, view.has_optimizer, len(group.keys))}"
        f" ({compact(group.params)} params)"
    )


# --- markdown ---------------------------------------------------------------------------------


def format_markdown(view: View) -> str:
    """A summary for a pull request: totals, a table of scopes, the rest folded away."""
    old, new = view.files
    lines = [f"### graphdiff: {_code(old)} \u2192 {_code(new)}", ""]
    decisions = view.model.flag("decision")
    lines.append(
        f"**{count_line(view)}**"
        + (f" **{plural(decisions, 'variable')} left for a decision.**" if decisions else "")
    )
    lines += ["", *[f"- {_cell(line)}" for line in title_lines(view)], ""]
    lines += _scope_table(view)
    looks = needs_a_look(view)
    if looks:
        lines += ["", f"<details><summary>Needs a look ({len(looks)})</summary>", ""]
        lines += [f"- **{kind}** {_code_first(text)}" for kind, text in _look_lines(looks)]
        lines += ["", "</details>"]
    if view.unused:
        total = sum(len(g.keys) for g in view.unused)
        lines += ["", f"<details><summary>{plural(total, 'unused checkpoint key')}</summary>", ""]
        lines += ["| scope | keys | why |", "|---|--:|---|"]
        for group in merged_unused(view.unused, UNUSED_GROUPS):
            why = describe(group.category, view.has_optimizer)
            scope = display_name(group.scope)
            lines.append(f"| {_code(scope)} | {len(group.keys)} | {_cell(why)} |")
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def _scope_table(view: View) -> list[str]:
    if view.sources:
        return _source_table(view)
    where = {s: f" ({_code(p + '/')})" if p else "" for s, p in view.prefixes.items()}
    lines = [
        f"| | new graph{where['new']} | from checkpoint{where['old']} "
        "| restored | initialized | params | notes |",
        "|:-:|---|---|--:|--:|--:|---|",
    ]
    sources = _sources(view)
    for row in view.rows:
        box = row.new if row.new is not None else row.old
        if box is None or (row.new is None and not box.counts.unused.count):
            continue
        counts = box.counts
        new_name = _code(box.label) if row.new is not None else ""
        came = (
            ", ".join(_code(s) for s in sources.get(box.key, ())) if row.new else _code(box.label)
        )
        other = counts.initialized if box.side == "new" else counts.unused
        params = counts.restored.params + other.params
        lines.append(
            f"| {SYMBOL[box.status]} | {new_name} | {came} | {counts.restored.count or ''} "
            f"| {counts.initialized.count or ''} | {compact(params)} | {_notes(box)} |"
        )
    return lines


def _source_table(view: View) -> list[str]:
    """The scope table with one column per named source (← restored from, ✗ not taken)."""
    heads = " | ".join(f"from {_code(name)}" for name in view.sources)
    lines = [
        f"| | new graph | {heads} | restored | initialized | params | notes |",
        "|:-:|---|" + "---|" * len(view.sources) + "--:|--:|--:|---|",
    ]
    columns = {name: _column_texts(view, name) for name in view.sources}
    for row in view.rows:
        box = row.new if row.new is not None else row.old
        if box is None or (row.new is None and not box.counts.unused.count):
            continue
        if row.new is not None:
            cells = [_cell(columns[n].get(box.key, "")) for n in view.sources]
        else:
            source = source_of(box.key)
            cells = [_code(within_source(box.label)) if n == source else "" for n in view.sources]
        counts = box.counts
        other = counts.initialized if box.side == "new" else counts.unused
        params = counts.restored.params + other.params
        new_name = _code(box.label) if row.new is not None else ""
        lines.append(
            f"| {_symbol(box)} | {new_name} | {' | '.join(cells)} "
            f"| {counts.restored.count or ''} | {counts.initialized.count or ''} "
            f"| {compact(params)} | {_notes(box)} |"
        )
    return lines


def _notes(box: Box) -> str:
    notes = []
    if box.folded:
        notes.append(f"{box.fold_words}")
    if box.side == "old":
        notes.append(f"{box.counts.unused.count} unused")
    if box.counts.flag("decision"):
        notes.append(f"**{decision_words(box)}**")
    if box.counts.flag("resolved"):
        notes.append(f"{plural(box.counts.flag('resolved'), 'shape')} from the checkpoint")
    if box.counts.flag("thin"):
        notes.append(f"**{box.counts.flag('thin')} on thin evidence**")
    return "; ".join(notes)


def _code(name: str) -> str:
    """A name as inline code, safe inside a table cell: a fence longer than any run of
    backticks in it, pipes escaped (GitHub reads `\\|` as a pipe even in code), line breaks
    shown as `\\n` (a table row is one line)."""
    name = _one_line(name).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", name)), default=0) + 1)
    pad = " " if "`" in name or (name.startswith(" ") and name.endswith(" ")) else ""
    return f"{fence}{pad}{name}{pad}{fence}"


def _code_first(text: str) -> str:
    name, _, rest = text.partition(": ")
    return f"{_code(name)}: {_cell(rest)}" if rest else _cell(text)


def _cell(text: str) -> str:
    """Plain text for markdown: on one line, markdown's punctuation taken literally."""
    return _MARKDOWN.sub(r"\\\g<0>", _one_line(text))


_MARKDOWN = re.compile(r"[\\`*_\[\]<>|~]")  # what can start markup inside a line


def _one_line(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\\r").replace("\n", "\\n")
