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
from graphdiff.view.render_labels import UNUSED_GROUPS, count_lines, title_lines
from graphdiff.view.scopetree import Item, thin_evidence

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
            lines.append(f"  {group.scope}: {_unused_words(view, group)}")
        lines.append("")
    lines.append(count_line(view))
    text = "\n".join(lines) + "\n"
    return text.translate(ASCII_MARKS) if ascii_only else text


def count_line(view: View) -> str:
    model = view.model
    return (
        f"Plan: {model.restored.count} to restore, {model.initialized.count} to initialize, "
        f"{plural(view.unused_keys, 'checkpoint key')} unused."
    )


def _heading(view: View) -> str:
    where = {s: f" in {p}/" if p else "" for s, p in view.prefixes.items()}
    return f"scopes (new graph{where['new']} \u2190 checkpoint{where['old']})"


def _scope_lines(view: View, ascii_only: bool = False) -> list[str]:
    """One line a box, in columns (padded after the marks are made ASCII, if they are)."""
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
    return [
        f"  {SYMBOL[box.status]} {label:<{width}}  {source:<{source_width}}  {_counts(box)}"
        for box, label, source in rows
    ]


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
    return looks


def _thin(item: Item) -> str:
    return f"restored from '{item.entry.source}' on thin evidence: {thin_evidence(item.entry)}"


def _candidates(item: Item) -> str:
    return "initialized; candidates " + ", ".join(item.entry.candidates)


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
            lines.append(f"| {_code(group.scope)} | {len(group.keys)} | {_cell(why)} |")
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def _scope_table(view: View) -> list[str]:
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
