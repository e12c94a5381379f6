"""Refuse to apply a plan whose inputs changed since it was made.

A plan records the sha256 of the checkpoint's `.index` and of the new-graph file. Before
anything is written, `check_fingerprints(plan)` recomputes both and checks that the checkpoint's
data shards are all there; any difference is a BadInput naming the file, so the CLI exits 2.
An input that is not where the plan says is named with the flag that points to where it is now.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Mapping

from graphdiff import storage
from graphdiff.errors import BadInput
from graphdiff.formats.base import H5_KINDS
from graphdiff.loading import index_path, sha256_of
from graphdiff.plan import FileFingerprint, OldSource, Plan, with_old_sources

CHANGED = "changed since the plan was made; make the plan again"
MOVED_CHECKPOINT = "if the checkpoint moved, give its prefix with --checkpoint PREFIX"
MOVED_GRAPH = "if the new graph's file moved, give it with --new-graph FILE"
MOVED_SOURCE = "the new graph imported it when the plan was made; make the plan again"


def check_fingerprints(plan: Plan, *, new_graph: bool = True) -> None:
    """Raise BadInput unless the plan's checkpoint (and new-graph file) are as when planned.

    `new_graph=False` skips the new-graph file: a training script that restores into its own
    session built the graph itself.

    >>> check_fingerprints(plan)  # doctest: +SKIP
    BadInput: old/model.ckpt.index: changed since the plan was made; make the plan again
    """
    check_checkpoint(plan)
    if new_graph:
        _check_unchanged(plan.provenance.new_graph, MOVED_GRAPH)
        for source in plan.provenance.new_graph_sources:
            _check_unchanged(source, MOVED_SOURCE, "(the new graph imports it)")


def with_inputs_at(plan: Plan, checkpoint=None, new_graph: str | None = None):
    """The plan with its checkpoint prefix(es) and new-graph file where they are now.

    `checkpoint`: the new prefix of the one unnamed source, or a mapping NAME -> prefix for
    named ones (`--checkpoint NAME=PREFIX`). The fingerprints stay the plan's: the moved files
    must still be the ones it was made from, and are checked here, so that a flag pointing at
    another file says so (BadInput).
    """
    provenance = plan.provenance
    if checkpoint is not None:
        moved = _relocations(provenance, checkpoint)
        sources = [
            _moved_source(old, moved[old.name]) if old.name in moved else old
            for old in provenance.old_sources
        ]
        provenance = with_old_sources(provenance, sources)
    if new_graph is not None:
        old_directory = os.path.dirname(provenance.new_graph.path)
        graph = dataclasses.replace(provenance.new_graph, path=storage.absolute(new_graph))
        _check_given(graph, "--new-graph", "new-graph file")
        sources = tuple(
            _rebased(source, old_directory, os.path.dirname(graph.path))
            for source in provenance.new_graph_sources
        )
        provenance = dataclasses.replace(provenance, new_graph=graph, new_graph_sources=sources)
    return dataclasses.replace(plan, provenance=provenance)


def _relocations(provenance, checkpoint) -> dict:
    """Source name -> where its checkpoint is now; BadInput for a name the plan lacks."""
    if not isinstance(checkpoint, Mapping):
        if provenance.sources:
            names = ", ".join(s.name for s in provenance.sources)
            raise BadInput(
                "--checkpoint", f"the plan's sources are named ({names}): give NAME=PREFIX"
            )
        return {None: os.fspath(checkpoint)}
    known = {s.name for s in provenance.sources}
    for name in checkpoint:
        if name not in known:
            names = ", ".join(str(s.name) for s in provenance.old_sources)
            raise BadInput("--checkpoint", f"{name}: the plan has no such source ({names})")
    return {name: os.fspath(path) for name, path in checkpoint.items()}


def _moved_source(old: OldSource, checkpoint: str) -> OldSource:
    checkpoint = storage.absolute(checkpoint)
    index = old.checkpoint_index
    where = checkpoint if old.old_kind in H5_KINDS else index_path(checkpoint)
    moved = dataclasses.replace(
        old,
        checkpoint_prefix=checkpoint,
        checkpoint_index=index and dataclasses.replace(index, path=where),
        old_meta=_meta_moved(old, checkpoint),
    )
    if moved.checkpoint_index is not None:
        flag = "--checkpoint" if old.name is None else f"--checkpoint {old.name}=PREFIX"
        what = "checkpoint" if old.name is None else f"checkpoint of source {old.name}"
        _check_given(moved.checkpoint_index, flag, what)
    return moved


def _meta_moved(old: OldSource, checkpoint: str) -> FileFingerprint | None:
    """The old graph's .meta moves with its checkpoint: PREFIX.meta becomes the new prefix's,
    one beside the checkpoint stays beside it (verify reads it)."""
    meta = old.old_meta
    if meta is None or old.old_kind in H5_KINDS:
        return meta
    if storage.same_path(meta.path, old.checkpoint_prefix + ".meta"):
        return dataclasses.replace(meta, path=checkpoint + ".meta")
    before, after = (os.path.dirname(p) for p in (old.checkpoint_prefix, checkpoint))
    return _rebased(meta, before, after)


def _check_given(fingerprint: FileFingerprint, flag: str, what: str) -> None:
    """A file named by `flag` is the one the plan was made from, by its sha256."""
    path = fingerprint.path
    if storage.exists(path) and not storage.isdir(path) and sha256_of(path) != fingerprint.sha256:
        raise BadInput(
            path,
            f"is not the {what} the plan was made from (its sha256 differs from the plan's "
            f"{fingerprint.sha256[:12]}...); give that one with {flag}, or make the plan again",
        )


def _rebased(source: FileFingerprint, old: str, new: str) -> FileFingerprint:
    """A module beside the new graph's file moves with it; others stay where they were."""
    relative = os.path.relpath(source.path, old)
    if relative.startswith(os.pardir):
        return source
    return dataclasses.replace(source, path=os.path.join(new, relative))


def check_checkpoint(plan: Plan) -> None:
    """Each source's checkpoint index (or Keras weights file) is the one planned from, and
    every data shard exists."""
    for old in plan.provenance.old_sources:
        moved = MOVED_CHECKPOINT
        if old.name is not None:
            moved = f"if it moved, give its prefix with --checkpoint {old.name}=PREFIX"
        if old.old_kind in H5_KINDS:
            _check_unchanged(old.checkpoint_index, moved)
            continue
        if old.checkpoint_index is None:
            raise BadInput(
                index_path(old.checkpoint_prefix),
                "the plan was made from the .meta alone, without this checkpoint index; "
                "applying needs the checkpoint: make the plan again with the checkpoint present",
            )
        _check_unchanged(old.checkpoint_index, moved)
        data_files(old.checkpoint_prefix)


def data_files(prefix: str) -> list[str]:
    """The data shards the checkpoint's index names; BadInput naming the first one missing.

    The count comes from the index's header, not from the files there: a leftover shard of
    another save beside the checkpoint does not matter.
    """
    from graphdiff.bundle.reader import BundleReader, data_path, not_a_file

    shards = BundleReader(prefix).num_shards
    expected = [data_path(prefix, i, shards) for i in range(shards)]
    for shard in expected:
        if not storage.exists(shard):
            raise BadInput(shard, "no such file: a shard of the checkpoint's data is missing")
        if storage.isdir(shard):
            raise BadInput(shard, "is a directory, not a shard of the checkpoint's data")
        if not storage.is_remote(shard):  # a FIFO would block the read; /dev/zero never ends
            mode = os.stat(storage.local_path(shard)).st_mode
            if not stat.S_ISREG(mode):
                raise BadInput(shard, f"is {not_a_file(mode)}, not a shard of checkpoint data")
    return expected


def _check_unchanged(fingerprint: FileFingerprint, if_moved: str, role: str = "") -> None:
    path = fingerprint.path
    if not storage.exists(path):
        raise BadInput(path, f"no such file (the plan was made from it); {if_moved}")
    if storage.isdir(path):
        raise BadInput(path, "is a directory, not the file the plan was made from")
    if sha256_of(path) != fingerprint.sha256:
        raise BadInput(path, f"{CHANGED} {role}".rstrip())
