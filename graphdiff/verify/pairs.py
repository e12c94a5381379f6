"""Which tensors verify compares: the shared frontier, the pairs the user names, the outputs.

Takes both Sides and their Correspondence (frontier.py); gives TensorPairs. Three ways a pair
is made, each recorded in it (`how`), because each proves something else:

- `same_ops`: the shared frontier, tensors computed by the same ops from the same sources in
  both graphs; compared bit for bit.
- `given`: `--tensor NEW[=OLD]`, by tensor name (`op:port`) or, for a Keras model or a
  tf.Module, by output name (`sequence_output`); compared bit for bit when the two come from
  the same ops, else within the tolerance.
- `outputs`: a Keras model's (or module's) outputs whose every upstream variable the plan
  restores but that the same ops do not prove (two implementations of one network, or a
  comparison the frontier only makes through cuts), each with the old model's output of the
  same name (or place, when both have as many); computed from the inputs alone, within the
  tolerance.

Refused, with the flag named: an input (both graphs are fed the same array), a tensor no
restored variable feeds, a tensor inside a v1 cond branch that may not run, a tensor whose
computation updates a variable, a resource handle.
"""

from __future__ import annotations

from graphdiff.errors import BadInput
from graphdiff.verify.frontier import Correspondence, TensorPair, upstream_ops
from graphdiff.verify.sides import Side
from graphdiff.verify.values import writes_state

NOT_VALUES = frozenset({"resource", "variant"})
SAME_OPS, GIVEN, OUTPUTS = "same_ops", "given", "outputs"
AFTER_CUT = "same_ops_after_cut"  # a frontier pair with a cut upstream (reported as such)


def op_and_port(text: str, side: Side, flag: str, which: str = "new") -> tuple[str, int]:
    """A tensor of `side` named by `text` (`op:port`, `op`, or a declared output's name)."""
    if text in side.outputs:
        text = side.outputs[text]
    op, colon, port = text.rpartition(":")
    if not colon or not port.isdigit():
        op, port = text, "0"
    if op not in side.view.dag and op in side.outputs:
        raise BadInput(flag, f"{text}: '{op}' is an output's name, which takes no port: give {op}")
    if op not in side.view.dag:
        outputs = f" (its outputs: {', '.join(side.outputs)})" if side.outputs else ""
        raise BadInput(flag, f"{text}: no op '{op}' in the {which} graph {side.label}{outputs}")
    count = side.output_count(op)
    if int(port) >= count:
        raise BadInput(flag, f"{text}: '{op}' has {count} output(s) in the {which} graph")
    dtype = side.tensor(f"{op}:{port}").dtype.name
    if dtype in NOT_VALUES:
        raise BadInput(flag, f"{text}: a {dtype}, not a value")
    return op, int(port)


def given_pair(text: str, correspondence: Correspondence, new: Side, old: Side) -> TensorPair:
    """A --tensor NEW[=OLD]: OLD defaults to the old tensor NEW equals, else NEW's own name."""
    new_text, _, old_text = text.partition("=")
    new_op, new_port = op_and_port(new_text, new, "--tensor")
    if old_text:
        old_op, old_port = op_and_port(old_text, old, "--tensor", "old")
    else:
        found = (
            correspondence.old_tensor(new_op, new_port) if correspondence.shared(new_op) else None
        )
        if found is None and new_op not in correspondence.old.dag:
            raise BadInput(
                "--tensor",
                f"{text}: the old graph computes no tensor equal to it and has none of its name; "
                f"name one: --tensor {new_text}=OLD",
            )
        old_op, old_port = op_and_port(found or f"{new_op}:{new_port}", old, "--tensor", "old")
    for view, op in ((correspondence.new, new_op), (correspondence.old, old_op)):
        _refuse_writes(view, op)
    noise = correspondence.random_upstream(new_op)
    if noise is not None:
        raise BadInput(
            "--tensor",
            f"{text}: computed from random numbers ('{noise}', {correspondence.new.op(noise)}), "
            "which no two runs reproduce; name a tensor before them",
        )
    _refuse_meaningless(text, correspondence, (new_op, new_port), (old_op, old_port))
    same = correspondence.same_ops((new_op, new_port), (old_op, old_port))
    return TensorPair(f"{new_op}:{new_port}", f"{old_op}:{old_port}", same, GIVEN)


def _refuse_meaningless(text: str, correspondence: Correspondence, new, old) -> None:
    """A --tensor that proves nothing (an input both graphs are fed, a value no restored
    variable feeds) or that may not be computed (inside a cond whose branch is not known)."""
    for side, (op, port), values in (
        ("new", new, correspondence.new_values),
        ("old", old, correspondence.old_values),
    ):
        if values.may_not_run(op, port):
            raise BadInput(
                "--tensor",
                f"{text}: '{op}:{port}' of the {side} graph is inside a v1 tf.cond branch that may "
                "not run on the inputs verify feeds: name a tensor after the cond",
            )
    if new[0] in correspondence.new_sources or old[0] in correspondence.old_sources:
        raise BadInput(
            "--tensor",
            f"{text}: an input: verify feeds both graphs the same array, so comparing it proves "
            "nothing; name a tensor computed from the restored variables",
        )
    if not correspondence.restored_upstream([new[0]]):
        raise BadInput(
            "--tensor",
            f"{text}: no restored variable is upstream of it in the new graph, so comparing it "
            "proves nothing about the restore; name a tensor computed from them",
        )


def _refuse_writes(view, op: str) -> None:
    """Verify runs forward computations only: never a training step or a variable update."""
    writer = writer_upstream(view, op)
    if writer is not None:
        raise BadInput(
            "--tensor",
            f"{op}: computing it runs '{writer}', which updates a variable "
            "(training machinery); verify compares forward computations only",
        )


def writer_upstream(view, op: str) -> str | None:
    """An op that updates a variable and runs when `op` is fetched (control inputs too)."""
    return next(
        (up for up in sorted(upstream_ops(view, [op], control=True)) if writes_state(view.op(up))),
        None,
    )


def frontier(correspondence: Correspondence, new: Side) -> list[TensorPair]:
    """The frontier, less what cannot be fetched as a value or would update a variable."""
    return [
        pair
        for pair in correspondence.frontier()
        if new.tensor(pair.new).dtype.name not in NOT_VALUES
        and writer_upstream(correspondence.new, pair.new.rsplit(":", 1)[0]) is None
        and writer_upstream(correspondence.old, pair.old.rsplit(":", 1)[0]) is None
    ]


def output_pairs(correspondence: Correspondence, new: Side, old: Side) -> list[TensorPair]:
    """Each new output every variable upstream of which the plan restores, and that the same
    ops do not prove (not shared when computed from the inputs alone), with the old output of
    its name, else of its place when both models have as many outputs (module docstring)."""
    if not new.outputs or not old.outputs:
        return []
    new_names, old_names = list(new.outputs), list(old.outputs)
    pairs = []
    for place, name in enumerate(new_names):
        if name in old.outputs:
            partner = name
        elif len(new_names) == len(old_names):
            partner = old_names[place]
        else:
            continue
        new_tensor, old_tensor = new.outputs[name], old.outputs[partner]
        op = new_tensor.rsplit(":", 1)[0]
        if correspondence.shared_uncut(op) or not correspondence.fully_restored(op):
            continue
        if correspondence.random_upstream(op) is not None:
            continue  # random numbers upstream: no two runs agree
        if new.tensor(new_tensor).dtype != old.tensor(old_tensor).dtype:
            continue
        pairs.append(TensorPair(new_tensor, old_tensor, False, OUTPUTS))
    return pairs


def display_name(side: Side, tensor: str) -> str:
    """A declared output by its name, any other tensor as `op:port`."""
    for name, output in side.outputs.items():
        if output == tensor:
            return name
    return tensor
