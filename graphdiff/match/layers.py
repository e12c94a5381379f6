"""Match variables layer by layer where the op-by-op walk cannot pass.

Two implementations of one model rarely agree op for op: a fused batch norm on one side is six
arithmetic ops on the other, a dense layer is MatMul + BiasAdd here and an Einsum there. The
op walk (alignment.py) stops at the first such op; this stage sees the graph coarser:

1. The *stream* is what depends on the model's inputs. A variable is *attached* to the stream
   ops it reaches through parameter-only ops (reads, casts, `rsqrt(variance + eps) * gamma`).
2. A *layer* is a group of variables whose attached ops touch: they share an op, or one op
   feeds the other directly. Conv + batch norm, MatMul + BiasAdd, a batch norm's moving-average
   updates hanging off its fused op: one layer each. Layers are linked along the stream.
3. The two layer graphs are walked together from the inputs and from layers holding variables
   already matched; a layer's neighbours pair up when one on each side has the same variable
   shapes, or (several alike) when their names agree best both ways. A layer reached twice
   with different partners is left alone.
4. In paired layers, variables pair by shape, and by leaf name where shapes repeat
   (`gamma`, `beta`, `moving_mean` of one batch norm).

Only what the earlier stages left without a candidate, or with the one candidate the layers
confirm, takes part: what they judged ambiguous stays so. Precision first, as everywhere.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict, deque
from dataclasses import dataclass, field
from functools import partial

import networkx as nx
import numpy as np

from graphdiff.match.activations import PASS_THROUGH, applied
from graphdiff.match.alignment import forward_graph
from graphdiff.match.core import Assignments, MatchContext
from graphdiff.match.units import pair_members
from graphdiff.plan import Evidence, Match

_RESHAPES = frozenset({"Reshape", "ExpandDims", "Squeeze"})
_SHAPE_OPS = frozenset({"Shape", "ShapeN", "Size", "Rank"})
_ATTACH_DEPTH = 8
CONFIDENCE = 0.85


@dataclass
class LayerView:
    """The layers of one DAG: variables grouped, groups linked along the stream."""

    group_of: dict[str, int] = field(default_factory=dict)  # variable -> group id
    members: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    succ: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    pred: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    inputs: dict[str, int] = field(default_factory=dict)  # input placeholder -> its group id
    attached: dict[str, set[str]] = field(default_factory=dict)  # variable -> its stream ops
    graph: object = None  # the ForwardGraph it was built from
    stream: set[str] = field(default_factory=set)  # what depends on the inputs' values


def match_by_layers(context: MatchContext, assignments: Assignments) -> None:
    """Pair free new model variables with free keys through aligned layers."""
    # A variable refused with one candidate (a rename seen only once) may still take it when
    # the layers agree; one refused among several stays refused, and so do its candidates.
    refused = assignments.refused
    claimed = {k for _, candidates in refused.values() if len(candidates) > 1 for k in candidates}
    new_free = {
        n
        for n in context.models()
        if assignments.is_free(n) and len(refused.get(n, ("", ()))[1]) <= 1
    }
    old_free = set(context.old_models()) - assignments.used_keys() - claimed
    if not new_free or not old_free:
        return
    new_view = layer_view(context.new_dag, new_free | set(assignments.pairs))
    old_view = layer_view(context.old_dag, old_free | assignments.used_keys())
    inputs = boundary_inputs(context, list(old_view.inputs), list(new_view.inputs))
    matched = [
        (new_view.group_of[name], old_view.group_of[key])
        for name, (key, _) in assignments.pairs.items()
        if name in new_view.group_of and key in old_view.group_of
    ]
    seeds = {
        "inputs": [(new_view.inputs[n], old_view.inputs[o]) for n, o in inputs],
        "outputs": list(
            _pair_neighbours(new_view, old_view, _last(new_view), _last(old_view), context)
        ),
        "variables": matched,
    }
    paired, contested = _align(new_view, old_view, seeds, context)
    _list_contested(context, assignments, new_view, old_view, contested, new_free, old_free)
    for new_group, old_group in paired.items():
        _pair_variables(
            context,
            assignments,
            new_view.members[new_group],
            old_view.members[old_group],
            new_free,
            old_free,
        )


def boundary_inputs(context, old_inputs, new_inputs) -> list[tuple[str, str]]:
    from graphdiff.match.structure import _boundary_anchors

    return [(n, o) for n, o, _ in _boundary_anchors(old_inputs, new_inputs, context, "input")]


def layer_view(dag: nx.DiGraph, variables: set[str]) -> LayerView:
    graph = forward_graph(dag)
    stream = _stream(graph)
    attached: dict[str, set[str]] = defaultdict(set)  # stream op -> variables attached to it
    for variable in variables:
        if variable in graph.nodes:
            for op in _attachment(graph, stream, variable):
                attached[op].add(variable)
    view = LayerView(graph=graph, stream=stream)
    for op, held in attached.items():
        for variable in held:
            view.attached.setdefault(variable, set()).add(op)
    op_group = _groups(graph, stream, attached, view)
    for name in graph.inputs:
        view.inputs[name] = op_group[name] = len(view.members) + len(view.inputs)
    for earlier, later in _layer_edges(graph, stream, op_group):
        view.succ[earlier].add(later)
        view.pred[later].add(earlier)
    return view


def _groups(graph, stream, attached, view: LayerView) -> dict[str, int]:
    """Union the variables that share an op or whose ops follow each other directly (a
    bias after its kernel's MatMul, maybe through a reshape); fill `view`; op -> group."""
    parent = {v: v for held in attached.values() for v in held}

    def find(v):
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    for op, held in attached.items():
        first = next(iter(held))
        for v in held:
            parent[find(v)] = find(first)
        for consumer in _direct_stream_consumers(graph, stream, op, attached):
            parent[find(next(iter(attached[consumer])))] = find(first)
    ids: dict[str, int] = {}
    for v in sorted(parent):
        group = ids.setdefault(find(v), len(ids))
        view.group_of[v] = group
        view.members[group].append(v)
    return {op: view.group_of[next(iter(held))] for op, held in attached.items()}


def _stream(graph) -> set[str]:
    """What depends on the inputs' values (a tensor's shape is not its value)."""
    seen, queue = set(graph.inputs), deque(graph.inputs)
    while queue:
        node = queue.popleft()
        if graph.dag.nodes[node]["op"] in _SHAPE_OPS:
            continue
        for consumer, _, _ in graph.consumers.get(node, ()):
            if consumer in graph.nodes and consumer not in seen:
                seen.add(consumer)
                queue.append(consumer)
    return seen


def _attachment(graph, stream: set[str], variable: str) -> set[str]:
    """The stream ops `variable` reaches through ops that depend on no input."""
    found, frontier, seen = set(), [variable], {variable}
    for _ in range(_ATTACH_DEPTH):
        following = []
        for node in frontier:
            for consumer, _, _ in graph.consumers.get(node, ()):
                if consumer not in graph.nodes or consumer in seen:
                    continue
                seen.add(consumer)
                (found.add if consumer in stream else following.append)(consumer)
        frontier = following
    return found


def _direct_stream_consumers(graph, stream, op: str, attached):
    """Attached stream ops right after `op`: through identities and casts, and through
    reshapes to an op whose variables are vectors (a bias after a reshaped MatMul)."""
    frontier, seen = [(op, False)], {op}
    while frontier:
        node, reshaped = frontier.pop()
        for consumer, _, _ in graph.consumers.get(node, ()):
            if consumer not in stream or consumer in seen:
                continue
            seen.add(consumer)
            kind = graph.dag.nodes[consumer]["op"]
            if kind in PASS_THROUGH or kind in _RESHAPES:
                frontier.append((consumer, reshaped or kind in _RESHAPES))
            elif consumer in attached and (not reshaped or _vectors(graph, attached[consumer])):
                yield consumer


def _vectors(graph, variables) -> bool:
    return all(len(graph.dag.nodes[v]["shape"] or ()) <= 1 for v in variables)


def _layer_edges(graph, stream, op_group: dict[str, int]):
    """(earlier, later) groups: `later` takes the output of `earlier` with no layer between.

    Walked in topological order, each stream op carries the groups whose output it still is
    (its *front*) and every group it depends on (a bit set): where several fronts meet, a
    group that another one of them depends on is already behind (a residual input, the
    mean a normalization subtracts), so it is dropped.
    """
    order = [n for n in nx.topological_sort(graph.dag) if n in stream]
    front: dict[str, frozenset[int]] = {}
    behind: dict[str, int] = {}  # op -> bit set of the groups it depends on
    group_behind: dict[int, int] = defaultdict(int)
    edges = set()
    for node in order:
        producers = [p for p, _ in graph.dag.nodes[node]["inputs"] if p in front]
        incoming = frozenset().union(*(front[p] for p in producers))
        depends = 0
        for p in producers:
            depends |= behind[p]
        group = op_group.get(node)
        if group is not None:
            edges.update((g, group) for g in incoming if g != group)
            group_behind[group] |= depends & ~(1 << group)
            front[node], behind[node] = frozenset({group}), depends | (1 << group)
        else:
            front[node] = frozenset(
                g
                for g in incoming
                if not any(h != g and (group_behind[h] >> g) & 1 for h in incoming)
            )
            behind[node] = depends
    return edges


# --- aligning the two layer graphs -----------------------------------------------------------


def _last(view: LayerView) -> list[int]:
    """The layers nothing follows: where the walk from the outputs starts."""
    return [g for g in view.members if not view.succ.get(g)]


def _align(new: LayerView, old: LayerView, seeds: dict[str, list], context):
    """(new group -> old group for every pair the walks reach without a conflict, new group
    -> the old groups of its conflicts).

    Each group of seeds (inputs, outputs, layers of variables matched so far) is walked on
    its own, so that a layer the two ends place differently (a block inserted beside one
    alike: the walk from the inputs takes the first, the one from the outputs the second) is
    a conflict, left alone, and not whichever walk came first."""
    proposals: dict[int, set[int]] = defaultdict(set)
    taken: dict[int, set[int]] = defaultdict(set)
    for group in seeds.values():
        walked_proposals, walked_taken = _walk_layers(new, old, group, context)
        for new_group, olds in walked_proposals.items():
            proposals[new_group] |= olds
        for old_group, news in walked_taken.items():
            taken[old_group] |= news
    paired, contested = {}, {}
    for n, olds in proposals.items():
        if len(olds) == 1 and len(taken[next(iter(olds))]) == 1:
            paired[n] = next(iter(olds))
        else:
            contested[n] = set(olds)
    for o, news in taken.items():  # one old layer placed at several new ones
        if len(news) > 1:
            for n in news:
                contested.setdefault(n, set()).add(o)
    return paired, contested


def _list_contested(context, assignments, new_view, old_view, contested, new_free, old_free):
    """Layers the walks place at several old layers (or an old layer at several new ones):
    initialized, with what each of those old layers would give each variable listed."""
    fits = partial(_fits, context)
    for new_group, old_groups in contested.items():
        members = new_view.members[new_group]
        options: dict[str, list[str]] = defaultdict(list)
        for old_group in sorted(old_groups):
            keys = [k for k in old_view.members[old_group] if k in old_free]
            paired = pair_members(members, keys, fits)
            for name in members:
                fitting = [paired[name]] if name in paired else [k for k in keys if fits(name, k)]
                options[name] += [k for k in fitting if k not in options[name]]
        olds = ", ".join(_label(old_view.members[o]) for o in sorted(old_groups))
        for name in members:
            if name not in new_free or not assignments.is_free(name):
                continue
            if options[name] and name not in assignments.refused:
                reason = (
                    f"the walks through the layers (from the inputs, from the outputs, from "
                    f"what is matched) do not agree: {olds} here, and elsewhere too; "
                    "confirm with --map"
                )
                assignments.refuse(name, reason, options[name])


def _fits(context, name: str, key: str) -> bool:
    return context.unfit(name, key) is None


def _walk_layers(new: LayerView, old: LayerView, seeds, context):
    """One walk over both layer graphs from `seeds`: (new -> old groups, old -> new groups)."""
    proposals: dict[int, set[int]] = defaultdict(set)
    taken: dict[int, set[int]] = defaultdict(set)
    queue = deque()
    for pair in seeds:
        if pair[1] not in proposals[pair[0]]:
            proposals[pair[0]].add(pair[1])
            taken[pair[1]].add(pair[0])
            queue.append(pair)
    while queue:
        new_group, old_group = queue.popleft()
        for links in ("succ", "pred"):
            new_next = [g for g in getattr(new, links)[new_group] if g not in proposals]
            old_next = [g for g in getattr(old, links)[old_group] if g not in taken]
            for pair in _pair_neighbours(new, old, new_next, old_next, context):
                proposals[pair[0]].add(pair[1])
                taken[pair[1]].add(pair[0])
                queue.append(pair)
    return proposals, taken


def _pair_neighbours(new, old, new_groups, old_groups, context):
    """Neighbours that pair up: alone with their signature on each side and fitting, or,
    several alike, each the other's best by the words of their names."""
    by_signature_new, by_signature_old = defaultdict(list), defaultdict(list)
    for g in new_groups:
        by_signature_new[_signature(new.members[g], context.new_variables)].append(g)
    for g in old_groups:
        by_signature_old[_signature(old.members[g], context.checkpoint)].append(g)
    for signature, news in by_signature_new.items():
        olds = [o for o in by_signature_old.get(signature, []) if signature != ("input",)]
        fitting = [
            (n, o)
            for n in news
            for o in olds
            if _fit(new.members[n], old.members[o], context) and _same_activation(new, n, old, o)
        ]
        if len(news) == 1 and len(olds) == 1:
            yield from fitting
        elif fitting:
            yield from _pair_by_names(fitting, new, old)


def activation_of(view: LayerView, members) -> tuple[str, ...]:
    """What the layer of these variables applies to its output (activations.py), read after
    each of its outputs: its attached ops that no other of them reads."""
    ops = set().union(*(view.attached.get(m, set()) for m in members))
    keep = view.stream.__contains__
    found = set()
    for op in ops:
        if any(c in ops for c in _stream_consumers(view, op)):
            continue
        found.add(applied(view.graph, op, keep))
    found.discard(None)
    return tuple(sorted(found))


def form_of(view: LayerView, members) -> tuple:
    """How the layer's ops apply its weights beyond their shapes: each convolution's op,
    strides and dilations (graph_model.py), sorted; empty for a layer without one."""
    ops = set().union(*(view.attached.get(m, set()) for m in members))
    dag = view.graph.dag
    return tuple(
        sorted({(dag.nodes[o]["op"], dag.nodes[o]["form"]) for o in ops if "form" in dag.nodes[o]})
    )


def _stream_consumers(view, op: str):
    """Stream consumers of `op`, looking through identities and casts."""
    frontier, seen = [op], {op}
    while frontier:
        node = frontier.pop()
        for consumer, _, _ in view.graph.consumers.get(node, ()):
            if consumer not in view.stream or consumer in seen:
                continue
            seen.add(consumer)
            if view.graph.dag.nodes[consumer]["op"] in PASS_THROUGH:
                frontier.append(consumer)
            else:
                yield consumer


def _same_activation(new: LayerView, new_group: int, old: LayerView, old_group: int) -> bool:
    """Unless both apply an activation and not the same one (relu here, tanh there), or
    convolve with other strides."""
    new_act = activation_of(new, new.members[new_group])
    old_act = activation_of(old, old.members[old_group])
    if new_act and old_act and new_act != old_act:
        return False
    new_form = form_of(new, new.members[new_group])
    old_form = form_of(old, old.members[old_group])
    return not (new_form and old_form and new_form != old_form)


def _signature(members: list[str], table) -> tuple:
    """How many elements each variable of a layer holds, sorted: a reshaped kernel counts
    the same; whether the shapes really fit is `_fit`'s question."""
    if not members:
        return ("input",)
    sizes = []
    for name in members:
        shape = table[name].shape
        sizes.append(-1 if shape is None or None in shape else int(np.prod(shape, dtype=np.int64)))
    return tuple(sorted(sizes))


def _fit(new_members: list[str], old_members: list[str], context) -> bool:
    """Every variable of the new layer fits a variable of the old one, one each."""
    taken: set[str] = set()
    for name in new_members:
        options = [k for k in old_members if k not in taken and context.unfit(name, k) is None]
        if not options:
            return False
        taken.add(options[0])
    return True


def _pair_by_names(fitting, new, old):
    """Alike layers paired by the words of their names: each the other's one best match."""
    score = {
        (n, o): _similarity(_words(new.members[n]), _words(old.members[o])) for n, o in fitting
    }
    news = {n for n, _ in fitting}
    for n in news:
        best = _unique_best({o: s for (m, o), s in score.items() if m == n})
        if (
            best is not None
            and _unique_best({m: s for (m, o), s in score.items() if o == best}) == n
        ):
            yield n, best


def _words(names: list[str]) -> set[str]:
    return {w for name in names for w in re.split(r"[/_.\-]+", name.lower()) if w}


def _similarity(a: set[str], b: set[str]) -> float:
    """Words shared, a word matching another that starts like it (`pooled`, `pooler`)."""
    if not a or not b:
        return 0.0
    shared = sum(1 for w in a if any(_alike(w, v) for v in b))
    return shared / (len(a) + len(b) - shared)


def _alike(one: str, other: str) -> bool:
    if one == other:
        return True
    common = len(os.path.commonprefix([one, other]))
    return common >= 4 and common >= min(len(one), len(other)) - 1


def _unique_best(scores: dict):
    if not scores:
        return None
    best = max(scores.values())
    winners = [k for k, s in scores.items() if s == best]
    return winners[0] if len(winners) == 1 and best > 0 else None


# --- pairing variables inside paired layers --------------------------------------------------


def _pair_variables(context, assignments, new_members, old_members, new_free, old_free):
    """Inside one pair of layers: each free variable with the one free key that fits it (by
    shape, then by leaf name), when no other variable of the layer wants that key."""
    used = assignments.used_keys()
    news = [n for n in new_members if n in new_free and assignments.is_free(n)]
    olds = [o for o in old_members if o in old_free and o not in used]
    options = {n: _options(context, n, olds) for n in news}
    wanted = defaultdict(list)
    for n, keys in options.items():
        for key in keys:
            wanted[key].append(n)
    for n, keys in options.items():
        earlier = assignments.refused.get(n, ("", ()))[1]
        if earlier and keys != list(earlier):
            continue  # the op walk proposed another key, or none that fits: leave it
        if len(keys) > 1:
            assignments.refuse(n, "several variables of the layer at the same place fit it", keys)
        elif len(keys) == 1 and len(wanted[keys[0]]) > 1:
            assignments.refuse(n, "another variable of the layer fits its key as well", keys)
        elif len(keys) == 1:
            where = f"{_label(old_members)} ~ {_label(new_members)}"
            evidence = (Evidence("layer", f"in the layer at the same place: {where}"),)
            assignments.assign(n, keys[0], Match("structure", CONFIDENCE, evidence))


def _options(context, name: str, keys: list[str]) -> list[str]:
    fitting = [k for k in keys if context.unfit(name, k) is None]
    if len(fitting) > 1:
        leaf = name.rsplit("/", 1)[-1]
        same_leaf = [k for k in fitting if k.rsplit("/", 1)[-1] == leaf]
        return same_leaf if same_leaf else fitting
    return fitting


def _label(members: list[str]) -> str:
    scopes = sorted({m.rsplit("/", 1)[0] for m in members})
    return ", ".join(scopes[:3]) + (" ..." if len(scopes) > 3 else "")
