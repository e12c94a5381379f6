"""Align two forward graphs op by op, starting from what is already known to correspond.

Anchors (variables matched by name or by the user's rules, inputs, outputs) seed a walk over
both DAGs at once. Walking backward is exact: input port i of an op has one producer on each
side. Walking forward is exact when one consumer of a kind sits on each side; otherwise the
consumers are told apart by what else feeds them, and what is still alike waits until
everything else is settled. Each step only *proposes* a pair; a node proposed with two
different partners is a conflict that the caller treats as "do not trust". Names are never
read here, except to pair inputs and outputs as anchors.

Only the forward computation takes part: gradients, optimizer updates, initializers and the
Saver's ops are machinery that every graph has, and would pair by accident.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import networkx as nx

from graphdiff.graph_model import VARIABLE_OPS

_CANONICAL = {op: "Variable" for op in VARIABLE_OPS} | {
    "ReadVariableOp": "Identity",
    "BiasAdd": "AddV2",  # `x @ w + b` in a TF1 graph, tf.nn.bias_add in a Keras layer
    "Add": "AddV2",
}
_MACHINERY_SCOPE = re.compile(r"^(gradients|save)(_\d+)?$")
_MACHINERY_OP = re.compile(
    r"^(Resource|Sparse|ResourceSparse)?Apply|^Assign|^(Save|Restore)(V2|Slice)?$"
    r"|^(IsVariableInitialized|VarIsInitializedOp|NoOp)$"
)
_SUMS = frozenset({"AddV2", "AddN"})  # canonical ops
_INPUT_OPS = frozenset({"Placeholder", "PlaceholderV2", "PlaceholderWithDefault"})
_INTERNAL_SUFFIX = "graphdiff_unknown_shape"


def canonical_op(op: str) -> str:
    """Resource and reference variables (and their reads) compare equal, and so do the ways
    of adding (a bias)."""
    return _CANONICAL.get(op, op)


@dataclass
class ForwardGraph:
    """The forward part of one DAG, with consumer lists for fast walking."""

    dag: nx.DiGraph
    nodes: set[str]
    consumers: dict[str, list[tuple[str, int, int]]]  # producer -> (consumer, in port, out port)
    inputs: list[str]
    outputs: list[str]
    groups: dict[str, dict[tuple, list[str]]] = field(default_factory=dict)  # _Walk._groups
    order: dict[str, int] | None = None  # a topological order, once chains.py asks for it


def forward_graph(dag: nx.DiGraph) -> ForwardGraph:
    """The forward part of `dag`, worked out once per DAG (structure, layers and the picture
    each ask for it; a 1,600-block training graph has 300,000 ops). Callers do not change it."""
    if "graphdiff_forward" not in dag.graph:
        dag.graph["graphdiff_forward"] = _forward_graph(dag)
    return dag.graph["graphdiff_forward"]


def _forward_graph(dag: nx.DiGraph) -> ForwardGraph:
    consumers: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
    roots = []
    for name, attrs in dag.nodes(data=True):
        for port, (producer, out_port) in enumerate(attrs["inputs"]):
            consumers[producer].append((name, port, out_port))
        if attrs["op"] in VARIABLE_OPS or (
            attrs["op"] in _INPUT_OPS
            and not name.endswith(_INTERNAL_SUFFIX)
            and not _is_machinery(name, attrs["op"])  # the Saver's filename input
        ):
            roots.append(name)
    nodes = set(roots)
    queue = deque(roots)
    while queue:
        for consumer, _, _ in consumers.get(queue.popleft(), ()):
            if consumer not in nodes and not _is_machinery(consumer, dag.nodes[consumer]["op"]):
                nodes.add(consumer)
                queue.append(consumer)
    inputs = [n for n in roots if dag.nodes[n]["op"] in _INPUT_OPS]
    outputs = [
        n
        for n in nodes
        if dag.nodes[n]["op"] not in VARIABLE_OPS
        and not any(c in nodes for c, _, _ in consumers.get(n, ()))
        and not through_reads(dag, n)  # a variable's unread `read` op is no output
    ]
    return ForwardGraph(dag, nodes, consumers, inputs, sorted(outputs))


def _is_machinery(name: str, op: str) -> bool:
    return bool(_MACHINERY_OP.search(op) or _MACHINERY_SCOPE.match(name.split("/", 1)[0]))


@dataclass
class Alignment:
    """Proposed pairs (new node -> old nodes) with how each was reached and by which walks."""

    proposals: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    proposers: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    how: dict[tuple[str, str], str] = field(default_factory=dict)
    walks: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    replicated: set[tuple[str, str]] = field(default_factory=set)  # one old node, many new
    alike: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    # new node -> old nodes it fits as well as its siblings do (never paired: reported only)

    def merge(self, other: Alignment, walk: str) -> None:
        for pair, why in other.how.items():
            self.how.setdefault(pair, why)
            self.walks[pair].add(walk)
            self.proposals[pair[0]].add(pair[1])
            self.proposers[pair[1]].add(pair[0])
        self.replicated |= other.replicated
        for node, olds in other.alike.items():
            self.alike[node] |= olds


def align(
    old: ForwardGraph,
    new: ForwardGraph,
    anchor_groups: dict[str, Iterable[tuple[str, str, str]]],
    compatible,
) -> Alignment:
    """Walk both graphs from each group of anchors ((new, old, why) triples) on its own.

    Separate walks (from the inputs, from the outputs, from matched variables) make the
    result independent of visiting order: where two walks place a node differently, both
    proposals stay, and the caller sees the conflict instead of whichever came first.
    """
    return merge_walks(
        {name: walk(old, new, anchors, compatible) for name, anchors in anchor_groups.items()}
    )


def walk(old: ForwardGraph, new: ForwardGraph, anchors, compatible) -> Alignment:
    """One walk from one group of anchors; the same anchors always give the same result, so
    a caller may keep a walk and merge it again with others (merge_walks)."""
    anchors = list(anchors)
    shared = Counter(old_node for _, old_node, _ in anchors)
    one = _Walk(old, new, compatible)
    for new_node, old_node, why in anchors:
        # One old input feeding several new ones (a tower each): their walks may share
        # old ops, as copies found inside the walk do.
        one.propose(new_node, old_node, why, replicated=shared[old_node] > 1)
    one.run()
    one.trace_alike_variables()
    return one.alignment


def merge_walks(walks: dict[str, Alignment]) -> Alignment:
    merged = Alignment()
    for name, one in walks.items():
        merged.merge(one, name)
    return merged


class _Walk:
    def __init__(self, old: ForwardGraph, new: ForwardGraph, compatible):
        self.old, self.new, self.compatible = old, new, compatible
        self.alignment = Alignment()
        self.queue: deque[tuple[str, str]] = deque()
        self.waiting: list[tuple[str, str]] = []

    def propose(self, new_node: str, old_node: str, why: str, replicated=False) -> None:
        pair = (new_node, old_node)
        if pair in self.alignment.how:
            return
        self.alignment.how[pair] = why
        self.alignment.proposals[new_node].add(old_node)
        self.alignment.proposers[old_node].add(new_node)
        if replicated:
            self.alignment.replicated.add(pair)
        self.queue.append(pair)

    def run(self) -> None:
        allow_replicas = False
        while True:
            while self.queue:
                new_node, old_node = self.queue.popleft()
                self._backward(new_node, old_node)
                if not self._forward(new_node, old_node, allow_replicas):
                    self.waiting.append((new_node, old_node))
            waiting, self.waiting = self.waiting, []
            before = len(self.alignment.how)
            for pair in waiting:
                if not self._forward(*pair, allow_replicas):
                    self.waiting.append(pair)
            if len(self.alignment.how) == before:
                if allow_replicas or not self.waiting:
                    return
                allow_replicas = True  # nothing else moves: now let one old op feed copies

    def _backward(self, new_node: str, old_node: str) -> None:
        replica = (new_node, old_node) in self.alignment.replicated
        new_inputs = self.new.dag.nodes[new_node]["inputs"]
        old_inputs = self.old.dag.nodes[old_node]["inputs"]
        if len(new_inputs) != len(old_inputs):
            return
        for port, ((new_in, new_out), (old_in, old_out)) in enumerate(
            zip(new_inputs, old_inputs, strict=True)
        ):
            if new_out == old_out and self.compatible(new_in, old_in):
                why = f"input {port} of '{new_node}' ~ '{old_node}'"
                self.propose(new_in, old_in, why, replicated=replica)

    def _forward(self, new_node: str, old_node: str, allow_replicas: bool) -> bool:
        """Pair consumers; False when some stay too alike to tell apart (retry later)."""
        settled = True
        replica = (new_node, old_node) in self.alignment.replicated  # its old ops are shared
        new_groups = self._groups(self.new, new_node)
        old_groups = self._groups(self.old, old_node)
        for key, new_group in new_groups.items():
            old_group = old_groups.get(key)
            if not old_group:
                continue
            new_free = [n for n in new_group if n not in self.alignment.proposals]
            old_free = (
                old_group
                if replica
                else [o for o in old_group if o not in self.alignment.proposers]
            )
            if not new_free or not old_free:
                continue
            why = f"consumer of '{new_node}' ~ '{old_node}'"
            if len(new_free) == 1 and len(old_free) == 1:
                one_new, one_old = new_free[0], old_free[0]
                if self.compatible(one_new, one_old) and self._summands_alike(one_new, one_old):
                    self.propose(one_new, one_old, why, replicated=replica)
                continue
            settled &= self._pair_by_signature(new_free, old_free, why, allow_replicas, replica)
        return settled

    def _summands_alike(self, new_node: str, old_node: str) -> bool:
        """A sum pairs only with a sum of the same kinds of terms: a residual `x + f(x)` whose
        f is another kind of op on one side (gelu's Mul against a Relu: another layer there)
        is not the same tensor, and walking through it would pair the layers after it as if
        the block in between were the same."""
        if canonical_op(self.new.dag.nodes[new_node]["op"]) not in _SUMS:
            return True
        new_terms = self.new.dag.nodes[new_node]["inputs"]
        old_terms = self.old.dag.nodes[old_node]["inputs"]
        if len(new_terms) != len(old_terms):
            return False
        return all(
            _term_kind(self.new.dag, new_term) == _term_kind(self.old.dag, old_term)
            for (new_term, _), (old_term, _) in zip(new_terms, old_terms, strict=True)
        )

    def _pair_by_signature(self, new_free, old_free, why, allow_replicas, replica) -> bool:
        new_by_sig = _by_signature(self.new, new_free, self.alignment.proposals)
        old_by_sig = _by_signature(self.old, old_free, None, self.alignment.proposers)
        settled = True
        for signature, new_nodes in new_by_sig.items():
            old_nodes = old_by_sig.get(signature, [])
            if len(old_nodes) != 1:
                settled &= not old_nodes  # several alike on both sides: wait
                for new_node in new_nodes:
                    self.alignment.alike[new_node].update(old_nodes)
                continue
            if len(new_nodes) == 1 or allow_replicas:
                for new_node in new_nodes:
                    if self.compatible(new_node, old_nodes[0]):
                        copies = replica or len(new_nodes) > 1
                        self.propose(new_node, old_nodes[0], why, replicated=copies)
            else:
                settled = False
        return settled

    def trace_alike_variables(self, depth: int = 6) -> None:
        """Follow unpaired look-alike ops back to their variables, so the plan can name them."""
        for new_op, old_ops in list(self.alignment.alike.items()):
            if new_op in self.alignment.proposals:
                continue
            for old_op in old_ops:
                seen = {(new_op, old_op)}
                frontier = [(new_op, old_op)]
                for _ in range(depth):
                    frontier = [
                        pair
                        for a, b in frontier
                        for pair in self._alike_neighbours(a, b)
                        if pair not in seen and not seen.add(pair)
                    ]
                    for new_node, old_node in frontier:
                        if self.new.dag.nodes[new_node]["op"] in VARIABLE_OPS:
                            self.alignment.alike[new_node].add(old_node)

    def _alike_neighbours(self, new_node: str, old_node: str):
        """Inputs port by port, and consumers where one of a kind sits on each side."""
        new_inputs = self.new.dag.nodes[new_node]["inputs"]
        old_inputs = self.old.dag.nodes[old_node]["inputs"]
        if len(new_inputs) == len(old_inputs):
            for (new_in, new_out), (old_in, old_out) in zip(new_inputs, old_inputs, strict=True):
                if new_out == old_out and self.compatible(new_in, old_in):
                    yield new_in, old_in
        old_groups = self._groups(self.old, old_node)
        for key, new_group in self._groups(self.new, new_node).items():
            old_group = old_groups.get(key, [])
            one_each = len(new_group) == 1 and len(old_group) == 1
            if one_each and self.compatible(new_group[0], old_group[0]):
                yield new_group[0], old_group[0]

    @staticmethod
    def _groups(graph: ForwardGraph, node: str) -> dict[tuple, list[str]]:
        """Forward consumers of `node` by (op, input port, output port); kept per graph, as
        every walk asks again."""
        groups = graph.groups.get(node)
        if groups is None:
            groups = defaultdict(list)
            for consumer, port, out_port in graph.consumers.get(node, ()):
                if consumer in graph.nodes:
                    op = canonical_op(graph.dag.nodes[consumer]["op"])
                    groups[(op, port, out_port)].append(consumer)
            graph.groups[node] = groups
        return groups


def _term_kind(dag: nx.DiGraph, node: str) -> str:
    """The op that made a term of a sum, looking through reads and identities."""
    for _ in range(4):
        op = canonical_op(dag.nodes[node]["op"])
        if op != "Identity" or not dag.nodes[node]["inputs"]:
            return op
        node = dag.nodes[node]["inputs"][0][0]
    return op


def _by_signature(graph: ForwardGraph, nodes, proposals=None, proposers=None) -> dict:
    """Group nodes by what feeds them: op types, variable shapes, and already-paired inputs."""
    groups: dict[tuple, list[str]] = defaultdict(list)
    for node in nodes:
        parts = []
        for producer, out_port in graph.dag.nodes[node]["inputs"]:
            attrs = graph.dag.nodes[producer]
            behind = through_reads(graph.dag, producer)
            shape = graph.dag.nodes[behind]["shape"] if behind else None
            parts.append((canonical_op(attrs["op"]), out_port, shape))
        groups[tuple(parts)].append(node)
    return groups


def through_reads(dag: nx.DiGraph, node: str) -> str | None:
    for _ in range(4):
        attrs = dag.nodes[node]
        if attrs["op"] in VARIABLE_OPS:
            return node
        if canonical_op(attrs["op"]) != "Identity" or not attrs["inputs"]:
            return None
        node = attrs["inputs"][0][0]
    return None
