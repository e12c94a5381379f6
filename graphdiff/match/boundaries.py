"""Where the walks start: the inputs and the outputs of the two graphs paired, by name where
names agree, else the one left on each side; and, behind a dense head, what the head reads.
"""

from __future__ import annotations

import re
from collections import defaultdict

from graphdiff.match.activations import ACTIVATIONS
from graphdiff.match.alignment import canonical_op, through_reads

_GENERATED = re.compile(r"^(Identity|keras_tensor|input_layer|input)(_\d+)?$")


def by_order(old_nodes, new_nodes) -> bool:
    """Several inputs (outputs) with names the tracing made (`Identity_1`: the second
    output): pairing them is pairing positions."""
    return any(
        len([n for n in nodes if _GENERATED.match(n)]) > 1 for nodes in (old_nodes, new_nodes)
    )


def boundary_anchors(old_nodes, new_nodes, context, kind):
    """Pair inputs (or outputs) by name, else by the longest common name suffix, if unique;
    the one left on each side (of one op type) pairs with the one left on the other."""
    by_suffix: dict[tuple, list[str]] = defaultdict(list)  # (op, last k name parts) -> old
    for old_name in old_nodes:
        parts = old_name.split("/")
        op = canonical_op(context.old_dag.nodes[old_name]["op"])
        for k in range(1, len(parts) + 1):
            by_suffix[(op, *parts[-k:])].append(old_name)
    anchors = []
    for name in new_nodes:
        parts = name.split("/")
        op = canonical_op(context.new_dag.nodes[name]["op"])
        for k in range(len(parts), 0, -1):  # the longest suffix some old name shares wins
            found = by_suffix.get((op, *parts[-k:]))
            if found:
                if len(found) == 1:
                    why = f"{kind} of the same name" if found[0] == name else f"{kind} '{found[0]}'"
                    anchors.append((name, found[0], why))
                break
    paired_new = {a[0] for a in anchors}
    paired_old = {a[1] for a in anchors}
    left_new = [n for n in new_nodes if n not in paired_new]
    left_old = [o for o in old_nodes if o not in paired_old]
    if len(left_new) == 1 and len(left_old) == 1:
        new_node, old_node = left_new[0], left_old[0]
        if _op(context.new_dag, new_node) != _op(context.old_dag, old_node):
            # A traced function returns its outputs through an Identity a TF1 graph lacks.
            new_node, old_node = (
                _past_identity(context.new_dag, new_node),
                _past_identity(context.old_dag, old_node),
            )
        if _op(context.new_dag, new_node) == _op(context.old_dag, old_node):
            anchors.append((new_node, old_node, f"the one {kind} left on each side"))
        elif kind == "output":
            anchors.append((new_node, old_node, ""))  # for _behind_heads only
    if kind == "output":  # a head of another size (or activation) stops the walk there
        anchors = [a for a in anchors if a[2]] + [
            behind for a in anchors for behind in _behind_heads(context, a[0], a[1])
        ]
    return anchors


_HEAD_OPS = frozenset({"MatMul", "BiasAdd", "Add", "AddV2"})


def _behind_heads(context, new_output: str, old_output: str) -> list[tuple[str, str, str]]:
    """The one output of each side is computed by a dense head: what the two heads read, when
    it is the same op on both sides, is where the walk from the outputs starts too, so that
    a head of another size or activation (10 classes with softmax, 6 without) does not stop
    it before it begins (the features a new head was put on)."""
    new_features = _head_input(context.new_dag, new_output)
    old_features = _head_input(context.old_dag, old_output)
    if new_features is None or old_features is None:
        return []
    if _op(context.new_dag, new_features) != _op(context.old_dag, old_features):
        return []
    return [(new_features, old_features, "what the one head on each side reads")]


def _head_input(dag, output: str) -> str | None:
    """Back from an output through its activation and a dense head (a MatMul of a variable,
    the bias added): the tensor the head reads, or None when that is not how it ends."""
    node, weighted = _past_identity(dag, output), False
    if dag.nodes[node]["op"] in ACTIVATIONS:
        node = _past_identity(dag, dag.nodes[node]["inputs"][0][0])
    for _ in range(4):
        attrs = dag.nodes[node]
        if attrs["op"] not in _HEAD_OPS or len(attrs["inputs"]) != 2:
            break
        behind = [through_reads(dag, producer) for producer, _ in attrs["inputs"]]
        if behind[1] is None or behind[0] is not None:
            break  # the second input is the head's weight, the first the data
        weighted |= attrs["op"] == "MatMul"
        node = _past_identity(dag, attrs["inputs"][0][0])
    return node if weighted else None


def _op(dag, node: str) -> str:
    return canonical_op(dag.nodes[node]["op"])


def _past_identity(dag, node: str) -> str:
    while _op(dag, node) == "Identity" and dag.nodes[node]["inputs"]:
        node = dag.nodes[node]["inputs"][0][0]
    return node
