"""The words and colours of the picture: Graphviz HTML-like labels and node attributes.

In: a diffview.View and its Boxes. Out: strings and attribute dicts for render.py. Every name
is escaped (names are data, and dot expands escapes like \\N even in HTML-like labels).
Colours are Okabe & Ito's, which stay distinct under the common colour-vision deficiencies;
line styles repeat the status so that a grey print still tells new from removed.
"""

from __future__ import annotations

import html

from graphdiff.view.boxes import Box, Counts, Tally
from graphdiff.view.diffview import View, describe, describe_rule, is_thin, merged_unused
from graphdiff.view.quantities import compact, plural, size
from graphdiff.view.scopetree import INITIALIZED, RESTORED, ROOT, UNUSED, Item, display_name

FONT = "Helvetica,Arial,sans-serif"
STATUS_STYLE = {
    "shared": {"fillcolor": "#DCEFFA", "color": "#2B8CC4", "style": "rounded,filled"},
    "partial": {"fillcolor": "#FBEBCB", "color": "#B57A00", "style": "rounded,filled"},
    "new": {"fillcolor": "#D2F0E5", "color": "#009E73", "style": "rounded,filled,bold"},
    "removed": {"fillcolor": "#F8DCCB", "color": "#D55E00", "style": "rounded,filled,dashed"},
}
FATE_COLOUR = {RESTORED: "#56B4E9", INITIALIZED: "#009E73", UNUSED: "#D55E00"}
PASSED_STYLE = {"fillcolor": "#FDF1D6", "color": "#E69F00", "style": "rounded,filled,dashed"}
RESOLVED_STYLE = {"color": "#CC79A7", "penwidth": "2.5", "peripheries": "2"}
DECISION_STYLE = {"color": "#B00020", "penwidth": "3"}
DECISION_COLOUR = "#B00020"
BAR_WIDTH = 150
TOOLTIP_SCOPES = 20  # dot refuses a quoted string longer than 16384 characters
DETAIL_ROWS = 12
UNUSED_GROUPS = 5


def text(value: object) -> str:
    return html.escape(str(value)).replace("\\", "\\\\")


def _table(rows: list[str], **attrs: str) -> str:
    settings = {"border": "0", "cellborder": "0", "cellspacing": "0", "cellpadding": "1", **attrs}
    head = "".join(f' {k.upper()}="{v}"' for k, v in settings.items())
    return f"<TABLE{head}>" + "".join(rows) + "</TABLE>"


def _row(content: str, align: str = "LEFT") -> str:
    return f'<TR><TD ALIGN="{align}" BALIGN="{align}">{content}</TD></TR>'


def _small(line: str, colour: str | None = None, bold: bool = False) -> str:
    inner = f"<B>{text(line)}</B>" if bold else text(line)
    tint = f' COLOR="{colour}"' if colour else ""
    return f'<FONT POINT-SIZE="9"{tint}>{inner}</FONT>'


# --- boxes -------------------------------------------------------------------------------------


def box_attrs(box: Box, widest: int, view: View) -> dict[str, str]:
    """Colour by status, borders for what needs a look, and the HTML label."""
    import graphviz

    classes = [box.status]
    attrs = {"id": graphviz.escape(box.id)}
    attrs.update(STATUS_STYLE[box.status])
    if box.passed_over:
        attrs.update(PASSED_STYLE)
        classes.append("not-taken")
    if box.counts.flag("resolved"):
        attrs.update(RESOLVED_STYLE)
        classes.append("shape-resolved")
    if box.counts.flag("decision"):
        attrs.update(DECISION_STYLE)
        classes.append("needs-decision")
    if box.folded:
        classes.append("folded")
    attrs["class"] = " ".join(classes)
    attrs["label"] = f"<{box_label(box, widest, view.has_optimizer)}>"
    shown = [display_name(scope) for scope in box.scopes[:TOOLTIP_SCOPES]]
    more = len(box.scopes) - len(shown)
    attrs["tooltip"] = "\n".join(shown) + (f"\n\u2026 and {more} more" if more > 0 else "")
    return attrs


def box_label(box: Box, widest: int, has_optimizer: bool) -> str:
    """Name and parameter bar, then counts, then what needs a look, then the variables."""
    rows = [
        f'<TR><TD ALIGN="LEFT"><B>{text(box.label)}</B></TD>'
        f'<TD ALIGN="RIGHT">{_bar(box, widest)}</TD></TR>'
    ]
    lines = [(line, None, False) for line in count_lines(box.side, box.counts)]
    if box.folded:
        lines[0] = (f"{box.fold_words} \u00b7 {lines[0][0]}", None, False)
    if not box.whole:
        where = "outside any scope" if box.key == ROOT else "directly in this scope"
        lines.insert(0, (f"variables {where}", None, False))
    for line, colour, bold in lines + _flag_lines(box):
        rows.append(f'<TR><TD ALIGN="LEFT" COLSPAN="2">{_small(line, colour, bold)}</TD></TR>')
    if box.detail:
        rows.append(f'<TR><TD ALIGN="LEFT" COLSPAN="2">{_detail(box)}</TD></TR>')
    return _table(rows)


def count_lines(side: str, counts: Counts, nbytes: bool = True) -> list[str]:
    """'20 restored · 215.8K params · 863.2 KB', and the like for the other fates."""
    fates = (RESTORED, UNUSED) if side == "old" else (RESTORED, INITIALIZED)
    lines = [
        f"{tally.count} {fate} \u00b7 {compact(tally.params)} params"
        + (f" \u00b7 {size(tally.nbytes)}" if nbytes else "")
        for fate in fates
        if (tally := getattr(counts, fate)).count
    ]
    state = [f"{n} {fate}" for fate, n in counts.state]
    if state:
        lines.append("optimizer state: " + ", ".join(state))
    return lines


def _flag_lines(box: Box) -> list[tuple[str, str | None, bool]]:
    counts = box.counts
    lines = []
    if counts.flag("decision"):
        what = "candidate" if box.side == "old" else "variable"
        lines.append(
            (f"{plural(counts.flag('decision'), what)}: needs a decision", DECISION_COLOUR, True)
        )
    if counts.flag("resolved"):
        lines.append(
            (f"{plural(counts.flag('resolved'), 'shape')} from the checkpoint", "#8E3B6F", True)
        )
    if counts.flag("thin"):
        lines.append((f"{counts.flag('thin')} restored on thin evidence", DECISION_COLOUR, True))
    if counts.flag("policy"):
        lines.append((f"{counts.flag('policy')} initialized by policy", None, False))
    if counts.flag("partitioned"):
        lines.append((f"{plural(counts.flag('partitioned'), 'partitioned variable')}", None, False))
    return lines


def _bar(box: Box, widest: int) -> str:
    """Parameters as a bar: restored against initialized (or unused); length ~ sqrt(params)."""
    parts = [(RESTORED, box.counts.restored)]
    parts.append(
        (UNUSED, box.counts.unused) if box.side == "old" else (INITIALIZED, box.counts.initialized)
    )
    total = sum(t.params for _, t in parts)
    length = max(6, round(BAR_WIDTH * (total / widest) ** 0.5)) if widest and total else 6
    cells = (
        "".join(
            f'<TD WIDTH="{max(2, round(length * t.params / total))}" HEIGHT="5" FIXEDSIZE="TRUE" '
            f'BGCOLOR="{FATE_COLOUR[fate]}"></TD>'
            for fate, t in parts
            if total and t.params
        )
        or f'<TD WIDTH="{length}" HEIGHT="5" FIXEDSIZE="TRUE" BGCOLOR="#BBBBBB"></TD>'
    )
    return (
        f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0"><TR>{cells}</TR></TABLE>'
    )


def _detail(box: Box) -> str:
    """One line a variable: name, shape, what happens to it and why (at most DETAIL_ROWS)."""
    cut = 0 if box.key == ROOT else len(box.key) + 1
    rows = []
    for item in box.items[:DETAIL_ROWS]:
        colour = DECISION_COLOUR if item.flags & {"decision", "thin"} else None
        cells = (item.name[cut:], variable_shape(item), variable_fate(item))
        rows.append(
            "<TR>" + "".join(f'<TD ALIGN="LEFT">{_small(c, colour)}</TD>' for c in cells) + "</TR>"
        )
    if len(box.items) > DETAIL_ROWS:
        more = f"\u2026 and {len(box.items) - DETAIL_ROWS} more (graphdiff show lists them)"
        rows.append(f'<TR><TD ALIGN="LEFT" COLSPAN="3">{_small(more)}</TD></TR>')
    return _table(rows, cellpadding="2", bgcolor="white")


def variable_shape(item: Item) -> str:
    shape = "?" if item.shape is None else "[" + ",".join(map(str, item.shape)) + "]"
    return shape + (" from ckpt" if "resolved" in item.flags else "")


def variable_fate(item: Item) -> str:
    """What the plan does with one variable or key, in a few words."""
    if item.side == "old":
        if item.fate == UNUSED:
            return "unused: " + describe_reason(item.unused.reason)
        return "\u2192 " + ", ".join(item.links)
    entry = item.entry
    method = entry.match.method.replace("_", " ") if entry.match else ""
    if item.fate == RESTORED:
        source = display_name(item.links[0]) if item.links else entry.source
        thin = ", thin evidence" if "thin" in item.flags else ""
        return f"\u2190 {source}" + (f" ({method}{thin})" if method else "")
    if entry.candidates:
        return "initialize: needs a decision, candidates " + ", ".join(entry.candidates)
    return "initialize: " + describe_reason(entry.reason)


def describe_reason(reason: str, limit: int = 70) -> str:
    return reason if len(reason) <= limit else reason[: limit - 1] + "\u2026"


# --- title, columns, notes ---------------------------------------------------------------------


def title_label(view: View) -> str:
    old, new = view.files
    rows = [_row(f'<FONT POINT-SIZE="14"><B>{text(old)} \u2192 {text(new)}</B></FONT>', "CENTER")]
    for line in title_lines(view):
        rows.append(_row(f'<FONT POINT-SIZE="10">{text(line)}</FONT>', "CENTER"))
    rows.append(_row(legend_row(bool(view.conflicts)), "CENTER"))
    return f"<{_table(rows)}>"


def title_lines(view: View) -> list[str]:
    """Totals first, so the picture says how much was kept before one reads it."""
    model = view.model
    lines = [
        f"model variables: {model.restored.count} restored ({compact(model.restored.params)} "
        f"params), {model.initialized.count} initialized ({compact(model.initialized.params)} "
        "params)"
    ]
    state = view.state
    if state.total:
        lines.append(
            f"optimizer state and step: {state.restored.count} restored, "
            f"{state.initialized.count} initialized"
        )
    extra = [plural(view.unused_keys, "checkpoint key") + " unused"]
    inferred = sum(r.origin == "inferred" for r in view.rules)
    if inferred:
        extra.append(plural(inferred, "inferred rename rule"))
    if model.flag("decision"):
        extra.append(f"{plural(model.flag('decision'), 'variable')} left for a decision")
    if model.flag("thin"):
        extra.append(f"{model.flag('thin')} restored on thin evidence")
    lines.append(" \u00b7 ".join(extra))
    if view.focus:
        lines.append(focus_line(view.focus))
    return lines + list(view.notes)


def focus_line(focus: dict[str, str | None]) -> str:
    """Which scope each side opens; a side with none says why, not '(nothing)'."""
    old, new = focus["old"], focus["new"]
    old = ", ".join(display_name(part) for part in old.split(", ")) if old else old
    if old and new:
        return f"focus: checkpoint {old}, new graph {new}"
    if new:
        return f"focus: new graph {new} (no checkpoint key is restored into it or a candidate)"
    return f"focus: checkpoint {old} (none of its keys is restored or a candidate)"


def side_label(view: View, side: str, source: str = "") -> str:
    """A column's title: the new graph, the checkpoint, or a named source and its counts."""
    if source:
        boxes = view.column(source)
        used = sum(b.counts.restored.count for b in boxes)
        unused = sum(b.counts.unused.count for b in boxes)
        line = f"{used} restored from, {unused} unused"
        return f'<<B>source {text(source)}</B><BR/><FONT POINT-SIZE="10">{text(line)}</FONT>>'
    name = "checkpoint (old)" if side == "old" else "new graph"
    prefix = view.prefixes.get(side)
    under = f'<BR/><FONT POINT-SIZE="10">in {text(prefix)}/</FONT>' if prefix else ""
    return f"<<B>{name}</B>{under}>"


def notes_label(view: View) -> str | None:
    """Unused keys above rename rules (tables in one column stretch only to equal widths)."""
    tables = [unused_table(view)] if view.unused else []
    tables += [rules_table(view)] if view.rules else []
    if not tables:
        return None
    return f"<{_table([f'<TR><TD>{t}</TD></TR>' for t in tables], cellspacing='6')}>"


def legend_row(conflicts: bool = False) -> str:
    """One line of the title: what the colours, borders and arrows mean."""
    cells = []
    for status in ("shared", "partial", "new", "removed"):
        style = STATUS_STYLE[status]
        cells.append(
            f'<TD BGCOLOR="{style["fillcolor"]}" COLOR="{style["color"]}" BORDER="1" '
            f'WIDTH="16" HEIGHT="9" FIXEDSIZE="TRUE"></TD><TD>{_small(status)}</TD>'
        )
    for words, colour in (
        ("\u2192 renamed", "#0072B2"),
        ("\u2192 same name", "#8C8C8C"),
        *([("\u21e2 not taken: another source gives it", "#B57A00")] if conflicts else []),
        ("\u2193 data flow", "#555555"),
        ("\u25ad shape from the checkpoint", "#8E3B6F"),
        ("\u25ad needs a decision", DECISION_COLOUR),
    ):
        cells.append(f"<TD>{_small(words, colour, bold=True)}</TD>")
    return _table([f"<TR>{''.join(cells)}</TR>"], cellpadding="3")


def rules_table(view: View) -> str:
    rows = [_row("<B>rename rules</B>")]
    for rule in view.rules:
        thin = is_thin(rule)
        rows.append(_row(_small(describe_rule(rule), DECISION_COLOUR if thin else None, thin)))
    return _table(rows, border="1", color="#BBBBBB", cellpadding="3", bgcolor="#F2F2F2")


def unused_table(view: View) -> str:
    total = sum(len(g.keys) for g in view.unused)
    rows = [_row(f"<B>{text(plural(total, 'unused checkpoint key'))}</B>")]
    for group in merged_unused(view.unused, UNUSED_GROUPS):
        line = (
            f"{display_name(group.scope)}: {len(group.keys)} "
            f"{describe(group.category, view.has_optimizer, len(group.keys))}"
            f" ({compact(group.params)} params)"
        )
        rows.append(_row(_small(line)))
    return _table(rows, border="1", color="#BBBBBB", cellpadding="3", bgcolor="#FFF7F2")


def tally_text(tally: Tally) -> str:
    return f"{tally.count} ({compact(tally.params)} params, {size(tally.nbytes)})"
