"""One forward pass of each side, the old one first: what verify compares, fetched.

Takes both Sides, their Correspondence, the pairs to compare and the user's `--feed` arrays;
gives the old and the new value of every pair, in order, and the FeedBuilder (what was fed).
The frontier's pairs (`same_ops`) run with the cuts fed (frontier.py): the old run fetches each
cut's old tensor too, and the new run feeds its value. Pairs computed from the inputs alone
(named with --tensor, model outputs) run without them, in a second run of the same session.
"""

from __future__ import annotations

from graphdiff.errors import BadInput
from graphdiff.verify import sessions
from graphdiff.verify.feeds import FeedBuilder
from graphdiff.verify.frontier import Correspondence, upstream_ops
from graphdiff.verify.pairs import SAME_OPS, op_and_port
from graphdiff.verify.places import MISPLACED
from graphdiff.verify.sides import Side


def run_pairs(correspondence: Correspondence, pairs, old: Side, new: Side, given) -> tuple:
    """(old values, new values, FeedBuilder), one value per pair, in the pairs' order."""
    builder = feeds_for(correspondence, pairs, new, old, given)
    cuts = cuts_used(correspondence, pairs)
    old_fetches = [pair.old for pair in pairs] + [cut.old for cut in cuts]
    (fetched,) = sessions.run(old, [(old_fetches, builder.old_feed)])
    old_values, old_cut_values = fetched[: len(pairs)], fetched[len(pairs) :]
    cut_feed = dict(builder.new_feed)
    for cut, value in zip(cuts, old_cut_values, strict=True):
        cut_feed[cut.new] = builder.cut(cut.new, cut.old, value)
    cut_pairs = [i for i, pair in enumerate(pairs) if with_cuts(pair)]
    whole_pairs = [i for i, pair in enumerate(pairs) if not with_cuts(pair)]
    groups = [
        ([pairs[i].new for i in cut_pairs], cut_feed),
        ([pairs[i].new for i in whole_pairs], builder.new_feed),
    ]
    fed_cuts, whole = sessions.run(new, groups)
    new_values = [None] * len(pairs)
    for indices, values in ((cut_pairs, fed_cuts), (whole_pairs, whole)):
        for i, value in zip(indices, values, strict=True):
            new_values[i] = value
    return old_values, new_values, builder


def feeds_for(correspondence: Correspondence, pairs, new: Side, old: Side, given) -> FeedBuilder:
    """The inputs upstream of the compared tensors (and of the cuts' old tensors), each pair
    of inputs one array."""
    given_tensors = {}
    for name, value in given.items():
        op, port = op_and_port(name, new, "--feed")
        if f"{op}:{port}" in given_tensors:
            raise BadInput("--feed", f"{name}: input {op}:{port} is given more than one array")
        given_tensors[f"{op}:{port}"] = value
    builder = FeedBuilder(new, old, correspondence.source_pairs, given_tensors)
    sources = []
    for through in (False, True):
        ops = [_op(pair.new) for pair in pairs if with_cuts(pair) != through]
        sources += correspondence.sources_upstream(correspondence.new, ops, through)
    for op in dict.fromkeys(sources):
        builder.for_new(op)
    old_ops = [_op(pair.old) for pair in pairs]
    old_ops += [_op(cut.old) for cut in cuts_used(correspondence, pairs)]
    for op in correspondence.sources_upstream(correspondence.old, old_ops):
        builder.for_old(op)
    return builder


def cuts_used(correspondence: Correspondence, pairs) -> list:
    """The cuts upstream of the frontier's compared tensors (each fed from the old run)."""
    if not correspondence.cuts:
        return []
    ops = [_op(pair.new) for pair in pairs if with_cuts(pair)]
    upstream = upstream_ops(correspondence.new, ops, control=True, stop=correspondence.cut_ops)
    return [cut for tensor, cut in correspondence.cuts.items() if _op(tensor) in upstream]


def with_cuts(pair) -> bool:
    """The frontier's pairs (and misplaced ones, found with the cuts) run with the cuts fed;
    pairs named with --tensor and model outputs are computed from the inputs alone."""
    return pair.how in (SAME_OPS, MISPLACED)


def _op(tensor: str) -> str:
    return tensor.rsplit(":", 1)[0]
