"""The restore plan: plain, frozen data that the matcher writes and everyone else reads.

A plan holds one `VariableEntry` per variable of the new graph (what to do with it and why),
one `UnusedKey` per checkpoint key nothing restores from, the rename rules in force, a
scope-level summary, and where everything came from. The executor and the renderer need
nothing else: they never re-run the matching. `to_json`/`from_json` convert to and from the
JSON document described by `schemas/plan.schema.json`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

FORMAT_VERSION = 1

RESTORE = "restore"
INITIALIZE = "initialize"
ACTIONS = (RESTORE, INITIALIZE)

# How a variable found its source; "none" when it has none.
METHODS = ("user_rule", "name", "structure", "inferred_rule", "slot", "none")
ROLES = ("model", "slot", "global_step", "optimizer")


@dataclass(frozen=True)
class Evidence:
    """Why a match was made (or refused), in a form a reviewer can check."""

    kind: str  # e.g. "same_name", "rule", "data_path", "shape", "candidates"
    detail: str


@dataclass(frozen=True)
class Match:
    """How one new variable relates to one checkpoint key."""

    method: str  # one of METHODS
    confidence: float  # 0..1; 1.0 for name and user-rule matches
    evidence: tuple[Evidence, ...] = ()
    rule: str | None = None  # id of the rule that produced it, when one did


@dataclass(frozen=True)
class ShapeResolution:
    """A new variable whose shape the new graph left undefined, and where its shape came from."""

    shape: tuple[int, ...]
    source: str  # checkpoint key whose shape was taken
    cause: str  # "undefined_in_get_variable" or "unknown_static_shape"


@dataclass(frozen=True)
class Part:
    """One part of a partitioned variable: its variable op and where it lies in the whole."""

    name: str
    offset: tuple[int, ...]
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Transform:
    """A change made to a restored value on its way into the new variable.

    kind "reshape": the same elements in the same (row-major) order, to `shape`; "cast": to
    `dtype` (float to float, asked for with --cast); "grow": the leading block copied into
    `shape`, the rest from the new variable's initializer (asked for with --grow).
    """

    kind: str  # one of TRANSFORMS
    shape: tuple[int, ...] | None = None  # the shape after this step (reshape, grow)
    dtype: str | None = None  # the dtype after this step (cast)


TRANSFORMS = ("cast", "reshape", "grow")


@dataclass(frozen=True)
class VariableEntry:
    """One variable of the new graph: restore it from `source`, or initialize it."""

    name: str
    dtype: str
    shape: tuple[int, ...] | None  # None: still unknown (only when initialized)
    action: str  # RESTORE or INITIALIZE
    reason: str
    role: str = "model"  # one of ROLES
    source: str | None = None  # checkpoint key, when restored
    match: Match | None = None
    shape_resolution: ShapeResolution | None = None
    slot_of: str | None = None  # primary variable of an optimizer slot
    candidates: tuple[str, ...] = ()  # keys considered but not chosen (ambiguous cases)
    partitions: tuple[Part, ...] = ()  # a partitioned variable's parts; `name` is its full name
    stored_as: str | None = None  # the source's key in the old file, when not `source` itself
    transforms: tuple[Transform, ...] = ()  # applied in order to the source's value

    @property
    def stored_key(self) -> str | None:
        """Where the source's value is read from in the old file."""
        return self.stored_as or self.source


@dataclass(frozen=True)
class UnusedKey:
    """A checkpoint key that restores nothing, and why."""

    key: str
    dtype: str
    shape: tuple[int, ...]
    reason: str
    stored_as: str | None = None  # the key in the old file, when not `key` itself


@dataclass(frozen=True)
class Rule:
    """A rename between the old and the new graph: `old` prefix or pattern becomes `new`.

    kind "prefix": a scope prefix at a '/' boundary ("" is the root); "regex": a Python regular
    expression applied with re.sub to checkpoint keys; "leaf": the last path component renamed
    (`weights` -> `kernel`). origin says who made it: "user" (--map) or "inferred" (from matches).
    """

    id: str
    kind: str
    old: str
    new: str
    origin: str
    support: int = 0  # variables restored through it


@dataclass(frozen=True)
class ScopeSummary:
    """A scope-level line of the diff: shared (old -> new), new, or removed."""

    status: str  # "shared", "new", "removed", "partial"
    old: str | None
    new: str | None
    restored: int = 0
    initialized: int = 0
    unused: int = 0


@dataclass(frozen=True)
class FileFingerprint:
    path: str
    sha256: str


@dataclass(frozen=True)
class Provenance:
    tool: str
    tool_version: str
    created: str  # ISO 8601, UTC
    old_meta: FileFingerprint | None  # the old graph file (.meta, saved_model.pb), if any
    checkpoint_prefix: str  # where the old values are: a bundle's prefix, or a .weights.h5/.keras
    checkpoint_index: FileFingerprint | None  # the bundle's .index (or the h5); None: .meta alone
    new_graph: FileFingerprint
    new_graph_kind: str  # "python" or "meta" (TF1 graphs), "keras" or "module" (build_model())
    new_graph_sources: tuple[FileFingerprint, ...] = ()  # the user's modules new_graph.py imports
    old_kind: str = "tf1_meta"  # see graphdiff.formats.base.OLD_KINDS
    old_model: FileFingerprint | None = None  # --old-model: the .py that built the old model


@dataclass(frozen=True)
class Options:
    """What the user asked for; recorded so that a plan can be reproduced and reviewed."""

    maps: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    reset_optimizer: bool = False
    structural: bool = True
    rules_file: str | None = None  # the graphdiff.toml or pyproject.toml the rules came from
    cast: bool = False  # --cast: restore across float dtypes
    grow: bool = False  # --grow: restore into a variable whose dimensions grew or shrank


@dataclass(frozen=True)
class Plan:
    format_version: int
    provenance: Provenance
    output_prefix: str
    options: Options
    variables: tuple[VariableEntry, ...]
    unused: tuple[UnusedKey, ...] = ()
    rules: tuple[Rule, ...] = ()
    scopes: tuple[ScopeSummary, ...] = ()

    def entry(self, name: str) -> VariableEntry:
        for entry in self.variables:
            if entry.name == name:
                return entry
        raise KeyError(name)

    @property
    def restored(self) -> tuple[VariableEntry, ...]:
        return tuple(e for e in self.variables if e.action == RESTORE)

    @property
    def initialized(self) -> tuple[VariableEntry, ...]:
        return tuple(e for e in self.variables if e.action == INITIALIZE)


# --- JSON conversion -------------------------------------------------------------------------


def to_json(plan: Plan) -> dict:
    """The plan as a JSON-native dict (tuples become lists, None fields stay explicit)."""
    return _plain(dataclasses.asdict(plan))


def _plain(value):
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def from_json(document: dict) -> Plan:
    """Rebuild a Plan from a document that already passed schema validation."""
    prov = document["provenance"]
    return Plan(
        format_version=document["format_version"],
        provenance=Provenance(
            tool=prov["tool"],
            tool_version=prov["tool_version"],
            created=prov["created"],
            old_meta=_maybe(FileFingerprint, prov["old_meta"]),
            checkpoint_prefix=prov["checkpoint_prefix"],
            checkpoint_index=_maybe(FileFingerprint, prov["checkpoint_index"]),
            new_graph=FileFingerprint(**prov["new_graph"]),
            new_graph_kind=prov["new_graph_kind"],
            new_graph_sources=tuple(
                FileFingerprint(**item) for item in prov.get("new_graph_sources", ())
            ),
            old_kind=prov.get("old_kind", "tf1_meta"),
            old_model=_maybe(FileFingerprint, prov.get("old_model")),
        ),
        output_prefix=document["output_prefix"],
        options=Options(**{k: _tuple(v) for k, v in document["options"].items()}),
        variables=tuple(_variable_entry(item) for item in document["variables"]),
        unused=tuple(
            UnusedKey(**{**item, "shape": tuple(item["shape"])}) for item in document["unused"]
        ),
        rules=tuple(Rule(**item) for item in document["rules"]),
        scopes=tuple(ScopeSummary(**item) for item in document["scopes"]),
    )


def _variable_entry(item: dict) -> VariableEntry:
    match = item.get("match")
    resolution = item.get("shape_resolution")
    return VariableEntry(
        name=item["name"],
        dtype=item["dtype"],
        shape=_tuple(item["shape"]),
        action=item["action"],
        reason=item["reason"],
        role=item["role"],
        source=item.get("source"),
        match=None
        if match is None
        else Match(
            method=match["method"],
            confidence=match["confidence"],
            evidence=tuple(Evidence(**e) for e in match["evidence"]),
            rule=match.get("rule"),
        ),
        shape_resolution=None
        if resolution is None
        else ShapeResolution(**{**resolution, "shape": tuple(resolution["shape"])}),
        slot_of=item.get("slot_of"),
        candidates=tuple(item.get("candidates", ())),
        partitions=tuple(
            Part(part["name"], tuple(part["offset"]), tuple(part["shape"]))
            for part in item.get("partitions", ())
        ),
        stored_as=item.get("stored_as"),
        transforms=tuple(
            Transform(t["kind"], _tuple(t.get("shape")), t.get("dtype"))
            for t in item.get("transforms", ())
        ),
    )


def _maybe(cls, value):
    return None if value is None else cls(**value)


def _tuple(value):
    return tuple(value) if isinstance(value, list) else value
