"""Refuse a file to write that is one of the command's own inputs or outputs.

`graphdiff plan -o new_graph.py` would replace the user's code with JSON, `apply --report
model.ckpt.index` would replace the checkpoint just written. Before anything is written, the
target of `plan -o` and of `apply --report` is compared (symbolic links followed) with every
file the plan was made from — the old `.meta`, the checkpoint's index, data shards and `.meta`
(or its `.weights.h5`), the new-graph file and the modules it imports, `--old-model`, the rules
file — with the plan file itself, and with the checkpoint apply writes (its `.index`, `.meta`,
`.data-*` and the directory's `checkpoint` state file). A match is BadInput (exit 2).
"""

from __future__ import annotations

import glob
import os

from graphdiff import storage
from graphdiff.errors import BadInput
from graphdiff.plan import Plan

_CHECKPOINT_SUFFIXES = ("", ".index", ".meta")


def refuse_overwrite(target, plan: Plan, *, plan_path=None, output_prefix=None) -> None:
    """BadInput if writing `target` would replace a file of `plan` (see the module's doc).

    `output_prefix`: where apply writes, if not the plan's own output prefix.
    """
    if target is None or storage.is_remote(target):
        return
    refuse_over(target, _inputs(plan, plan_path))
    real = os.path.realpath(os.fspath(target))
    for role, prefix in _checkpoints(plan, output_prefix):
        if _in_checkpoint(real, prefix):
            raise BadInput(target, f"is a file of {role}; write elsewhere")


def refuse_over(target, inputs) -> None:
    """BadInput if `target` is one of `inputs` ((role, path) pairs; links followed, remote
    paths passed by). The CLI calls it before planning, with the files it was given."""
    if target is None or storage.is_remote(target):
        return
    real = os.path.realpath(os.fspath(target))
    for role, path in inputs:
        if path and not storage.is_remote(path) and _same_file(real, path):
            raise BadInput(target, f"is {role}; writing there would destroy it")


def refuse_outputs_over_inputs(prefix: str, plan: Plan) -> None:
    """BadInput if a file of the checkpoint written at `prefix` would replace an input (a
    data shard of the source included: one may be a symbolic link to a file at `prefix`)."""
    for suffix in (".index", ".meta"):
        for role, path in _inputs(plan, None):
            if not storage.is_remote(path) and _real(path) == _real(prefix + suffix):
                raise BadInput(prefix, f"writing {prefix + suffix} would replace {role}")
    if storage.is_remote(prefix):
        return
    for old in plan.provenance.old_sources:
        if storage.is_remote(old.checkpoint_prefix):
            continue
        source = storage.local_path(old.checkpoint_prefix)
        for shard in glob.glob(glob.escape(source) + ".data-*"):
            if _real(shard).startswith(_real(prefix) + ".data-"):
                raise BadInput(
                    prefix, f"its data files would replace {shard}, a data file of {_of(old)}"
                )


def _of(old) -> str:
    return "the source" if old.name is None else f"source {old.name}"


def _inputs(plan: Plan, plan_path) -> list[tuple[str, str]]:
    provenance = plan.provenance
    found = [("the new graph's file", provenance.new_graph.path)]
    found += [("a module the new graph imports", s.path) for s in provenance.new_graph_sources]
    for old in provenance.old_sources:
        of = "" if old.name is None else f" of source {old.name}"
        if old.old_meta is not None:
            found.append((f"the old graph's file{of}", old.old_meta.path))
        if old.checkpoint_index is not None:
            found.append((f"the old checkpoint's index{of}", old.checkpoint_index.path))
        if old.old_model is not None:
            found.append((f"the old model's file{of} (--old-model)", old.old_model.path))
    if plan.options.rules_file:
        found.append(("the rules file", plan.options.rules_file))
    if plan_path is not None:
        found.append(("the plan being applied", os.fspath(plan_path)))
    return [(role, path) for role, path in found if not storage.is_remote(path)]


def _checkpoints(plan: Plan, output_prefix) -> list[tuple[str, str]]:
    output = plan.output_prefix if output_prefix is None else os.fspath(output_prefix)
    found = [
        (
            "the checkpoint the plan restores from"
            if old.name is None
            else f"the checkpoint of source {old.name}",
            old.checkpoint_prefix,
        )
        for old in plan.provenance.old_sources
    ]
    found.append(("the checkpoint apply writes", output))
    return [(role, path) for role, path in found if path and not storage.is_remote(path)]


def _in_checkpoint(real: str, prefix: str) -> bool:
    """`real` is one of the files of the checkpoint at `prefix` (or its state file)."""
    base = _real(prefix)
    if any(real == base + suffix for suffix in _CHECKPOINT_SUFFIXES):
        return True
    if real.startswith(base + ".data-"):
        return True
    return real == os.path.join(os.path.dirname(base), "checkpoint")


def _same_file(real: str, path: str) -> bool:
    """`real` (a real path) and `path` name one file: by their real paths, or as hard links."""
    if real == _real(path):
        return True
    try:
        return os.path.exists(real) and os.path.samefile(real, storage.local_path(path))
    except OSError:
        return False


def _real(path: str) -> str:
    return os.path.realpath(storage.absolute(path))
