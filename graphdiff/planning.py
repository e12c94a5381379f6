"""make_plan: load the graphs, run the matchers in order of trust, and write down a Plan.

Order of trust: the user's excludes and maps, then same names, then structure (with the
rename rules it implies), then optimizer slots after their variables. Each stage only adds
to one Assignments, one per old source; sources.py settles the sources' pairs (one source:
all of them), and this module turns the result into plan entries with their reasons.
"""

from __future__ import annotations

import datetime
import os

from graphdiff import __version__, formats, storage
from graphdiff.errors import BadInput, PolicyViolation
from graphdiff.formats.base import BUNDLE_KINDS, NEW_KERAS, Source
from graphdiff.graph_model import variables_of
from graphdiff.loading import index_path, sha256_of
from graphdiff.match.by_name import match_by_name
from graphdiff.match.core import Assignments, MatchContext
from graphdiff.match.grown_families import settle_grown_families
from graphdiff.match.layers import match_by_layers
from graphdiff.match.lookups import match_lookup_tables
from graphdiff.match.renames import settle_rule_support
from graphdiff.match.slots import follow_optimizer_state, follow_slots
from graphdiff.match.structure import match_by_structure
from graphdiff.match.thin import mark_thin
from graphdiff.match.user_rules import UserRules, apply_excludes, apply_maps
from graphdiff.match.whole_layers import keep_layers_whole
from graphdiff.named_sources import source_specs
from graphdiff.plan import (
    FORMAT_VERSION,
    NAMED_FORMAT_VERSION,
    RESTORE,
    FileFingerprint,
    OldSource,
    Options,
    Plan,
    Provenance,
    Rule,
    with_old_sources,
)
from graphdiff.plan_entries import (
    Loaded,
    Matched,
    OldSide,
    entry,
    rules_in_force,
    unused_keys,
)
from graphdiff.roles import Role, roles_of
from graphdiff.scopes import summarize
from graphdiff.source_date import source_date_epoch
from graphdiff.source_rules import SourceRules, exclude_named, source_rules
from graphdiff.sources import choose_sources, layer_units


def make_plan(
    old,
    new_graph: str | os.PathLike,
    *,
    checkpoint=None,
    old_model=None,
    output_prefix: str | None = None,
    options: Options | None = None,
    messages: list[str] | None = None,
) -> Plan:
    """Diff the old side(s) (graph and values) against the new graph or model into a Plan.

    `old` is a `.meta` (its checkpoint beside it, or at `checkpoint`), a checkpoint prefix
    (name-based or object-based), a `.weights.h5` / `.keras`, or a SavedModel directory;
    `old_model` is the `.py` that builds the model Keras weights or an object-based checkpoint
    came from. Several sources: `old` maps names to such paths, in the order that settles
    conflicts (or is a list of named_sources.SourceSpec), and `checkpoint` / `old_model` map
    names to paths. `new_graph` is a TF1 graph (`.py`, `.meta`) or a `.py` with `build_model()`.
    Raises BadInput for unusable files or rules, PolicyViolation when a --require fails
    (the plan is attached to the error as `.plan`, so a caller can still write it). What the
    new graph's code says while it is built (warnings, log lines) is appended to `messages`.
    The same inputs give the same plan, but for its creation time, which the environment's
    SOURCE_DATE_EPOCH fixes.
    """
    options = options or Options()
    specs = source_specs(old, checkpoint, old_model)
    names = [spec.name for spec in specs if spec.name is not None]
    try:
        rules = source_rules(options, names)
    except BadInput as error:
        raise _from_rules_file(error, options) from None
    loaded = _load(specs, new_graph, rules, messages, options)
    if (
        loaded.new_kind == NEW_KERAS
        and output_prefix
        and not str(output_prefix).endswith(".weights.h5")
    ):
        raise BadInput(
            "--output-prefix",
            f"{output_prefix}: a Keras model's weights go to a file ending in .weights.h5",
        )
    try:
        matched = [_match(old_side, rules, options, len(loaded.olds)) for old_side in loaded.olds]
        _check_maps_restore(rules, matched)
    except BadInput as error:
        raise _from_rules_file(error, options) from None
    choices = _choose(loaded, rules, matched)
    context = loaded.context
    entries = [entry(loaded, matched, choices, name) for name in context.new_variables]
    unused = [item for one in matched for item in unused_keys(one, choices, options)]
    plan = Plan(
        format_version=NAMED_FORMAT_VERSION if names else FORMAT_VERSION,
        provenance=_provenance(new_graph, loaded),
        output_prefix=_abs(output_prefix)
        if output_prefix
        else _default_output(new_graph, loaded.new_kind),
        options=options,
        variables=tuple(entries),
        unused=tuple(unused),
        rules=tuple(rules_in_force(rules, matched, entries)),
        scopes=tuple(summarize(entries, unused, _old_model_keys(loaded))),
    )
    _check_requires(plan, rules.requires)
    return plan


def _allowed_transforms(options: Options) -> frozenset[str]:
    """Reshape when dimensions are only split or merged; cast and grow when asked for."""
    asked = {"cast": options.cast, "grow": options.grow}
    return frozenset({"reshape"} | {kind for kind, wanted in asked.items() if wanted})


def _load(specs, new_graph, rules: SourceRules, messages, options) -> Loaded:
    # The old sides first: a Keras trace needs eager execution, which a TF1 new graph ends.
    new_model = os.fspath(new_graph) if formats.new_kind(new_graph) == "model" else None
    opened = [
        (
            spec.name,
            formats.open_source(
                spec.path,
                checkpoint=spec.checkpoint,
                old_model=spec.old_model,
                new_model=new_model,
            ),
        )
        for spec in specs
    ]
    _check_distinct_values(specs, [source for _, source in opened])
    shape_sources = {}

    def shape_for(name: str):
        for source_name, source in opened:
            specs_of = source.specs
            key = rules.for_source(source_name).key_for(name, specs_of) or name
            if key in specs_of:
                shape_sources[name] = (source_name, key)
                return specs_of[key].shape
        return None

    new = formats.open_new(new_graph, shape_for)
    if messages is not None:
        messages.extend(new.messages)
    new_roles = roles_of(new.dag, new.variables)
    olds = [
        OldSide(name, source, _context(source, new, new_roles, options)) for name, source in opened
    ]
    return Loaded(
        olds,
        new.kind,
        new.undefined_shapes,
        shape_sources,
        new.partitions,
        new.sources,
        new.initial_shapes,
    )


def _check_distinct_values(specs, sources: list[Source]) -> None:
    """No two sources read one checkpoint (`a=model.ckpt.meta b=model.ckpt`): the second
    would give nothing the first does not, under a name that says it is another run."""
    seen: dict[str, str] = {}
    for spec, source in zip(specs, sources, strict=True):
        if not source.has_values:
            continue
        values = source.values_path
        values = index_path(values) if source.kind in BUNDLE_KINDS else values
        real = values if storage.is_remote(values) else os.path.realpath(values)
        if real in seen:
            raise BadInput(
                f"{spec.name}={spec.path}",
                f"reads the checkpoint of source {seen[real]} ({source.values_path}); "
                "give each source once",
            )
        seen[real] = spec.name


def _context(source: Source, new, new_roles, options) -> MatchContext:
    specs = source.specs
    if source.roles is not None:
        old_roles = source.roles
    else:
        old_roles = roles_of(source.dag, set(variables_of(source.dag)) | set(specs))
    return MatchContext(
        old_dag=source.dag,
        new_dag=new.dag,
        checkpoint=specs,
        old_roles={key: old_roles.get(key, Role("model")) for key in specs},
        new_variables=new.variables,
        new_roles=new_roles,
        allowed=_allowed_transforms(options),
        counted=source.counted | new.counted,
        old_layers=source.layered,
        old_within=source.within,
        new_within=new.within,
    )


def _match(old: OldSide, rules: SourceRules, options: Options, count: int) -> Matched:
    """The matcher's stages, in order of trust, for one source against the new graph."""
    context, assignments = old.context, Assignments()
    user = rules.for_source(old.name)
    apply_excludes(context, user, assignments)
    exclude_named(context, old.name, rules.named_excludes(old.name), assignments)
    if options.reset_optimizer:
        _reset_optimizer_state(context, assignments)
    failed = {}
    for rule in user.maps:  # one at a time: a rule for every source may restore from one only
        try:
            apply_maps(context, UserRules(maps=[rule]), assignments)
        except BadInput as error:
            if rule.source_name is not None:
                raise BadInput("--map", f"{rule.source_name}: {error.fault}") from None
            if count == 1:
                raise
            failed[rule.id] = error
    match_by_name(context, assignments)
    inferred: list[Rule] = []
    if options.structural:
        settle_grown_families(context, assignments)
        inferred = match_by_structure(context, assignments)
        match_lookup_tables(context, assignments)
        match_by_layers(context, assignments)
    keep_layers_whole(context, assignments)
    inferred = settle_rule_support(assignments, inferred)
    mark_thin(context, assignments, inferred)
    follow_slots(context, assignments)
    follow_optimizer_state(context, assignments)
    return Matched(old, assignments, inferred, failed)


def _check_maps_restore(rules: SourceRules, matched: list[Matched]) -> None:
    """A rule for every source must restore something from one of them, at least."""
    for rule in rules.maps:
        failures = [one.failed_maps[rule.id] for one in matched if rule.id in one.failed_maps]
        if failures and len(failures) == len(matched):
            names = ", ".join(str(one.name) for one in matched)
            raise BadInput("--map", f"{failures[0].fault} (in every source: {names})")


def _choose(loaded: Loaded, rules: SourceRules, matched: list[Matched]) -> dict:
    """Settle the sources' pairs into one choice per new variable (sources.py)."""
    named_maps = {rule.id for rule in rules.maps if rule.source_name is not None}
    pairs = {one.name: one.assignments.pairs for one in matched}
    pinned = {
        one.name: {
            name
            for name, (_, match) in one.assignments.pairs.items()
            if match.method == "user_rule" and match.rule in named_maps
        }
        for one in matched
    }
    context = loaded.context
    layer_of = None
    if sum(bool(p) for p in pairs.values()) > 1:
        layer_of = layer_units(context.new_dag, context.models())
    order = [one.name for one in matched]
    return choose_sources(order, pairs, pinned, context.new_roles, layer_of)


def _reset_optimizer_state(context: MatchContext, assignments: Assignments) -> None:
    for name, role in context.new_roles.items():
        if role.kind in ("slot", "optimizer", "global_step"):
            assignments.refuse(name, "optimizer state reset by --reset-optimizer", final=True)


def _old_model_keys(loaded: Loaded) -> dict:
    return {
        old.name: [k for k in old.context.checkpoint if old.context.old_roles[k].kind == "model"]
        for old in loaded.olds
    }


def _provenance(new_graph, loaded: Loaded) -> Provenance:
    provenance = Provenance(
        tool="graphdiff",
        tool_version=__version__,
        created=_creation_time(),
        old_meta=None,
        checkpoint_prefix="",
        checkpoint_index=None,
        new_graph=FileFingerprint(_abs(new_graph), sha256_of(new_graph)),
        new_graph_kind=loaded.new_kind,
        new_graph_sources=tuple(FileFingerprint(path, sha256_of(path)) for path in loaded.sources),
    )
    return with_old_sources(provenance, (_old_source(old) for old in loaded.olds))


def _old_source(old: OldSide) -> OldSource:
    source = old.source
    values = source.values_path
    if source.kind in BUNDLE_KINDS:
        index = index_path(values)
        values_file = FileFingerprint(_abs(index), sha256_of(index)) if source.has_values else None
    else:
        values_file = FileFingerprint(_abs(values), sha256_of(values))
    return OldSource(
        name=old.name,
        old_kind=source.kind,
        old_meta=_fingerprint(source.graph_file),
        checkpoint_prefix=_abs(values),
        checkpoint_index=values_file,
        old_model=_fingerprint(source.model_file),
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
    """Every variable a --require matches is restored (from its source, when it names one),
    but for the optimizer state --reset-optimizer initializes on the user's own word (the Adam
    slots of a required layer)."""
    reset = plan.options.reset_optimizer
    offenders: dict[str, str] = {}  # variable -> the pattern it fails, as given
    for source_name, pattern in requires:
        shown = pattern.pattern if source_name is None else f"{source_name}:{pattern.pattern}"
        hits = [e for e in plan.variables if pattern.search(e.name)]
        if not hits:
            raise BadInput(
                _rule_origin(plan.options, "require", shown),
                f"'{shown}' matches no variable of the new graph",
            )
        for e in hits:
            if reset and e.role != "model" and e.action != RESTORE:
                continue
            if e.action != RESTORE or (source_name is not None and e.source_name != source_name):
                offenders.setdefault(e.name, shown)
    if offenders:
        names = list(offenders)
        named = any(source_name is not None for source_name, _ in requires)
        where = _rule_origin(plan.options, "require", offenders[names[0]])
        error = PolicyViolation(
            f"{where} failed: {len(names)} variable(s) would "
            + ("not be restored from the source named: " if named else "be initialized: ")
            + ", ".join(names),
            names,
        )
        error.plan = plan
        raise error


def _from_rules_file(error: BadInput, options: Options) -> BadInput:
    """A --map or --exclude fault about a rule the rules file gave names that file and key."""
    key = {"--map": "map", "--exclude": "exclude"}.get(error.path)
    texts = options.maps if key == "map" else options.excludes
    for index, text in enumerate(texts if key else ()):
        if any(f"'{form}'" in error.fault for form in _forms(key, text, index)):
            origin = _rule_origin(options, key, text)
            return error if origin == error.path else BadInput(origin, error.fault)
    return error


def _forms(key: str, text: str, index: int) -> set[str]:
    """How a fault may quote rule `text`: as given, without its `NAME:`, a map as parsed."""
    from graphdiff.match.rules import parse_map

    forms = {text, text.partition(":")[2]} - {""}
    if key == "map":
        for form in list(forms):
            try:
                rule = parse_map(form, index + 1)
            except BadInput:
                continue
            forms.add(f"{rule.old}={rule.new}")
    return forms


def _rule_origin(options: Options, key: str, text: str) -> str:
    """Where a rule was given: its flag (`--require`), or the rules file and key it came from
    (`.../pyproject.toml: [tool.graphdiff] require`), so that a fault names what to edit."""
    if options.rules_file:
        from pathlib import Path

        from graphdiff.config import load_rules

        try:
            in_file = load_rules(Path(options.rules_file))
        except BadInput:  # gone or changed since: the flag is all that can be named
            in_file = None
        attribute = {"map": "maps", "exclude": "excludes", "require": "requires"}[key]
        if in_file is not None and text in getattr(in_file, attribute):
            table = "[tool.graphdiff] " if options.rules_file.endswith("pyproject.toml") else ""
            return f"{options.rules_file}: {table}{key}"
    return f"--{key}"
