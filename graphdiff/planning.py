"""make_plan: load both graphs, run the matchers in order of trust, and write down a Plan.

Order of trust: the user's excludes and maps, then same names, then structure (with the
rename rules it implies), then optimizer slots after their variables. Each stage only adds
to one Assignments; this module turns the result into plan entries with their reasons.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

from graphdiff import __version__, storage
from graphdiff.errors import BadInput, PolicyViolation
from graphdiff.graph_model import graph_to_dag, variables_of
from graphdiff.loading import (
    TensorSpec,
    checkpoint_prefix_for,
    index_path,
    read_checkpoint_index,
    read_meta_graph,
    sha256_of,
)
from graphdiff.match.by_name import match_by_name
from graphdiff.match.core import Assignments, MatchContext, format_shape
from graphdiff.match.rules import parse_map, parse_patterns
from graphdiff.match.slots import follow_optimizer_state, follow_slots
from graphdiff.match.structure import match_by_structure
from graphdiff.match.user_rules import UserRules, apply_excludes, apply_maps
from graphdiff.new_graph import build_new_graph, variable_objects
from graphdiff.partitions import collapse_partitions, partitions_in_meta, partitions_of_variables
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


@dataclass(frozen=True)
class _Loaded:
    context: MatchContext
    undefined: dict  # new variable -> shape proposed at build time (None: none could be)
    shape_sources: dict  # new variable -> the checkpoint key that proposed its shape
    partitions: dict  # full name -> Partitioned, for the new graph's partitioned variables
    prefix: str
    has_index: bool
    sources: list[str]  # the user's modules the new graph's .py imported
    initial_shapes: dict  # new variable of unknown static shape -> its initial value's shape


def make_plan(
    old_meta: str | os.PathLike,
    new_graph: str | os.PathLike,
    *,
    checkpoint: str | None = None,
    output_prefix: str | None = None,
    options: Options | None = None,
    messages: list[str] | None = None,
) -> Plan:
    """Diff the old meta graph (and its checkpoint) against the new graph into a Plan.

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
    loaded = _load(old_meta, new_graph, checkpoint, rules, messages)
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
    follow_slots(context, assignments)
    follow_optimizer_state(context, assignments)
    entries = [_entry(context, assignments, loaded, name) for name in context.new_variables]
    unused = _unused(context, assignments, options)
    user_rules = [
        Rule(r.id, r.kind, r.old, r.new, r.origin, support.get(r.id, 0)) for r in rules.maps
    ]
    old_model_keys = [k for k in context.checkpoint if context.old_roles[k].kind == "model"]
    plan = Plan(
        format_version=FORMAT_VERSION,
        provenance=_provenance(old_meta, new_graph, loaded),
        output_prefix=output_prefix or _default_output(new_graph),
        options=options,
        variables=tuple(entries),
        unused=tuple(unused),
        rules=tuple(user_rules + inferred),
        scopes=tuple(summarize(entries, unused, old_model_keys)),
    )
    _check_requires(plan, requires)
    return plan


def _load(old_meta, new_graph, checkpoint, rules: UserRules, messages) -> _Loaded:
    meta = read_meta_graph(old_meta)
    old_dag = graph_to_dag(meta.graph_def)
    collapse_partitions(old_dag, partitions_in_meta(meta), old_meta)
    old_variables = variables_of(old_dag)
    prefix = checkpoint or checkpoint_prefix_for(old_meta)
    has_index = storage.exists(index_path(prefix))
    if has_index:
        specs = read_checkpoint_index(prefix)
    elif checkpoint:
        raise BadInput(index_path(prefix), "no checkpoint index at the --checkpoint prefix")
    else:
        specs = {
            name: TensorSpec(v.dtype, v.shape)
            for name, v in old_variables.items()
            if v.fully_defined
        }

    shape_sources = {}

    def shape_for(name: str):
        key = rules.key_for(name, specs) or name
        if key not in specs:
            return None
        shape_sources[name] = key
        return specs[key].shape

    built = build_new_graph(new_graph, shape_for)
    if messages is not None:
        messages.extend(built.messages)
    new_dag = graph_to_dag(built.graph.as_graph_def())
    new_partitions = partitions_of_variables(variable_objects(built.graph).values())
    collapse_partitions(new_dag, new_partitions, new_graph)
    new_variables = variables_of(new_dag)
    old_roles = roles_of(old_dag, set(old_variables) | set(specs))
    context = MatchContext(
        old_dag=old_dag,
        new_dag=new_dag,
        checkpoint=specs,
        old_roles={key: old_roles.get(key, Role("model")) for key in specs},
        new_variables=new_variables,
        new_roles=roles_of(new_dag, new_variables),
    )
    return _Loaded(
        context,
        built.undefined_shapes,
        shape_sources,
        new_partitions,
        prefix,
        has_index,
        built.sources,
        _initial_shapes(built.graph, new_variables),
    )


def _initial_shapes(graph, variables: dict) -> dict:
    """Shapes a variable's own initial value gives when its static shape is unknown
    (`validate_shape=False`): initialized, it takes that value, shape and all."""
    shapes = {}
    for name, variable in variable_objects(graph).items():
        if name in variables and not variables[name].fully_defined:
            initial = getattr(variable, "initial_value", None)
            if initial is not None and initial.shape.is_fully_defined():
                shapes[name] = tuple(initial.shape.as_list())
    return shapes


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
        return VariableEntry(
            **common,
            shape=source_shape,
            action=RESTORE,
            reason=reason,
            source=key,
            match=match,
            shape_resolution=resolution,
        )
    reason, candidates = assignments.refused.get(name, (_no_counterpart(role), ()))
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


def _unused(context: MatchContext, assignments: Assignments, options: Options) -> list[UnusedKey]:
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
        unused.append(UnusedKey(key, spec.dtype, spec.shape, reason))
    return unused


def _provenance(old_meta, new_graph, loaded: _Loaded) -> Provenance:
    index = index_path(loaded.prefix)
    return Provenance(
        tool="graphdiff",
        tool_version=__version__,
        created=_creation_time(),
        old_meta=FileFingerprint(_abs(old_meta), sha256_of(old_meta)),
        checkpoint_prefix=_abs(loaded.prefix),
        checkpoint_index=FileFingerprint(_abs(index), sha256_of(index))
        if loaded.has_index
        else None,
        new_graph=FileFingerprint(_abs(new_graph), sha256_of(new_graph)),
        new_graph_kind="meta" if str(new_graph).endswith(".meta") else "python",
        new_graph_sources=tuple(FileFingerprint(path, sha256_of(path)) for path in loaded.sources),
    )


def _creation_time() -> str:
    """Now, in UTC; or SOURCE_DATE_EPOCH, for reproducible plans (reproducible-builds.org)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is None:
        moment = datetime.datetime.now(datetime.timezone.utc)
    else:
        try:
            moment = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
        except (ValueError, OverflowError, OSError):
            raise BadInput("SOURCE_DATE_EPOCH", f"'{epoch}' is not a time in seconds") from None
    return moment.isoformat(timespec="seconds")


def _abs(path) -> str:
    return storage.absolute(path)


def _default_output(new_graph) -> str:
    """`<dir of new_graph>/graphdiff_out/model.ckpt`: beside the new graph, never over the old."""
    return os.path.join(os.path.dirname(_abs(new_graph)), "graphdiff_out", "model.ckpt")


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
