"""make_plan: load both graphs, run the matchers in order of trust, and write down a Plan.

Order of trust: the user's excludes and maps, then same names, then structure (with the
rename rules it implies), then optimizer slots after their variables. Each stage only adds
to one Assignments; this module turns the result into plan entries with their reasons.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

from graphdiff import __version__, formats, storage
from graphdiff.errors import BadInput, PolicyViolation
from graphdiff.formats.base import BUNDLE_KINDS, NEW_KERAS, Source
from graphdiff.graph_model import variables_of
from graphdiff.loading import index_path, sha256_of
from graphdiff.match.by_name import match_by_name
from graphdiff.match.core import Assignments, MatchContext, format_shape
from graphdiff.match.layers import match_by_layers
from graphdiff.match.lookups import match_lookup_tables
from graphdiff.match.renames import settle_rule_support
from graphdiff.match.rules import parse_map, parse_patterns
from graphdiff.match.slots import follow_optimizer_state, follow_slots
from graphdiff.match.structure import match_by_structure
from graphdiff.match.user_rules import UserRules, apply_excludes, apply_maps
from graphdiff.match.whole_layers import keep_layers_whole
from graphdiff.plan import (
    FORMAT_VERSION,
    INITIALIZE,
    RESTORE,
    FileFingerprint,
    Options,
    Plan,
    Provenance,
    Rule,
    ShapeResolution,
    UnusedKey,
    VariableEntry,
)
from graphdiff.roles import Role, roles_of
from graphdiff.scopes import summarize
from graphdiff.source_date import source_date_epoch
from graphdiff.transforms import describe as describe_transform
from graphdiff.transforms import transformed_spec, transforms_for


@dataclass(frozen=True)
class _Loaded:
    context: MatchContext
    source: Source
    new_kind: str
    undefined: dict  # new variable -> shape proposed at build time (None: none could be)
    shape_sources: dict  # new variable -> the checkpoint key that proposed its shape
    partitions: dict  # full name -> Partitioned, for the new graph's partitioned variables
    sources: list[str]  # the user's modules the new graph's .py imported
    initial_shapes: dict  # new variable of unknown static shape -> its initial value's shape


def make_plan(
    old: str | os.PathLike,
    new_graph: str | os.PathLike,
    *,
    checkpoint: str | None = None,
    old_model: str | os.PathLike | None = None,
    output_prefix: str | None = None,
    options: Options | None = None,
    messages: list[str] | None = None,
) -> Plan:
    """Diff the old side (graph and values) against the new graph or model into a Plan.

    `old` is a `.meta` (its checkpoint beside it, or at `checkpoint`), a checkpoint prefix
    (name-based or object-based), a `.weights.h5` / `.keras`, or a SavedModel directory;
    `old_model` is the `.py` that builds the model Keras weights or an object-based checkpoint
    came from. `new_graph` is a TF1 graph (`.py`, `.meta`) or a `.py` with `build_model()`.
    Raises BadInput for unusable files or rules, PolicyViolation when a --require fails
    (the plan is attached to the error as `.plan`, so a caller can still write it). What the
    new graph's code says while it is built (warnings, log lines) is appended to `messages`.
    The same inputs give the same plan, but for its creation time, which the environment's
    SOURCE_DATE_EPOCH fixes.
    """
    options = options or Options()
    rules = UserRules(
        maps=[parse_map(text, i + 1) for i, text in enumerate(options.maps)],
        excludes=parse_patterns("--exclude", options.excludes),
    )
    requires = parse_patterns("--require", options.requires)
    old_model = os.fspath(old_model) if old_model is not None else None
    loaded = _load(old, new_graph, checkpoint, old_model, rules, messages, options)
    if (
        loaded.new_kind == NEW_KERAS
        and output_prefix
        and not str(output_prefix).endswith(".weights.h5")
    ):
        raise BadInput(
            "--output-prefix",
            f"{output_prefix}: a Keras model's weights go to a file ending in .weights.h5",
        )
    context = loaded.context
    assignments = Assignments()
    apply_excludes(context, rules, assignments)
    if options.reset_optimizer:
        _reset_optimizer_state(context, assignments)
    support = apply_maps(context, rules, assignments)
    match_by_name(context, assignments)
    inferred: list[Rule] = []
    if options.structural:
        inferred = match_by_structure(context, assignments)
        match_lookup_tables(context, assignments)
        match_by_layers(context, assignments)
    keep_layers_whole(context, assignments)
    inferred = settle_rule_support(assignments, inferred)
    follow_slots(context, assignments)
    follow_optimizer_state(context, assignments)
    entries = [_entry(context, assignments, loaded, name) for name in context.new_variables]
    unused = _unused(context, assignments, options, loaded.source)
    user_rules = [
        Rule(r.id, r.kind, r.old, r.new, r.origin, support.get(r.id, 0)) for r in rules.maps
    ]
    old_model_keys = [k for k in context.checkpoint if context.old_roles[k].kind == "model"]
    plan = Plan(
        format_version=FORMAT_VERSION,
        provenance=_provenance(new_graph, loaded),
        output_prefix=_abs(output_prefix)
        if output_prefix
        else _default_output(new_graph, loaded.new_kind),
        options=options,
        variables=tuple(entries),
        unused=tuple(unused),
        rules=tuple(user_rules + inferred),
        scopes=tuple(summarize(entries, unused, old_model_keys)),
    )
    _check_requires(plan, requires)
    return plan


def _allowed_transforms(options: Options) -> frozenset[str]:
    """Reshape when dimensions are only split or merged; cast and grow when asked for."""
    asked = {"cast": options.cast, "grow": options.grow}
    return frozenset({"reshape"} | {kind for kind, wanted in asked.items() if wanted})


def _load(old, new_graph, checkpoint, old_model, rules: UserRules, messages, options) -> _Loaded:
    # The old side first: a Keras trace needs eager execution, which a TF1 new graph ends.
    source = formats.open_source(old, checkpoint=checkpoint, old_model=old_model)
    specs = source.specs
    shape_sources = {}

    def shape_for(name: str):
        key = rules.key_for(name, specs) or name
        if key not in specs:
            return None
        shape_sources[name] = key
        return specs[key].shape

    new = formats.open_new(new_graph, shape_for)
    if messages is not None:
        messages.extend(new.messages)
    if source.roles is not None:
        old_roles = source.roles
    else:
        old_roles = roles_of(source.dag, set(variables_of(source.dag)) | set(specs))
    context = MatchContext(
        old_dag=source.dag,
        new_dag=new.dag,
        checkpoint=specs,
        old_roles={key: old_roles.get(key, Role("model")) for key in specs},
        new_variables=new.variables,
        new_roles=roles_of(new.dag, new.variables),
        allowed=_allowed_transforms(options),
        counted=source.counted | new.counted,
    )
    return _Loaded(
        context,
        source,
        new.kind,
        new.undefined_shapes,
        shape_sources,
        new.partitions,
        new.sources,
        new.initial_shapes,
    )


def _reset_optimizer_state(context: MatchContext, assignments: Assignments) -> None:
    for name, role in context.new_roles.items():
        if role.kind in ("slot", "optimizer", "global_step"):
            assignments.refuse(name, "optimizer state reset by --reset-optimizer", final=True)


def _entry(context: MatchContext, assignments: Assignments, loaded: _Loaded, name: str):
    undefined = loaded.undefined
    variable = context.new_variables[name]
    role = context.new_roles[name]
    resolution = None
    shape = variable.shape
    if name in undefined and undefined[name] is not None:
        shape = tuple(undefined[name])
        resolution = ShapeResolution(shape, loaded.shape_sources[name], "undefined_in_get_variable")
    parts = loaded.partitions[name].parts if name in loaded.partitions else ()
    common = dict(
        name=name, dtype=variable.dtype, role=role.kind, slot_of=role.primary, partitions=parts
    )
    if name in assignments.pairs:
        key, match = assignments.pairs[name]
        source_shape = context.checkpoint[key].shape
        if resolution is None and not variable.fully_defined:
            resolution = ShapeResolution(source_shape, key, "unknown_static_shape")
        if name in undefined and undefined[name] is None:
            resolution = ShapeResolution(source_shape, key, "undefined_in_get_variable")
        reason = f"restored from '{key}' ({_how(match.method)})"
        changes = transforms_for(variable, context.checkpoint[key])
        if changes:
            reason += ", " + ", ".join(describe_transform(t) for t in changes)
            source_shape = transformed_spec(context.checkpoint[key], changes).shape
        return VariableEntry(
            **common,
            shape=source_shape,
            transforms=changes,
            action=RESTORE,
            reason=reason,
            source=key,
            match=match,
            shape_resolution=resolution,
            stored_as=_stored_as(loaded.source, key),
        )
    reason, candidates = assignments.refused.get(name, (_no_counterpart(role), ()))
    if loaded.source.graph_note and role.kind == "model":
        reason += f" ({loaded.source.graph_note})"
    if (shape is None or None in shape) and resolution is None:
        shape = loaded.initial_shapes.get(name, shape)
    if (shape is None or None in shape) and resolution is None:
        reason += "; its shape is left undefined and nothing in the checkpoint gives it"
        shape = None
    return VariableEntry(
        **common,
        shape=shape,
        action=INITIALIZE,
        reason=reason,
        shape_resolution=resolution,
        candidates=candidates,
    )


def _how(method: str) -> str:
    return {
        "name": "same name",
        "user_rule": "--map rule",
        "structure": "same place in the graph",
        "inferred_rule": "inferred rename rule",
        "slot": "follows its variable",
    }[method]


def _no_counterpart(role: Role) -> str:
    if role.kind == "model":
        return "new: no variable of the checkpoint matches it"
    return f"new {role.kind.replace('_', ' ')}: nothing in the checkpoint matches it"


def _unused(
    context: MatchContext, assignments: Assignments, options: Options, source: Source
) -> list[UnusedKey]:
    used = assignments.used_keys()
    refused_by_key: dict[str, str] = {}
    for name, (reason, candidates) in assignments.refused.items():
        for key in candidates:
            refused_by_key.setdefault(key, f"not restored into '{name}': {reason}")
    unused = []
    for key, spec in context.checkpoint.items():
        if key in used:
            continue
        role = context.old_roles[key]
        if key in refused_by_key:
            reason = refused_by_key[key]
        elif options.reset_optimizer and role.kind != "model":
            reason = "optimizer state reset by --reset-optimizer"
        elif role.kind == "slot":
            reason = f"optimizer slot of '{role.primary}', which restores nothing"
        elif role.kind in ("optimizer", "global_step"):
            reason = f"{role.kind.replace('_', ' ')}: the new graph has no counterpart"
        else:
            reason = (
                f"removed: no variable of the new graph matches it ({format_shape(spec.shape)})"
            )
        unused.append(UnusedKey(key, spec.dtype, spec.shape, reason, _stored_as(source, key)))
    return unused


def _stored_as(source: Source, key: str) -> str | None:
    stored = source.stored_key(key)
    return None if stored == key else stored


def _provenance(new_graph, loaded: _Loaded) -> Provenance:
    source = loaded.source
    values = source.values_path
    if source.kind in BUNDLE_KINDS:
        index = index_path(values)
        values_file = FileFingerprint(_abs(index), sha256_of(index)) if source.has_values else None
    else:
        values_file = FileFingerprint(_abs(values), sha256_of(values))
    return Provenance(
        tool="graphdiff",
        tool_version=__version__,
        created=_creation_time(),
        old_meta=_fingerprint(source.graph_file),
        checkpoint_prefix=_abs(values),
        checkpoint_index=values_file,
        new_graph=FileFingerprint(_abs(new_graph), sha256_of(new_graph)),
        new_graph_kind=loaded.new_kind,
        old_kind=source.kind,
        old_model=_fingerprint(source.model_file),
        new_graph_sources=tuple(FileFingerprint(path, sha256_of(path)) for path in loaded.sources),
    )


def _fingerprint(path) -> FileFingerprint | None:
    return None if path is None else FileFingerprint(_abs(path), sha256_of(path))


def _creation_time() -> str:
    """Now, in UTC; or SOURCE_DATE_EPOCH, for reproducible plans (reproducible-builds.org)."""
    epoch = source_date_epoch()
    if epoch is None:
        moment = datetime.datetime.now(datetime.timezone.utc)
    else:
        moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return moment.isoformat(timespec="seconds")


def _abs(path) -> str:
    return storage.absolute(path)


def _default_output(new_graph, kind: str) -> str:
    """`<dir of new_graph>/graphdiff_out/model.ckpt` (a Keras model: `model.weights.h5`):
    beside the new graph, never over the old."""
    name = "model.weights.h5" if kind == NEW_KERAS else "model.ckpt"
    return os.path.join(os.path.dirname(_abs(new_graph)), "graphdiff_out", name)


def _check_requires(plan: Plan, requires) -> None:
    offenders = []
    for pattern in requires:
        hits = [e for e in plan.variables if pattern.search(e.name)]
        if not hits:
            raise BadInput("--require", f"'{pattern.pattern}' matches no variable of the new graph")
        offenders += [e.name for e in hits if e.action != RESTORE]
    if offenders:
        error = PolicyViolation(
            f"--require failed: {len(offenders)} variable(s) would be initialized: "
            + ", ".join(dict.fromkeys(offenders)),
            list(dict.fromkeys(offenders)),
        )
        error.plan = plan
        raise error
