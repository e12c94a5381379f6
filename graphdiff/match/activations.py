"""What a layer applies to its output: its activation, read from the ops after it.

`Dense(16, "relu")` and `Dense(16, "tanh")` hold the same shapes but compute other things:
the activation is evidence that no shape gives. It is read from the ops that consume the
layer's output: one activation op (Relu, Tanh, Elu, Softmax, ...); Keras's composites (gelu's
Erf or Erfc, silu's `x * sigmoid(x)`, hard_sigmoid's `relu6(x + 3) / 6`); or, behind a residual sum,
the activation after the sum (`+Relu`, a ResNet block's end). Anything else (the next layer, a
normalization) says nothing: None, never a veto.
"""

from __future__ import annotations

ACTIVATIONS = frozenset(
    {
        "Relu",
        "Relu6",
        "Elu",
        "Selu",
        "Tanh",
        "Sigmoid",
        "Softplus",
        "Softsign",
        "LeakyRelu",
        "Softmax",
        "LogSoftmax",
        "Gelu",
    }
)
PASS_THROUGH = frozenset({"Identity", "Cast", "IdentityN", "StopGradient"})
_SUMS = frozenset({"Add", "AddV2", "AddN"})
_ELEMENTWISE = frozenset({"Mul", "Neg", "RealDiv", "Sub", "Add", "AddV2", "Pow", "Square"})
_PARAMETER_PATH = frozenset({"Identity", "ReadVariableOp", "Cast", "Reshape", "ExpandDims"})
_VARIABLE_OPS = frozenset({"VariableV2", "Variable", "VarHandleOp"})


def applied(graph, output: str, keep) -> str | None:
    """The activation applied to `output` (an op of a ForwardGraph), or None.

    `keep(node)` says which consumers count (the forward graph, or the stream)."""
    dag = graph.dag
    consumers = list(_consumers(graph, output, keep))
    kinds = [dag.nodes[c]["op"] for c in consumers]
    if len(consumers) == 1 and kinds[0] in ACTIVATIONS:
        return kinds[0]
    near = _composite(graph, consumers, keep)
    near_kinds = {dag.nodes[n]["op"] for n in near}
    if near_kinds & {"Erf", "Erfc"}:
        return "Gelu"
    if "Sigmoid" in near_kinds and any(_multiplies_by_sigmoid(dag, c, output) for c in consumers):
        return "Silu"
    if len(consumers) == 1 and kinds[0] in _SUMS:
        after = list(_consumers(graph, consumers[0], keep))
        if len(after) != 1:
            return None
        kind = dag.nodes[after[0]]["op"]
        constant = any(dag.nodes[p]["op"] == "Const" for p, _ in dag.nodes[consumers[0]]["inputs"])
        if constant and kind == "Relu6":
            return "HardSigmoid"
        if not constant and kind in ACTIVATIONS:
            return f"+{kind}"  # a residual sum, then the activation
    return None


def _composite(graph, consumers: list[str], keep) -> set[str]:
    """The ops an activation written as a composite spans: the consumers and theirs, and one
    step more through element-wise ops (gelu's Erfc sits behind a Neg and a Mul)."""
    second = {after for node in consumers for after in _consumers(graph, node, keep)}
    third = {
        after
        for node in second
        if graph.dag.nodes[node]["op"] in _ELEMENTWISE
        for after in _consumers(graph, node, keep)
    }
    return set(consumers) | second | third


def _multiplies_by_sigmoid(dag, node: str, output: str) -> bool:
    if dag.nodes[node]["op"] != "Mul":
        return False
    producers = [p for p, _ in dag.nodes[node]["inputs"]]
    return output in producers and any(dag.nodes[p]["op"] == "Sigmoid" for p in producers)


def _consumers(graph, op: str, keep):
    """Consumers of `op` that `keep` keeps, looking through identities and casts."""
    frontier, seen = [op], {op}
    while frontier:
        node = frontier.pop()
        for consumer, _, _ in graph.consumers.get(node, ()):
            if consumer in seen or not keep(consumer):
                continue
            seen.add(consumer)
            if graph.dag.nodes[consumer]["op"] in PASS_THROUGH:
                frontier.append(consumer)
            else:
                yield consumer


class ActivationAfter:
    """The activation the layer of an op applies, for the op walk: from the op, forward through
    the ops that add the layer's own parameters (a bias, a batch norm's scale) to the layer's
    output, then what `applied` reads there. `of(op)` is cached: walks ask often."""

    def __init__(self, graph):
        self.graph = graph
        self._known: dict[str, str | None] = {}

    def of(self, op: str) -> str | None:
        if op not in self._known:
            self._known[op] = self._find(op)
        return self._known[op]

    def _find(self, op: str) -> str | None:
        node, keep = op, self.graph.nodes.__contains__
        for _ in range(8):
            following = list(_consumers(self.graph, node, keep))
            if len(following) != 1 or not self._reads_parameter(following[0]):
                break
            node = following[0]
        return applied(self.graph, node, keep)

    def _reads_parameter(self, node: str) -> bool:
        dag = self.graph.dag
        for producer, _ in dag.nodes[node]["inputs"]:
            for _ in range(4):
                kind = dag.nodes[producer]["op"]
                if kind in _VARIABLE_OPS:
                    return True
                if kind not in _PARAMETER_PATH or not dag.nodes[producer]["inputs"]:
                    break
                producer = dag.nodes[producer]["inputs"][0][0]
        return False
