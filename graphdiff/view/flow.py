"""Data flow between scopes, from the two graphs a plan names, read only as far as needed.

In: a Plan; its provenance names the old `.meta` and the new graph file with their sha256.
Out: `Flows`, one `GraphFlow` a side (None when that graph cannot be read) and a one-line
`note` saying what is missing and why. From a GraphFlow:

- `sibling_order(tree)` orders each scope's child scopes along the data (natural order among
  scopes the data does not order), so that a picture reads from inputs to outputs;
- `edges(units)` says which drawn box feeds which: a data path from an op of one box to an op
  of another that passes through no third box's ops.

Only the forward computation counts (no gradients, optimizer updates, initializers or the
Saver's ops). The old graph is parsed from its `.meta`; the new graph's `.py` is run, as
`plan` and `apply` run it, but only when its sha256 is still the plan's. A file that is gone
or changed, or a missing TensorFlow, leaves that side without edges: never an error.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from graphdiff.errors import GraphdiffError
from graphdiff.plan import FileFingerprint, OldSource, Plan
from graphdiff.view.scopetree import ROOT, SOURCE_MARK, Scope

_CACHE: dict[tuple[str, str], GraphFlow] = {}
_CACHE_SIZE = 4


@dataclass(frozen=True)
class GraphFlow:
    """The forward ops of one graph in topological order, each with its data inputs."""

    ops: tuple[tuple[str, tuple[str, ...]], ...]
    unplaced: bool = False  # a trace whose ops no variable scope could be given: no edges

    def under(self, prefix: str) -> GraphFlow:
        """The same flow with every op's name under `prefix` (a named source's `cls:/`)."""
        return GraphFlow(
            tuple((prefix + op, tuple(prefix + i for i in inputs)) for op, inputs in self.ops),
            self.unplaced,
        )

    def edges(self, units: dict[str, str], root_names: frozenset[str] = frozenset()) -> set:
        """(a, b) unit pairs with a data path from a to b through ops of no unit.

        `units` maps a scope name to its unit; an op belongs to the unit of its longest scope
        prefix. `root_names` are variables at the root whose ops (`w`, `w/read`) form the
        unit of the root scope; other root-level ops belong to none.
        """
        found: set[tuple[str, str]] = set()
        reach: dict[str, frozenset[str]] = {}
        unit_of: dict[str, str | None] = {}
        for name, inputs in self.ops:
            unit = unit_of[name] = _unit(name, units, root_names)
            sources: set[str] = set()
            for producer in inputs:
                owner = unit_of.get(producer)
                sources.update((owner,) if owner is not None else reach.get(producer, ()))
            if unit is None:
                if sources:
                    reach[name] = frozenset(sources)
            else:
                found.update((source, unit) for source in sources if source != unit)
        return found

    def sibling_order(self, tree: Scope):
        """An order of child scopes (for boxes.select) that follows the data."""
        units = {s.name: s.name for s in tree.walk() if s.direct and s.path}
        roots = frozenset(i.name for i in tree.direct)
        if tree.direct:
            units[ROOT] = ROOT
        after: dict[str, set[str]] = {}
        for a, b in self.edges(units, roots):
            pair = _siblings(a, b)
            if pair:
                after.setdefault(pair[0], set()).add(pair[1])
        return lambda scope: _topological(scope.ordered(), after)


def _unit(name: str, units: dict[str, str], root_names: frozenset[str]) -> str | None:
    parts = name.split("/")
    for end in range(len(parts) - 1, 0, -1):
        unit = units.get("/".join(parts[:end]))
        if unit is not None:
            return unit
    if parts[0] in root_names:
        return units.get(ROOT)
    return None


def _siblings(a: str, b: str) -> tuple[str, str] | None:
    """The children of the deepest common scope on the way to `a` and to `b`, if distinct."""
    left = [] if a == ROOT else a.split("/")
    right = [] if b == ROOT else b.split("/")
    common = 0
    while common < min(len(left), len(right)) and left[common] == right[common]:
        common += 1
    if common == len(left) or common == len(right):
        return None  # one holds the other: no order between siblings
    return "/".join(left[: common + 1]), "/".join(right[: common + 1])


def _topological(children: list[Scope], after: dict[str, set[str]]) -> list[Scope]:
    """Kahn's order of `children` along `after`; natural order breaks ties and cycles."""
    by_name = {c.name: c for c in children}
    rank = {c.name: n for n, c in enumerate(children)}
    incoming = {name: 0 for name in by_name}
    for a in by_name:
        for b in after.get(a, ()):
            if b in incoming:
                incoming[b] += 1
    ready = [rank[n] for n, k in incoming.items() if k == 0]
    heapq.heapify(ready)
    out: list[Scope] = []
    while len(out) < len(children):
        if not ready:  # a cycle: take the first one left in natural order
            heapq.heappush(ready, min(rank[n] for n, k in incoming.items() if k > 0))
        name = children[heapq.heappop(ready)].name
        if incoming.pop(name, None) is None:
            continue
        out.append(by_name[name])
        for b in after.get(name, ()):
            if b in incoming:
                incoming[b] -= 1
                if incoming[b] == 0:
                    heapq.heappush(ready, rank[b])
    return out


@dataclass(frozen=True)
class Flows:
    sides: dict[str, GraphFlow | None]
    note: str | None  # one line when a side has no flow


def read_flows(plan: Plan) -> Flows:
    """The data flow of both graphs the plan names; each side None when it cannot be read.
    Named sources make one old side, each source's ops under its name (`cls:/resnet/...`),
    as the old tree names its keys; a source that cannot be read is left out of it."""
    provenance = plan.provenance
    sides: dict[str, GraphFlow | None] = {}
    faults = []
    olds = []
    for old in provenance.old_sources:
        try:
            fingerprint = old.old_meta or old.checkpoint_index
            flow = _cached(fingerprint, lambda f=fingerprint, o=old: _read_old(o, f))
            olds.append(flow if old.name is None else flow.under(f"{old.name}{SOURCE_MARK}"))
        except (GraphdiffError, ImportError, OSError) as error:
            faults.append(" ".join(str(error).split()))
    sides["old"] = (
        GraphFlow(tuple(op for f in olds for op in f.ops), all(f.unplaced for f in olds))
        if olds
        else None
    )
    try:
        new = provenance.new_graph
        sides["new"] = _cached(new, lambda: _read_new(plan, new))
    except (GraphdiffError, ImportError, OSError) as error:
        sides["new"] = None
        faults.append(" ".join(str(error).split()))
    unplaced = [
        "new graph" if side == "new" else "old model"
        for side, flow in sides.items()
        if flow is not None and flow.unplaced
    ]
    if unplaced:
        faults.append(
            f"the traced ops of the {' and the '.join(unplaced)} are not named by their "
            "variables' scopes (one scope computes with several layers' variables)"
        )
    note = None
    if faults:
        edgeless = [side for side, flow in sides.items() if flow is None or flow.unplaced]
        what = (
            "no data-flow edges"
            if len(edgeless) == 2
            else "data-flow edges on one side only"
            if edgeless
            else "data-flow edges of some sources only"
        )
        note = f"{what}: " + "; ".join(faults)
    return Flows(sides, note)


def _cached(fingerprint: FileFingerprint | None, read) -> GraphFlow:
    if fingerprint is None:
        raise GraphdiffError("the old side was planned without its checkpoint or graph")
    path = Path(fingerprint.path)
    if not path.is_file():
        raise GraphdiffError(f"{path}: no such file (moved or deleted since the plan was made)")
    from graphdiff.loading import sha256_of

    if sha256_of(path) != fingerprint.sha256:
        raise GraphdiffError(f"{path}: changed since the plan was made")
    key = (str(path.resolve()), fingerprint.sha256)
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = read()
    return _CACHE[key]


def _read_old(old: OldSource, fingerprint: FileFingerprint) -> GraphFlow:
    from graphdiff.graph_model import graph_to_dag
    from graphdiff.loading import read_meta_graph

    if old.old_kind != "tf1_meta":
        with _quiet():
            return _forward_ops(_other_old_dag(old), traced=True)
    return _forward_ops(graph_to_dag(read_meta_graph(fingerprint.path).graph_def))


def _read_new(plan: Plan, fingerprint: FileFingerprint) -> GraphFlow:
    from graphdiff.graph_model import graph_to_dag

    if plan.provenance.new_graph_kind in ("keras", "module"):
        from graphdiff.formats.model_target import model_new_model

        with _quiet():
            return _forward_ops(model_new_model(fingerprint.path).dag, traced=True)
    from graphdiff.new_graph import build_new_graph

    shapes = {e.name: e.shape_resolution.shape for e in plan.variables if e.shape_resolution}
    with _quiet():  # the user's code and its libraries talk; the picture does not need it
        graph_def = build_new_graph(fingerprint.path, shapes.get).graph.as_graph_def()
    return _forward_ops(graph_to_dag(graph_def))


def _other_old_dag(old: OldSource):
    """An old side's DAG through the format boundary (Keras weights, TF2, SavedModel)."""
    from graphdiff.formats import open_source

    if old.old_kind == "saved_model":
        return open_source(os.path.dirname(old.old_meta.path)).dag
    old_model = old.old_model.path if old.old_model else None
    return open_source(old.checkpoint_prefix, old_model=old_model).dag


@contextlib.contextmanager
def _quiet():
    with open(os.devnull, "w") as sink, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stdout(sink):
            yield


def _forward_ops(dag, traced: bool = False) -> GraphFlow:
    """The forward ops; a traced graph's (Keras, tf.Module) renamed into its variables' scopes
    (`functional_1/A_1/MatMul` -> `A/MatMul`), where boxes can find them."""
    import networkx as nx

    from graphdiff.match.alignment import forward_graph

    nodes = forward_graph(dag).nodes
    forward = dag.subgraph(nodes)
    rename = _in_variable_scopes(dag) if traced else {}
    ops = []
    for name in nx.lexicographical_topological_sort(forward):
        inputs = tuple(dict.fromkeys(p for p, _ in dag.nodes[name]["inputs"] if p in nodes))
        ops.append((_renamed(name, rename), tuple(_renamed(i, rename) for i in inputs)))
    scoped = any(d.get("op") in _VARIABLE_OPS and "/" in n for n, d in dag.nodes(data=True))
    return GraphFlow(tuple(ops), unplaced=traced and scoped and not rename)


_VARIABLE_OPS = frozenset({"VarHandleOp", "VariableV2", "Variable"})
_READS = frozenset({"ReadVariableOp", "Identity", "Cast"})


def _in_variable_scopes(dag) -> dict[str, str]:
    """Traced op scope -> the scope of the variables its ops use (`functional_1/A_1` -> `A`).

    A trace names ops by call (`functional_1/A_1/MatMul`), not by the variables' paths
    (`A/kernel`): the ops that first use a variable's value (past reads and casts) say which
    traced scope is that variable's layer. A traced scope whose ops use variables of two
    scopes (a subclassed model computing in one scope) is left unnamed: no edge beats a wrong
    one."""
    found: dict[str, set[str]] = {}
    for name, data in dag.nodes(data=True):
        if data.get("op") not in _VARIABLE_OPS or "/" not in name:
            continue
        for user in _users(dag, name):
            if "/" in user:
                found.setdefault(user.rsplit("/", 1)[0], set()).add(name.rsplit("/", 1)[0])
    return {traced: scopes.pop() for traced, scopes in found.items() if len(scopes) == 1}


def _users(dag, variable: str) -> set[str]:
    """The ops that compute with the variable's value: its consumers past reads and casts."""
    users, frontier, seen = set(), [variable], {variable}
    while frontier:
        for consumer in dag.successors(frontier.pop()):
            if consumer in seen:
                continue
            seen.add(consumer)
            if dag.nodes[consumer].get("op") in _READS:
                frontier.append(consumer)
            else:
                users.add(consumer)
    return users


def _renamed(name: str, rename: dict[str, str]) -> str:
    parts = name.split("/")
    for end in range(len(parts) - 1, 0, -1):
        scope = rename.get("/".join(parts[:end]))
        if scope is not None:
            return "/".join([scope, *parts[end:]])
    return name
