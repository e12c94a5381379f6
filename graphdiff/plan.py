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

FORMAT_VERSION = 1  # one unnamed old source: every plan made before sources had names
NAMED_FORMAT_VERSION = 2  # named old sources (`graphdiff plan NAME=OLD [NAME=OLD ...] NEW`)
NEWEST_FORMAT_VERSION = NAMED_FORMAT_VERSION  # the newest this graphdiff reads and writes

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
    source_name: str | None = None  # the named source `source` is a key of


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
class Alternative:
    """Another named source that could have given a variable, and why it did not."""

    source_name: str
    key: str  # the key of that source that would have restored it
    why: str


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
    source_name: str | None = None  # the named source `source` is a key of (None: unnamed)
    alternatives: tuple[Alternative, ...] = ()  # other sources that could have given it

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
    source_name: str | None = None  # the named source `key` is a key of


@dataclass(frozen=True)
class Rule:
    """A rename between the old and the new graph: `old` prefix or pattern becomes `new`.

    kind "prefix": a scope prefix at a '/' boundary ("" is the root); "regex": a Python regular
    expression applied with re.sub to checkpoint keys; "leaf": the last path component renamed
    (`weights` -> `kernel`); "word" (inferred only): a word renamed inside one scope's name,
    `*` for the rest of that name (`enc*` -> `layer*`: `enc_3_fc/kernel` -> `layer_3_fc/kernel`).
    origin says who made it: "user" (--map) or "inferred" (from matches).
    """

    id: str
    kind: str
    old: str
    new: str
    origin: str
    support: int = 0  # variables restored through it
    source_name: str | None = None  # the source whose keys it renames (None: every source)


@dataclass(frozen=True)
class ScopeSummary:
    """A scope-level line of the diff: shared (old -> new), new, or removed."""

    status: str  # "shared", "new", "removed", "partial"; "not_taken": another source's given
    old: str | None
    new: str | None
    restored: int = 0
    initialized: int = 0
    unused: int = 0
    source_name: str | None = None  # the named source `old` is a scope of


@dataclass(frozen=True)
class FileFingerprint:
    path: str
    sha256: str


@dataclass(frozen=True)
class OldSource:
    """One old side: where its graph and values are, and what it is.

    `name` is None for the one unnamed source of a format-1 plan; a plan with named sources
    holds one per `NAME=OLD`, in the order given, which decides conflicts.
    """

    name: str | None
    old_kind: str  # see graphdiff.formats.base.OLD_KINDS
    old_meta: FileFingerprint | None  # the old graph file (.meta, saved_model.pb), if any
    checkpoint_prefix: str  # a bundle's prefix, or a .weights.h5/.keras
    checkpoint_index: FileFingerprint | None  # the bundle's .index (or the h5); None: .meta alone
    old_model: FileFingerprint | None = None  # --old-model: the .py that built the old model

    @property
    def label(self) -> str:
        """How messages name it: its name, or its values' path when it has none."""
        return self.name if self.name is not None else self.checkpoint_prefix


@dataclass(frozen=True)
class Provenance:
    """Where a plan came from.

    The old side's fields (old_meta ... old_model) describe the one unnamed source; with named
    sources they mirror the first one and `sources` holds them all. Code that reads an old side
    goes through `old_sources`, which is right either way.
    """

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
    sources: tuple[OldSource, ...] = ()  # named sources, in order; empty: one unnamed source

    @property
    def old_sources(self) -> tuple[OldSource, ...]:
        """Every old source, in order: the named ones, or the one unnamed source."""
        if self.sources:
            return self.sources
        return (
            OldSource(
                None,
                self.old_kind,
                self.old_meta,
                self.checkpoint_prefix,
                self.checkpoint_index,
                self.old_model,
            ),
        )

    def old_source(self, name: str | None) -> OldSource:
        """The source an entry's `source_name` names (None: the unnamed one)."""
        for source in self.old_sources:
            if source.name == name:
                return source
        raise KeyError(name)


def with_old_sources(provenance: Provenance, sources) -> Provenance:
    """`provenance` with its old sources replaced (the mirror fields kept in step)."""
    sources = tuple(sources)
    first = sources[0]
    return dataclasses.replace(
        provenance,
        old_kind=first.old_kind,
        old_meta=first.old_meta,
        checkpoint_prefix=first.checkpoint_prefix,
        checkpoint_index=first.checkpoint_index,
        old_model=first.old_model,
        sources=sources if first.name is not None else (),
    )


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

    @property
    def named_sources(self) -> bool:
        return bool(self.provenance.sources)

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
    """The plan as a JSON-native dict (tuples become lists, None fields stay explicit).

    A plan from one unnamed source is written exactly as before sources had names (format 1);
    one with named sources (format 2) has `provenance.sources` in place of the old side's
    fields, and says on each entry, unused key, rule and scope which source it concerns.
    """
    document = _plain(dataclasses.asdict(plan))
    provenance = document["provenance"]
    if plan.provenance.sources:
        for field_name in _MIRRORED:
            del provenance[field_name]
        return document
    del provenance["sources"]
    for item in document["variables"]:
        del item["source_name"], item["alternatives"]
        if item["shape_resolution"] is not None:
            del item["shape_resolution"]["source_name"]
    for part in ("unused", "rules", "scopes"):
        for item in document[part]:
            del item["source_name"]
    return document


# The old side's fields of a format-1 provenance: in format 2, each source has its own.
_MIRRORED = ("old_meta", "checkpoint_prefix", "checkpoint_index", "old_kind", "old_model")


def _plain(value):
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def from_json(document: dict) -> Plan:
    """Rebuild a Plan from a document that already passed schema validation."""
    prov = document["provenance"]
    provenance = Provenance(
        tool=prov["tool"],
        tool_version=prov["tool_version"],
        created=prov["created"],
        old_meta=_maybe(FileFingerprint, prov.get("old_meta")),
        checkpoint_prefix=prov.get("checkpoint_prefix", ""),
        checkpoint_index=_maybe(FileFingerprint, prov.get("checkpoint_index")),
        new_graph=FileFingerprint(**prov["new_graph"]),
        new_graph_kind=prov["new_graph_kind"],
        new_graph_sources=tuple(
            FileFingerprint(**item) for item in prov.get("new_graph_sources", ())
        ),
        old_kind=prov.get("old_kind", "tf1_meta"),
        old_model=_maybe(FileFingerprint, prov.get("old_model")),
    )
    if prov.get("sources"):
        provenance = with_old_sources(provenance, (_old_source(s) for s in prov["sources"]))
    return Plan(
        format_version=document["format_version"],
        provenance=provenance,
        output_prefix=document["output_prefix"],
        options=Options(**{k: _tuple(v) for k, v in document["options"].items()}),
        variables=tuple(_variable_entry(item) for item in document["variables"]),
        unused=tuple(
            UnusedKey(**{**item, "shape": tuple(item["shape"])}) for item in document["unused"]
        ),
        rules=tuple(Rule(**item) for item in document["rules"]),
        scopes=tuple(ScopeSummary(**item) for item in document["scopes"]),
    )


def _old_source(item: dict) -> OldSource:
    return OldSource(
        name=item["name"],
        old_kind=item["old_kind"],
        old_meta=_maybe(FileFingerprint, item["old_meta"]),
        checkpoint_prefix=item["checkpoint_prefix"],
        checkpoint_index=_maybe(FileFingerprint, item["checkpoint_index"]),
        old_model=_maybe(FileFingerprint, item.get("old_model")),
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
        source_name=item.get("source_name"),
        alternatives=tuple(Alternative(**a) for a in item.get("alternatives", ())),
    )


def _maybe(cls, value):
    return None if value is None else cls(**value)


def _tuple(value):
    return tuple(value) if isinstance(value, list) else value
