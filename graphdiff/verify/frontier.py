"""The shared frontier: the tensors of the new graph that compute what the old graph computed.

Takes the plan, both GraphViews and the old graph's partitioned variables; gives a
`Correspondence`, which numbers the values of both graphs (values.py) from the plan's restore
entries and the paired inputs (inputs.py), and answers: which new ops are shared, which old
tensor a new one equals, which restored variables lie upstream of a tensor.

The frontier is every tensor of the new forward graph that is shared, has a restored variable
upstream, is not itself a variable's value, is computed from the inputs (when the graph has
any: what only variables compute, the restored variables read directly cover), and has a
consumer that is not shared (or none):
the last shared tensor on each path, such as the old outputs when the head is unchanged and the
features before a new head. Tensors inside a v1 cond branch are left out (the branch may not
run). Where a restored layer is fed something new (a layer inserted before it), the new input
is cut (cuts.py): fed what the old layer read, so that what follows is shared again. A
restored variable never pairs with anything but the checkpoint key the plan names, and one the
plan transforms (cast, reshape, grow) with nothing.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from graphdiff.formats.trace import OTHER_RESOURCE
from graphdiff.graph_model import VARIABLE_OPS
from graphdiff.plan import Plan
from graphdiff.verify.cuts import MAX_ROUNDS, computed_from, cut_index, find_cuts
from graphdiff.verify.inputs import DT_BOOL, Source, pair_sources, sources_of
from graphdiff.verify.values import (
    GraphView,
    Numbering,
    Value,
    Values,
    is_summary,
    number_values,
    varies,
)

_SWITCH = frozenset({"Switch", "RefSwitch"})
_MERGE = frozenset({"Merge", "RefMerge"})


@dataclass(frozen=True)
class TensorPair:
    """A new tensor and the old tensor it is compared with."""

    new: str  # "op:port"
    old: str
    same_ops: bool  # both computed by the same ops from paired sources: compare bit for bit
    how: str = "same_ops"  # "same_ops" (the frontier), "given", "outputs", "misplaced" (pairs.py)
    reason: str = ""  # why a misplaced pair is compared (places.py)


@dataclass(frozen=True)
class Cut:
    """A tensor of the new graph fed the value an old tensor has (module docstring)."""

    new: str  # "op:port"
    old: str


class Correspondence:
    """Both graphs numbered together; see the module docstring."""

    def __init__(
        self,
        plan: Plan,
        old: GraphView,
        new: GraphView,
        old_parts: dict,
        fed=(),
        old_outputs=None,
        fits=None,
        inputs=None,
    ):
        """`old_outputs`: op -> how many outputs it has in the old graph (a port the old graph
        never reads is still a tensor a new op may read); without it, the ports read.
        `fits(new_tensor, old_tensor)`: whether an old tensor's value may be fed to a new one
        (dtype and static shape); without it, no cut is made. `inputs`: new input op -> the
        old input op it stands for, as the user paired them (--input)."""
        self.old, self.new = old, new
        self.old_outputs = old_outputs or {}
        inputs = dict(inputs or {})
        self.old_sources = sources_of(old, set(fed) | set(inputs.values()))
        self.new_sources = sources_of(new, set(fed) | set(inputs))
        self.source_pairs = pair_sources(self.new_sources, self.old_sources, inputs)
        self.entry_of = _restored_ops(plan, new)  # new variable op -> plan entry name
        table = Numbering()
        old_seeds = _old_variable_seeds(old, old_parts)
        self.old_keys = {name: seed[1] for name, seed in old_seeds.items()}  # op -> key
        old_seeds.update({name: ("source", name) for name in self.old_sources})
        new_false, old_false = self._fed_false(set(fed))
        self.old_values = number_values(old, old_seeds, table, old=True, false=old_false)
        new_seeds = _new_variable_seeds(plan, new)
        new_seeds.update({n: ("source", o) for n, o in self.source_pairs.items()})
        self.new_values = number_values(new, new_seeds, table, old=False, false=new_false)
        self.variable_ids = {self.old_values.ids[v] for v in _variable_ops(old)}
        self.old_depth = _branch_depth(old)
        self.new_depth = _branch_depth(new)
        self.old_index = self._index_old()
        self.old_ids = {value[0] for value in self.old_index}
        self.cuts: dict[str, Cut] = {}  # new tensor -> its cut
        self.cut_ops: set[str] = set()
        self._uncut = self.new_values
        if fits is not None:
            self._cut(
                fits,
                new_seeds,
                lambda cuts: number_values(
                    new, new_seeds, table, old=False, false=new_false, cuts=cuts
                ),
            )

    def _novel_sources(self, seeds: dict) -> set[str]:
        """What the new graph computes from that the old one has not: variables the plan does
        not restore as they were (initialized, or transformed), inputs paired with none,
        resources of other kinds."""
        new = self.new
        return {
            name
            for name in new.order
            if (new.op(name) in VARIABLE_OPS and seeds.get(name, ("",))[0] != "variable")
            or (name in self.new_sources and name not in self.source_pairs)
            or new.op(name) == OTHER_RESOURCE
        }

    def _cut(self, fits, new_seeds: dict, renumber) -> None:
        """Cut the new graph where a restored layer is fed something new (cuts.py)."""
        anchored = computed_from(self.new, self.entry_of)
        new_from_inputs = computed_from(self.new, self.new_sources)
        novel = computed_from(self.new, self._novel_sources(new_seeds))
        old_from_inputs = computed_from(self.old, self.old_sources)
        index = cut_index(self.old, self.old_values, self.old_depth, old_from_inputs)
        cuts: dict[tuple[str, int], Value] = {}
        for _ in range(MAX_ROUNDS):
            found = find_cuts(self, index, fits, anchored, new_from_inputs, novel)
            found = {t: o for t, o in found.items() if t not in self.cuts}
            if not found:
                break
            for tensor, old_tensor in found.items():
                op, port = tensor.rsplit(":", 1)
                old_op, old_port = old_tensor.rsplit(":", 1)
                cuts[(op, int(port))] = self.old_values.of(old_op, int(old_port))
                self.cuts[tensor] = Cut(tensor, old_tensor)
                self.cut_ops.add(op)
            self.new_values = renumber(cuts)

    def _fed_false(self, fed: set[str]) -> tuple[set[str], set[str]]:
        """The boolean inputs fed False (no --feed array for them or their pairs)."""
        given_old = {self.source_pairs[n] for n in fed if n in self.source_pairs}
        new = {n for n, s in self.new_sources.items() if s.dtypes == (DT_BOOL,) and n not in fed}
        old = {
            o for o, s in self.old_sources.items() if s.dtypes == (DT_BOOL,) and o not in given_old
        }
        return new, old

    def _index_old(self) -> dict[Value, list[str]]:
        """Old tensor names by value, in graph order, outside cond branches."""
        forward = self.old.forward
        ports: dict[str, set[int]] = {}
        for producer, consumers in forward.consumers.items():
            ports[producer] = {out_port for _, _, out_port in consumers}
        index: dict[Value, list[str]] = {}
        for name in self.old.order:
            if name not in forward.nodes or self.old_depth[name]:
                continue
            outputs = set(range(self.old_outputs.get(name, 0)))
            for port in sorted({0} | ports.get(name, set()) | outputs):
                if self.old_values.may_not_run(name, port):
                    continue
                index.setdefault(self.old_values.of(name, port), []).append(f"{name}:{port}")
        return index

    def shared(self, op: str) -> bool:
        """The new op computes a value the old forward graph computes."""
        return self.new_values.of(op, 0)[0] in self.old_ids

    def shared_uncut(self, op: str) -> bool:
        """`shared`, computed from the inputs alone (no tensor fed an old value)."""
        return self._uncut.of(op, 0)[0] in self.old_ids

    def old_tensor(self, op: str, port: int) -> str | None:
        """The old tensor equal to new `op:port`: same name first, then the last in graph order."""
        found = self.old_index.get(self.new_values.of(op, port))
        if not found:
            return None
        for candidate in (f"{op}:{port}", f"{op.rsplit('/', 1)[-1]}:{port}"):
            for name in found:
                if name == candidate or name.endswith("/" + candidate):
                    return name
        return found[-1]

    def frontier(self) -> list[TensorPair]:
        """The default tensors to compare (module docstring)."""
        new, pairs = self.new, []
        upstream = _has_variable_upstream(new)
        fed = computed_from(new, self.new_sources) if self.new_sources else None
        for name in new.order:
            if not self._candidate(name, upstream) or (fed is not None and not fed[name]):
                continue
            ports = self._frontier_ports(name)
            for port in ports:
                old = self.old_tensor(name, port)
                if old is not None:
                    pairs.append(TensorPair(f"{name}:{port}", old, same_ops=True))
        return pairs

    def _frontier_ports(self, name: str) -> list[int]:
        """The ports of a shared op read by an op that is not shared; [0] for a last op.

        An op read only by training machinery (a moving-average update, gradients) is no last
        op, nor is one read only inside a cond branch that inference mode never takes.
        """
        new = self.new
        consumers = new.forward.consumers.get(name, ())
        if not consumers:
            return [0]
        return sorted(
            {
                out_port
                for consumer, _, out_port in consumers
                if consumer in new.forward.nodes
                and not self.new_values.is_dead(consumer)
                and not self.new_values.may_not_run(name, out_port)
                and (not self.shared(consumer) or consumer in self.cut_ops)
            }
        )

    def _candidate(self, name: str, upstream: dict[str, bool]) -> bool:
        op = self.new.op(name)
        return (
            name in self.new.forward.nodes
            and op not in VARIABLE_OPS
            and name not in self.new_sources
            and not is_summary(op)
            and upstream[name]
            and self.shared(name)
            and self.new_values.of(name, 0)[0] not in self.variable_ids
            and not self.new_depth[name]
            and not self.new_values.may_not_run(name)
            and name not in self.cut_ops
        )

    def same_ops(self, new: tuple[str, int], old: tuple[str, int]) -> bool:
        value = self.new_values.of(*new)
        return value[0] >= 0 and value == self.old_values.of(*old)

    def restored_upstream(self, ops, through_cuts: bool = False) -> list[str]:
        """Plan entries (restored variables) upstream of the new ops, in plan order (not past
        a cut, unless asked: what is upstream of a fed tensor does not run)."""
        upstream = upstream_ops(self.new, ops, stop=() if through_cuts else self.cut_ops)
        found = {self.entry_of[op] for op in upstream if op in self.entry_of}
        return [name for name in dict.fromkeys(self.entry_of.values()) if name in found]

    def cut_upstream(self, tensor: str) -> bool:
        """A cut is upstream of new `tensor` (it is computed from an old value fed in)."""
        upstream = upstream_ops(self.new, [tensor.rsplit(":", 1)[0]], stop=self.cut_ops)
        return bool(upstream & self.cut_ops)

    def random_upstream(self, op: str) -> str | None:
        """A random op upstream of new `op` (computed from the inputs alone), if any."""
        upstream = upstream_ops(self.new, [op])
        return next(
            (name for name in self.new.order if name in upstream and varies(self.new, name)), None
        )

    def fully_restored(self, op: str) -> bool:
        """Every variable upstream of new `op` (computed from the inputs alone) is restored by
        the plan, and nothing upstream is a resource verify cannot fill."""
        upstream = upstream_ops(self.new, [op])
        return bool(upstream & set(self.entry_of)) and all(
            name in self.entry_of
            for name in upstream
            if self.new.op(name) in VARIABLE_OPS or self.new.op(name) == OTHER_RESOURCE
        )

    def sources_upstream(self, view: GraphView, ops, through_cuts: bool = False) -> list[str]:
        sources = self.new_sources if view is self.new else self.old_sources
        stop = self.cut_ops if view is self.new and not through_cuts else ()
        found = upstream_ops(view, ops, control=True, stop=stop)
        return [op for op in view.order if op in found and op in sources]

    def source(self, view: GraphView, name: str) -> Source:
        return (self.new_sources if view is self.new else self.old_sources)[name]


def _variable_ops(view: GraphView) -> list[str]:
    return [name for name in view.order if view.op(name) in VARIABLE_OPS]


def upstream_ops(view: GraphView, ops, control: bool = False, stop=()) -> set[str]:
    """The ops whose outputs `ops` read through data inputs (and control inputs, if asked),
    not walking past the ops in `stop` (cut: fed, so what they read does not run)."""
    seen = set(ops)
    queue = deque(seen)
    while queue:
        name = queue.popleft()
        if name in stop:
            continue
        producers = [producer for producer, _ in view.inputs(name)]
        if control:
            producers += view.dag.nodes[name]["control_inputs"]
        for producer in producers:
            if producer not in seen:
                seen.add(producer)
                queue.append(producer)
    return seen


def _restored_ops(plan: Plan, new: GraphView) -> dict[str, str]:
    ops = {}
    for entry in plan.restored:
        for op in [part.name for part in entry.partitions] or [entry.name]:
            if op in new.dag:
                ops[op] = entry.name
    return ops


def _old_variable_seeds(old: GraphView, old_parts: dict) -> dict[str, tuple]:
    """Each old variable op stands for its checkpoint key (and slice, for a part)."""
    part_of = {
        part.name: (whole.name, part) for whole in old_parts.values() for part in whole.parts
    }
    seeds = {}
    for name in _variable_ops(old):
        if name in part_of:
            key, part = part_of[name]
            seeds[name] = ("variable", key, tuple(part.offset), tuple(part.shape))
        else:
            seeds[name] = ("variable", name, None, None)
    return seeds


def _new_variable_seeds(plan: Plan, new: GraphView) -> dict[str, tuple]:
    """Each restored new variable op stands for the key the plan restores it from; one whose
    value the plan transforms (cast, reshape, grow) stands for nothing the old graph has, so
    nothing computed from it is expected to equal what the old graph computed."""
    seeds = {}
    for entry in plan.restored:
        if entry.transforms:
            for op in [part.name for part in entry.partitions] or [entry.name]:
                seeds[op] = ("transformed", op)
        elif entry.partitions:
            for part in entry.partitions:
                seeds[part.name] = ("variable", entry.source, tuple(part.offset), tuple(part.shape))
        else:
            seeds[entry.name] = ("variable", entry.source, None, None)
    return {name: seed for name, seed in seeds.items() if name in new.dag}


def _branch_depth(view: GraphView) -> dict[str, int]:
    """How many v1 cond branches (Switch ... Merge) an op sits inside."""
    depth: dict[str, int] = {}
    for name in view.order:
        inner = [
            depth.get(producer, 0) + (view.op(producer) in _SWITCH)
            for producer, _ in view.inputs(name)
        ]
        depth[name] = max(max(inner, default=0) - (view.op(name) in _MERGE), 0)
    return depth


def _has_variable_upstream(view: GraphView) -> dict[str, bool]:
    found: dict[str, bool] = {}
    for name in view.order:
        found[name] = view.op(name) in VARIABLE_OPS or any(
            found.get(producer, False) for producer, _ in view.inputs(name)
        )
    return found


__all__ = ["Correspondence", "Cut", "TensorPair", "Values", "upstream_ops"]
