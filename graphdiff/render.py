"""Draw a plan's scope-level diff with Graphviz: checkpoint scopes on the left, new graph right.

Takes a Plan and nothing else (the matching is never re-run) and writes .svg, .png, .pdf, or
the DOT source (.dot). Nodes are scopes, not variables, so that a net with thousands of
variables still draws as its structure. graphviz is imported inside the functions that use it
so that `graphdiff --help` stays fast.

    render_plan(plan, "diff.svg")  # -> Path("diff.svg")
"""

from __future__ import annotations

import html
import os
import pathlib
import uuid
from collections import Counter
from typing import TYPE_CHECKING

from graphdiff.errors import BadInput
from graphdiff.plan import RESTORE, Plan, Rule, ScopeSummary
from graphdiff.scopes import ROOT, scope_of

if TYPE_CHECKING:
    import graphviz

FORMATS = (".svg", ".png", ".pdf", ".dot")
FONT = "Helvetica,Arial,sans-serif"
SIDES = {"old": "checkpoint (old)", "new": "new graph"}

# Okabe & Ito's palette stays distinct under the common colour-vision deficiencies; the line
# style repeats the status so that a grey print still tells new from removed.
STATUS_STYLE = {
    "shared": {"fillcolor": "#56B4E9", "style": "rounded,filled"},
    "partial": {"fillcolor": "#E69F00", "style": "rounded,filled"},
    "new": {"fillcolor": "#009E73", "style": "rounded,filled,bold"},
    "removed": {"fillcolor": "#D55E00", "style": "rounded,filled,dashed"},
}
RESOLVED_STYLE = {"color": "#CC79A7", "penwidth": "3", "peripheries": "2"}
LEGEND = (
    ("shared", "shared: restored from the checkpoint"),
    ("partial", "partial: some restored, some initialized"),
    ("new", "new: initialized"),
    ("removed", "removed: its keys stay unused"),
)
SAME_EDGE = {"color": "#999999"}
RENAMED_EDGE = {"color": "#0072B2", "penwidth": "2", "label": "renamed", "fontcolor": "#0072B2"}


def render_plan(plan: Plan, path: str | os.PathLike) -> pathlib.Path:
    """Write the diff picture of `plan` to `path`; the extension picks the format.

    Raises BadInput for an unknown extension, a missing directory or a missing `dot` program;
    then nothing is written. The file appears whole or not at all (temp file + os.replace).
    """
    target = pathlib.Path(path)
    fmt = _check_target(target)
    graph = diff_graph(plan)
    data = graph.source.encode() if fmt == "dot" else _run_dot(graph, fmt, target)
    _write_atomically(target, data)
    return target


def diff_graph(plan: Plan) -> graphviz.Digraph:
    """The diff as a graphviz.Digraph (DOT source only; `dot` is not run here)."""
    import graphviz

    graph = graphviz.Digraph(
        "graphdiff",
        graph_attr={"rankdir": "LR", "newrank": "true", "ranksep": "1.2", "nodesep": "0.2"},
        node_attr={"shape": "box", "fontname": FONT, "fontsize": "11", "margin": "0.15,0.06"},
        edge_attr={"fontname": FONT, "fontsize": "10", "arrowsize": "0.7"},
    )
    graph.attr(fontname=FONT, labelloc="t", label=_title(plan))
    old_nodes, new_nodes = _side_scopes(plan.scopes, "old"), _side_scopes(plan.scopes, "new")
    old_ids = _add_side(graph, "old", old_nodes, Counter())
    new_ids = _add_side(graph, "new", new_nodes, _resolved_counts(plan, new_nodes))
    _add_links(graph, plan.scopes, old_ids, new_ids)
    anchor = next(iter(new_ids.values()), None) or next(iter(old_ids.values()), None)
    _add_legend(graph, anchor)
    _add_rules_note(graph, plan.rules, anchor)
    return graph


def _title(plan: Plan) -> str:
    """Totals, so the picture says how much was kept before one reads it.

    The scopes count model variables only; optimizer state follows them and is counted apart.
    """
    model = [e for e in plan.variables if e.role == "model"]
    restored = sum(e.action == RESTORE for e in model)
    state = [e for e in plan.variables if e.role != "model"]
    lines = [f"model variables: {restored} restored, {len(model) - restored} initialized"]
    if state:
        state_restored = sum(e.action == RESTORE for e in state)
        lines.append(
            f"optimizer state and step: {state_restored} restored, "
            f"{len(state) - state_restored} initialized"
        )
    lines.append(f"{len(plan.unused)} checkpoint keys unused")
    return _label(f"{_old_label(plan)}  \u2192  {plan.provenance.new_graph.path}", lines)


def _old_label(plan: Plan) -> str:
    """The old side as a person knows it: its graph file, else where its values are."""
    provenance = plan.provenance
    return provenance.old_meta.path if provenance.old_meta else provenance.checkpoint_prefix


def _side_scopes(scopes: tuple[ScopeSummary, ...], side: str) -> dict[str, ScopeSummary]:
    """One summary per scope name on this side, sorted so that linked pairs face each other.

    A name can have several summaries (old 'A' restored into 'A' and 'tower/A', or with some
    keys unused): their counts add up, and mixed statuses make the scope 'partial'.
    """
    merged: dict[str, ScopeSummary] = {}
    for scope in scopes:
        name = scope.old if side == "old" else scope.new
        seen = merged.get(name)
        if name is not None:
            merged[name] = scope if seen is None else _merge(seen, scope)
    partner = {s.old: s.new for s in scopes if s.old and s.new} if side == "old" else {}
    return dict(sorted(merged.items(), key=lambda item: (partner.get(item[0], item[0]), item[0])))


def _merge(one: ScopeSummary, other: ScopeSummary) -> ScopeSummary:
    status = one.status if one.status == other.status else "partial"
    return ScopeSummary(
        status,
        one.old,
        one.new,
        one.restored + other.restored,
        one.initialized + other.initialized,
        one.unused + other.unused,
    )


def _resolved_counts(plan: Plan, drawn: dict[str, ScopeSummary]) -> Counter:
    """How many shapes came from the checkpoint, per drawn new scope."""
    counts = Counter(
        _drawn_scope(scope_of(e.name), drawn) for e in plan.variables if e.shape_resolution
    )
    counts.pop(None, None)
    return counts


def _drawn_scope(scope: str, drawn: dict) -> str | None:
    """The scope itself or its nearest drawn ancestor: summaries collapse uniform subtrees."""
    while scope not in drawn and scope != ROOT:
        scope = scope_of(scope)
    return scope if scope in drawn else None


def _add_side(graph, side: str, scopes: dict[str, ScopeSummary], resolved: Counter) -> dict:
    """One cluster holding one column of scopes, so that old and new face each other."""
    ids = {}
    with graph.subgraph(name=f"cluster_{side}") as cluster:
        cluster.attr(label=f"<<B>{SIDES[side]}</B>>", rank="same", style="rounded", color="#BBBBBB")
        for index, (name, scope) in enumerate(scopes.items()):
            ids[name] = f"{side}{index}"  # DOT names free of ':' (a port separator in edges)
            cluster.node(ids[name], **_node_attrs(scope, side, name, resolved[name]))
    return ids


def _node_attrs(scope: ScopeSummary, side: str, name: str, resolved: int) -> dict[str, str]:
    """Colour by status; the counts that matter on this side; a double border if resolved."""
    import graphviz

    other = ("unused", scope.unused) if side == "old" else ("initialized", scope.initialized)
    lines = [f"{count} {word}" for word, count in (("restored", scope.restored), other) if count]
    attrs = {"id": graphviz.escape(f"{side}:{name}"), "class": scope.status}
    attrs.update(STATUS_STYLE.get(scope.status, {"style": "rounded"}))
    if resolved:
        lines.append(f"{resolved} shape{'s' if resolved > 1 else ''} from checkpoint")
        attrs.update(RESOLVED_STYLE, **{"class": f"{scope.status} shape-resolved"})
    attrs["label"] = _label(name, lines)
    return attrs


def _label(name: str, lines: list[str], left: bool = False) -> str:
    """An HTML-like label: the name in bold, details smaller below (escaped: names are data)."""
    if left:  # a <BR ALIGN="LEFT"/> left-aligns the line before it
        br = '<BR ALIGN="LEFT"/>'
        details = br + "".join(f"{_text(line)}{br}" for line in lines)
    else:
        details = "".join(f"<BR/>{_text(line)}" for line in lines)
    small = f'<FONT POINT-SIZE="9">{details}</FONT>' if lines else ""
    return f"<<B>{_text(name)}</B>{small}>"


def _text(value: str) -> str:
    """Escape for an HTML-like label; dot still expands escapes like \\N there, so double '\\'."""
    return html.escape(value).replace("\\", "\\\\")


def _add_links(graph, scopes, old_ids: dict, new_ids: dict) -> None:
    """Join the two halves of every shared scope; a rename is drawn loud, a same name quiet."""
    import graphviz

    links = dict.fromkeys((s.old, s.new) for s in scopes if s.old in old_ids and s.new in new_ids)
    for old, new in links:
        style = SAME_EDGE if old == new else RENAMED_EDGE
        edge_id = graphviz.escape(f"link:{old}->{new}")
        graph.edge(old_ids[old], new_ids[new], id=edge_id, **style)
    if not links and old_ids and new_ids:  # keep "old" left of "new" with nothing shared
        graph.edge(next(iter(old_ids.values())), next(iter(new_ids.values())), style="invis")


def _add_legend(graph, anchor: str | None) -> None:
    """Sample nodes drawn with the very styles of the diff, in a column right of the diff."""
    with graph.subgraph(name="cluster_legend") as legend:
        legend.attr(label="<<B>legend</B>>", style="rounded", color="#BBBBBB", rank="same")
        legend.attr("node", fontsize="9", margin="0.1,0.03", height="0.3")
        for status, text in LEGEND:
            legend.node(f"legend_{status}", label=text, **STATUS_STYLE[status])
        resolved = {"style": "rounded,filled", "fillcolor": "white", **RESOLVED_STYLE}
        legend.node("legend_resolved", label="shape taken from the checkpoint", **resolved)
    if anchor:  # an invisible edge puts the legend's column after the anchor's
        graph.edge(anchor, "legend_shared", style="invis")


def _add_rules_note(graph, rules: tuple[Rule, ...], anchor: str | None) -> None:
    """List the rename rules in force, since they explain every 'renamed' arrow."""
    if not rules:
        return
    lines = [
        f"{r.kind}: {r.old or ROOT} \u2192 {r.new or ROOT}"
        f" ({r.origin}, {r.support} variable{'s' if r.support != 1 else ''})"
        for r in rules
    ]
    label = _label("rename rules", lines, left=True)
    graph.node("rules", label=label, shape="note", style="filled", fillcolor="#F2F2F2")
    if anchor:
        graph.edge(anchor, "rules", style="invis")


def _check_target(target: pathlib.Path) -> str:
    """The output format named by the extension; refuse early, before any work is done."""
    suffix = target.suffix.lower()
    if suffix not in FORMATS:
        raise BadInput(
            target, f"cannot render to '{suffix or target.name}': use .svg, .png, .pdf or .dot"
        )
    if not target.parent.is_dir():
        raise BadInput(target, f"the directory {target.parent} does not exist")
    if target.is_dir():
        raise BadInput(target, "is a directory; give a file name")
    return suffix[1:]


def _run_dot(graph, fmt: str, target: pathlib.Path) -> bytes:
    """The rendered bytes; a missing `dot` is the user's to fix, so say how."""
    import graphviz

    try:
        return graph.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise BadInput(
            target, "the `dot` program is not installed (apt-get install graphviz)"
        ) from None


def _write_atomically(target: pathlib.Path, data: bytes) -> None:
    """Write a temp file beside `target`, then rename it, so a failure leaves no half file."""
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temp, "xb") as out:  # not mkstemp: keep the umask's permissions
            out.write(data)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
