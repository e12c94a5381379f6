"""The inputs of both graphs and which old input each new one stands for.

Takes the two GraphViews (and the names the user feeds); gives the `Source` ops of each graph
and their pairing. A source is an op whose outputs verify feeds: a placeholder; a boolean
`placeholder_with_default` (a training flag, fed False: inference mode) or one named by
`--feed` (others compute their default); and the outputs of tf.data iterators and of queues,
fed like placeholders so that no input pipeline runs.

Pairing, most certain first: the pairs the user gives (`--input NEW=OLD`); the same name with
the same dtypes and compatible static shapes; then, among the sources left of one kind and
dtypes, the i-th new with the i-th old in graph order when both sides have as many (inputs
renamed), or every new one with the old one when the old side has one left (towers, each with
its own copy of the input). Whatever is left pairs with nothing: what it feeds is not compared.

A pairing only says which inputs are fed the same array, so it can never make a difference
pass unseen: at worst, a pairing nobody meant makes tensors differ or leaves them uncompared.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from graphdiff.graph_model import shape_from_proto
from graphdiff.verify.values import GraphView

_PLACEHOLDERS = frozenset({"Placeholder", "PlaceholderV2"})
_PIPELINE = re.compile(r"^(IteratorGetNext(Sync)?|QueueDequeue(Many|UpTo)?(V2)?)$")
_MACHINERY = re.compile(r"^(save|gradients)(_\d+)?/")
_INTERNAL = "graphdiff_unknown_shape"
DT_BOOL = 10

Shape = tuple[int | None, ...] | None


@dataclass(frozen=True)
class Source:
    name: str  # the op
    kind: str  # "placeholder", "default" (placeholder_with_default), "pipeline"
    dtypes: tuple[int, ...]  # DataType enums, one per output
    shapes: tuple[Shape, ...]  # static shapes, one per output


def sources_of(view: GraphView, fed: set[str]) -> dict[str, Source]:
    """The ops of `view` whose outputs verify feeds, in graph order (module docstring)."""
    found = {}
    for name in view.order:
        op = view.op(name)
        if _MACHINERY.match(name) or name.endswith(_INTERNAL):
            continue
        node = view.nodes[name]
        if op in _PLACEHOLDERS:
            found[name] = Source(name, "placeholder", (_dtype(node),), (_shape(node),))
        elif op == "PlaceholderWithDefault" and (_dtype(node) == DT_BOOL or name in fed):
            found[name] = Source(name, "default", (_dtype(node),), (_shape(node),))
        elif _PIPELINE.match(op):
            found[name] = _pipeline_source(name, node)
    return found


def _pipeline_source(name: str, node) -> Source:
    key = "output_types" if "output_types" in node.attr else "component_types"
    dtypes = tuple(node.attr[key].list.type)
    shapes: tuple[Shape, ...] = (None,) * len(dtypes)
    for attr in ("output_shapes", "_output_shapes"):
        listed = node.attr[attr].list.shape if attr in node.attr else ()
        if len(listed) == len(dtypes):
            shapes = tuple(shape_from_proto(shape) for shape in listed)
            break
    return Source(name, "pipeline", dtypes, shapes)


def _dtype(node) -> int:
    return node.attr["dtype"].type


def _shape(node) -> Shape:
    if "shape" in node.attr and node.attr["shape"].HasField("shape"):
        return shape_from_proto(node.attr["shape"].shape)
    return None


def compatible(a: Shape, b: Shape) -> bool:
    if a is None or b is None:
        return True
    if len(a) != len(b):
        return False
    return all(x is None or y is None or x == y for x, y in zip(a, b, strict=True))


def pair_sources(
    new: dict[str, Source], old: dict[str, Source], given: dict[str, str] | None = None
) -> dict[str, str]:
    """new source -> old source it stands for (module docstring); `given` pairs come first."""
    pairs = {n: o for n, o in (given or {}).items() if n in new and o in old}
    for name, source in new.items():
        if name not in pairs and name in old and _fits(source, old[name]):
            pairs[name] = name
    new_left, old_left = defaultdict(list), defaultdict(list)
    for name, source in new.items():
        if name not in pairs:
            new_left[(source.kind, source.dtypes)].append(source)
    taken = set(pairs.values())
    for name, source in old.items():
        if name not in taken:
            old_left[(source.kind, source.dtypes)].append(source)
    for kind, news in new_left.items():
        olds = old_left.get(kind, [])
        if len(olds) == 1:
            olds = olds * len(news)
        if len(news) == len(olds):
            for a, b in zip(news, olds, strict=True):
                if _fits(a, b):
                    pairs[a.name] = b.name
    return pairs


def _fits(new: Source, old: Source) -> bool:
    return (
        new.kind == old.kind
        and new.dtypes == old.dtypes
        and all(compatible(a, b) for a, b in zip(new.shapes, old.shapes, strict=True))
    )
