"""What every matcher reads (MatchContext) and the one result they all add to (Assignments).

A matcher is a function `(context, assignments) -> None`. It may only pair new variables that
are still free; it never removes what an earlier, more trusted matcher decided. Whether a pair
is allowed at all (dtype, shape) is decided here, once, by `incompatibility`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from graphdiff.graph_model import VariableNode
from graphdiff.loading import TensorSpec
from graphdiff.plan import Match
from graphdiff.roles import Role


@dataclass(frozen=True)
class MatchContext:
    old_dag: nx.DiGraph
    new_dag: nx.DiGraph
    checkpoint: dict[str, TensorSpec]  # every key a variable could be restored from
    old_roles: dict[str, Role]  # keyed by checkpoint key (old variable name)
    new_variables: dict[str, VariableNode]
    new_roles: dict[str, Role]
    allowed: frozenset[str] = frozenset({"reshape"})  # value transforms a pair may need
    counted: frozenset[str] = frozenset()  # names made by counting (Keras's dense_1), not chosen
    old_layers: bool = False  # the old side's scopes are its layers (Keras paths)
    old_within: dict[str, str] = field(default_factory=dict)  # key -> Keras models around it
    new_within: dict[str, str] = field(default_factory=dict)  # name -> Keras models around it

    def unfit(self, name: str, key: str) -> str | None:
        """Why checkpoint key `key` cannot be restored into new variable `name`, or None."""
        return incompatibility(self.new_variables[name], self.checkpoint[key], self.allowed)

    def primaries(self) -> list[str]:
        """New variables that match on their own; slots follow these afterwards."""
        return [name for name in self.new_variables if self.new_roles[name].kind != "slot"]

    def models(self) -> list[str]:
        """New model variables: what structure matches (optimizer state follows them)."""
        return [name for name in self.new_variables if self.new_roles[name].kind == "model"]

    def old_models(self) -> list[str]:
        return [key for key in self.checkpoint if self.old_roles.get(key, _MODEL).kind == "model"]

    def old_primaries(self) -> list[str]:
        return [key for key in self.checkpoint if self.old_roles.get(key, _MODEL).kind != "slot"]


_MODEL = Role("model")


@dataclass
class Assignments:
    pairs: dict[str, tuple[str, Match]] = field(default_factory=dict)  # new -> (key, how)
    refused: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)  # reason, cands
    fixed: set[str] = field(default_factory=set)  # decided for good (excluded, refused by rule)

    def is_free(self, new_name: str) -> bool:
        return new_name not in self.pairs and new_name not in self.fixed

    def assign(self, new_name: str, key: str, match: Match) -> None:
        self.pairs[new_name] = (key, match)
        self.refused.pop(new_name, None)
        self.fixed.add(new_name)

    def release(self, new_name: str) -> None:
        """Withdraw a pair that later evidence shows to be wrong."""
        self.pairs.pop(new_name, None)
        self.fixed.discard(new_name)

    def refuse(self, new_name: str, reason: str, candidates=(), final: bool = False) -> None:
        self.refused[new_name] = (reason, tuple(candidates))
        if final:
            self.fixed.add(new_name)

    def withdraw(self, new_name: str, reason: str) -> None:
        """Take a pair back for good: the variable is initialized, its key the candidate a
        reviewer can confirm with --map."""
        key, _ = self.pairs[new_name]
        self.release(new_name)
        self.refuse(new_name, reason, (key,), final=True)

    def used_keys(self) -> set[str]:
        return {key for key, _ in self.pairs.values()}


def incompatibility(variable: VariableNode, spec: TensorSpec, allowed=frozenset()) -> str | None:
    """Why `spec` cannot be restored into `variable`, or None when it can.

    A dimension the new graph left unknown accepts any size: the checkpoint then gives it.
    `allowed` transforms widen what fits: "cast" (float to float), "reshape" (the same
    elements in the same order, dimensions split or merged), "grow" (same rank, any sizes).
    """
    if variable.dtype != spec.dtype and not ("cast" in allowed and castable(spec, variable)):
        return f"dtype {variable.dtype} in the new graph, {spec.dtype} in the checkpoint"
    if variable.shape is None:
        return None
    same_rank = len(variable.shape) == len(spec.shape)
    if not same_rank or any(
        want not in (None, have) for want, have in zip(variable.shape, spec.shape, strict=True)
    ):
        if "reshape" in allowed and refines(variable.shape, spec.shape):
            return None
        if "grow" in allowed and same_rank and None not in variable.shape:
            return None
        return (
            f"shape {format_shape(variable.shape)} in the new graph, "
            f"{format_shape(spec.shape)} in the checkpoint"
        )
    return None


FLOATS = frozenset({"float16", "bfloat16", "float32", "float64"})


def castable(spec: TensorSpec, variable: VariableNode) -> bool:
    return spec.dtype in FLOATS and variable.dtype in FLOATS


def refines(one, other) -> bool:
    """The same elements in the same order: one shape splits or merges the other's dimensions.

    [768, 768] and [768, 12, 64] do; [4, 8] and [8, 4] (a transpose) do not.
    """
    if one is None or other is None or None in one or None in other:
        return False
    one, other = [d for d in one if d != 1], [d for d in other if d != 1]
    if len(one) == len(other):
        return one == other
    i = j = 0
    while i < len(one) and j < len(other):  # one block at a time: one dim on one side
        a, b, start_i, start_j = one[i], other[j], i, j
        i, j = i + 1, j + 1
        while a != b:
            if a < b and i < len(one):
                a, i = a * one[i], i + 1
            elif b < a and j < len(other):
                b, j = b * other[j], j + 1
            else:
                return False
        if i - start_i > 1 and j - start_j > 1:
            return False  # dimensions regrouped, not split or merged
    return i == len(one) and j == len(other)


def format_shape(shape) -> str:
    if shape is None:
        return "<unknown>"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"
