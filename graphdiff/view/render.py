"""Draw a plan with Graphviz: checkpoint scopes on the left, the new graph's on the right.

In: a Plan (and, for data-flow edges, the graphs its provenance names; see flow.py). Out: an
.svg, .png, .pdf or the DOT source (.dot), chosen by the file's extension. The matching is
never re-run: diffview.py decides the boxes and rows, this module only draws them (labels in
render_labels.py). graphviz is imported where it is used, so `graphdiff --help` stays fast.

Each row of the view is one rank, so a kept scope faces its counterpart and a rename is a
level arrow; each column keeps its order through invisible edges, and data flows downwards.

    render_plan(plan, "diff.svg", focus="block3", on_note=print)  # -> Path("diff.svg")
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import replace

from graphdiff.errors import BadInput
from graphdiff.plan import Plan
from graphdiff.view.diffview import View, build_view
from graphdiff.view.render_labels import (
    FONT,
    box_attrs,
    notes_label,
    side_label,
    title_label,
)
from graphdiff.view.scopetree import ROOT, build_trees, within_source

FORMATS = (".svg", ".png", ".pdf", ".dot")
INSTALL = (
    "install graphviz (apt-get install graphviz, brew install graphviz or conda install graphviz)"
)
FLOW_EDGE = {"color": "#555555", "arrowsize": "0.6"}
SAME_EDGE = {"color": "#8C8C8C", "penwidth": "1.5"}
RENAMED_EDGE = {"color": "#0072B2", "penwidth": "2.5", "label": "renamed", "fontcolor": "#0072B2"}
CONFLICT_EDGE = {
    "color": "#E69F00",
    "style": "dashed",
    "penwidth": "1.5",
    "label": "not taken",
    "fontcolor": "#B57A00",
}

Note = Callable[[str], None]


def render_plan(
    plan: Plan,
    path: str | os.PathLike,
    *,
    depth: int | None = None,
    focus: str | None = None,
    flow: bool = True,
    on_note: Note | None = None,
) -> pathlib.Path:
    """Draw `plan` into `path`; return the path written.

    depth: scope levels to draw below the top (or the focus); focus: a scope to open, on
    either side. flow: read the graphs the plan names for data-flow edges (when one cannot
    be read, `on_note` hears one line why). Without the `dot` program, the DOT source is
    written beside `path` (`diff.svg` -> `diff.dot`), `on_note` says how to install
    graphviz, and that path is returned. BadInput for an unknown extension, a missing or
    unwritable directory, a depth below 1 or a focus that names no scope: nothing written.
    """
    note = on_note or (lambda text: None)
    target = pathlib.Path(path)
    fmt = _check_target(target)
    trees = build_trees(plan)
    view = build_view(plan, depth=depth, focus=focus, trees=trees)  # refuses bad input early
    edges: dict[str, set] = {}
    if flow:
        view, edges = _with_flow(plan, trees, depth, focus, note)
    graph = diff_graph(view, edges)
    data, fault = (graph.source.encode(), None) if fmt == "dot" else _run_dot(graph, fmt)
    if fault:
        target, data = target.with_suffix(".dot"), graph.source.encode()
        note(
            f"{fault}: wrote the DOT source {target}"
            + ("" if "failed" in fault else f"; {INSTALL}")
        )
    _write_atomically(target, data)
    return target


def _with_flow(plan, trees, depth, focus, note: Note) -> tuple[View, dict[str, set]]:
    """The view with siblings in data-flow order, and the data-flow edges between its boxes."""
    from graphdiff.view.flow import read_flows

    flows = read_flows(plan)
    if flows.note:
        note(flows.note)
    readable = {side: f for side, f in flows.sides.items() if f is not None}
    orders = {side: f.sibling_order(trees.tree(side)) for side, f in readable.items()}
    view = build_view(plan, depth=depth, focus=focus, orders=orders, trees=trees)
    return view, {side: _box_edges(view, side, f) for side, f in readable.items()}


def _box_edges(view: View, side: str, flow) -> set:
    units, roots = {}, frozenset()
    for box in view.boxes(side):
        if box.key == ROOT and box.whole:
            return set()  # one box holds the whole side
        if box.key == ROOT:
            roots = frozenset(i.name for i in box.items)
        units.update((start, box.id) for start in (box.starts if box.whole else box.scopes))
    return flow.edges(units, roots)


def diff_graph(view: View, edges: dict[str, set] | None = None):
    """The view as a graphviz.Digraph (DOT source only; `dot` is not run here)."""
    import graphviz

    graph = graphviz.Digraph(
        "graphdiff",
        graph_attr={"rankdir": "TB", "newrank": "true", "nodesep": "0.6", "ranksep": "0.25"},
        node_attr={"shape": "box", "fontname": FONT, "fontsize": "11", "margin": "0.12,0.05"},
        edge_attr={"fontname": FONT, "fontsize": "9", "arrowsize": "0.7"},
    )
    graph.attr(fontname=FONT, labelloc="t", label=title_label(view))
    edges = edges or {}
    for column, boxes in _columns(view):
        side = "new" if column == "new" else "old"
        _add_column(graph, view, column, boxes, edges.get(side, set()))
    for n, row in enumerate(view.rows):
        with graph.subgraph(name=f"row{n}") as rank:
            rank.attr(rank="same")
            for box in (row.old, row.new):
                if box is not None:
                    rank.node(_node(box.id))
    _add_links(graph, view)
    _add_notes(graph, view)
    return graph


def _node(box_id: str) -> str:
    """A DOT name for a box: quoted by graphviz, free of ':' (a port separator in edges)."""
    return box_id.replace(":", "\u2236")


def _columns(view: View) -> list[tuple[str, list]]:
    """(column, boxes): the checkpoint's, or one a named source (`old:cls`), then the new
    graph's."""
    if not view.sources:
        return [("old", view.boxes("old")), ("new", view.boxes("new"))]
    olds = [
        (f"old:{name}", [replace(b, label=within_source(b.label)) for b in view.column(name)])
        for name in view.sources
    ]
    return [*olds, ("new", view.boxes("new"))]


def _add_column(graph, view: View, column: str, boxes: list, flow_edges: set) -> None:
    """One cluster a column, its boxes in the rows' order."""
    side, _, source = column.partition(":")
    name = f"cluster_{side}" + (f"_{view.sources.index(source)}" if source else "")
    with graph.subgraph(name=name) as cluster:
        cluster.attr(label=side_label(view, side, source), style="rounded", color="#BBBBBB")
        width = max((b.counts.restored.params + _other(b).params for b in boxes), default=0)
        for box in boxes:
            cluster.node(_node(box.id), group=column, **box_attrs(box, width, view))
        if not boxes:
            cluster.node(f"{name}_empty", label="nothing", shape="plaintext", fontcolor="#777777")
    _add_flow(graph, view, side, boxes, flow_edges)


def _add_flow(graph, view: View, side: str, boxes: list, flow_edges: set) -> None:
    """Each box joined to the next one down (the data-flow edge when there is one, else an
    invisible one), so that the column keeps its order; other data-flow edges left free."""
    import graphviz

    rows = {b.id: n for n, r in enumerate(view.rows) if (b := getattr(r, side))}
    ids = {b.id for b in boxes}
    flow_edges = {(a, b) for a, b in flow_edges if a in ids and b in ids}
    pairs = list(zip(boxes, boxes[1:], strict=False))
    for before, after in pairs:
        edge = (before.id, after.id)
        style = {"id": graphviz.escape("flow:{}->{}".format(*edge)), **FLOW_EDGE}
        graph.edge(
            _node(before.id),
            _node(after.id),
            minlen=str(rows[after.id] - rows[before.id]),
            weight="10",
            **(style if edge in flow_edges else {"style": "invis"}),
        )
    for a, b in sorted(flow_edges - {(x.id, y.id) for x, y in pairs}):
        edge_id = graphviz.escape(f"flow:{a}->{b}")
        graph.edge(_node(a), _node(b), constraint="false", id=edge_id, **FLOW_EDGE)


def _other(box):
    return box.counts.unused if box.side == "old" else box.counts.initialized


def _add_links(graph, view: View) -> None:
    """Old box -> new box for every pair with restores; a rename drawn loud, a same name quiet;
    what another source could have given, dashed, with why it was not taken."""
    import graphviz

    for conflict in view.conflicts:
        graph.edge(
            _node(f"old:{conflict.old}"),
            _node(f"new:{conflict.new}"),
            id=graphviz.escape(f"conflict:{conflict.old}->{conflict.new}"),
            tooltip=f"{conflict.count} not taken: {conflict.why}",
            constraint="false",
            **CONFLICT_EDGE,
        )
    for link in view.links:
        style = RENAMED_EDGE if link.renamed else SAME_EDGE
        edge_id = graphviz.escape(f"link:{link.old}->{link.new}")
        tooltip = f"{link.count} restored: {link.old} \u2192 {link.new}"
        graph.edge(
            _node(f"old:{link.old}"),
            _node(f"new:{link.new}"),
            id=edge_id,
            tooltip=tooltip,
            constraint="false",
            **style,
        )


def _add_notes(graph, view: View) -> None:
    """Unused keys and rename rules, in one node below both columns."""
    label = notes_label(view)
    if label is None:
        return
    graph.node("notes", label=label, shape="plaintext", margin="0")
    for box in view.boxes("old")[-1:] + view.boxes("new")[-1:]:  # below, pulling no column
        graph.edge(_node(box.id), "notes", style="invis", weight="0")


# --- files ------------------------------------------------------------------------------------


def _check_target(target: pathlib.Path) -> str:
    """The output format named by the extension; refuse early, before any work is done."""
    suffix = target.suffix.lower()
    if suffix not in FORMATS:
        raise BadInput(
            target, f"cannot render to '{suffix or target.name}': use .svg, .png, .pdf or .dot"
        )
    try:
        if target.parent.exists() and not target.parent.is_dir():
            raise BadInput(target, f"{target.parent} is a file, not a directory")
        if not target.parent.is_dir():
            raise BadInput(target, f"the directory {target.parent} does not exist")
        if target.is_dir():
            raise BadInput(target, "is a directory; give a file name")
    except OSError as error:  # a name too long, a loop of links
        raise BadInput(target, f"cannot be written: {error.strerror or error}") from None
    return suffix[1:]


def _run_dot(graph, fmt: str) -> tuple[bytes | None, str | None]:
    """(the rendered bytes, None), or (None, why not) when `dot` is missing or fails."""
    dot = shutil.which("dot")
    if dot is None:
        return None, "the `dot` program is not installed"
    try:
        done = subprocess.run(
            [dot, f"-T{fmt}"], input=graph.source.encode(), capture_output=True, check=False
        )
    except OSError as error:
        return None, f"`dot` could not run ({error.strerror or error})"
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        return None, f"`dot` failed ({lines[0] if lines else f'exit status {done.returncode}'})"
    return done.stdout, None


def _write_atomically(target: pathlib.Path, data: bytes) -> None:
    """Write a temp file beside `target`, then rename it, so a failure leaves no half file."""
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temp, "xb") as out:  # not mkstemp: keep the umask's permissions
            out.write(data)
        os.replace(temp, target)
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise BadInput(target, f"cannot be written: {error.strerror or error}") from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
