"""Refuse to apply a plan whose inputs changed since it was made.

A plan records the sha256 of the checkpoint's `.index` and of the new-graph file. Before
anything is written, `check_fingerprints(plan)` recomputes both and checks that the checkpoint's
data shards are all there; any difference is a BadInput naming the file, so the CLI exits 2.
An input that is not where the plan says is named with the flag that points to where it is now.
"""

from __future__ import annotations

import dataclasses
import re

from graphdiff import storage
from graphdiff.errors import BadInput
from graphdiff.formats.base import H5_KINDS
from graphdiff.loading import index_path, sha256_of
from graphdiff.plan import FileFingerprint, Plan

CHANGED = "changed since the plan was made; make the plan again"
MOVED_CHECKPOINT = "if the checkpoint moved, give its prefix with --checkpoint PREFIX"
MOVED_GRAPH = "if the new graph's file moved, give it with --new-graph FILE"

_SHARD = re.compile(r"\.data-(\d{5})-of-(\d{5})$")


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


def with_inputs_at(plan: Plan, checkpoint: str | None = None, new_graph: str | None = None):
    """The plan with its checkpoint prefix and new-graph file where they are now.

    The fingerprints stay the plan's: the moved files must still be the ones it was made from.
    """
    provenance = plan.provenance
    if checkpoint is not None:
        checkpoint = storage.absolute(checkpoint)
        index = provenance.checkpoint_index
        where = checkpoint if provenance.old_kind in H5_KINDS else index_path(checkpoint)
        provenance = dataclasses.replace(
            provenance,
            checkpoint_prefix=checkpoint,
            checkpoint_index=index and dataclasses.replace(index, path=where),
        )
    if new_graph is not None:
        graph = dataclasses.replace(provenance.new_graph, path=storage.absolute(new_graph))
        provenance = dataclasses.replace(provenance, new_graph=graph)
    return dataclasses.replace(plan, provenance=provenance)


def check_checkpoint(plan: Plan) -> None:
    """The checkpoint index (or Keras weights file) is the one planned from, and every data
    shard exists."""
    provenance = plan.provenance
    if provenance.old_kind in H5_KINDS:
        _check_unchanged(provenance.checkpoint_index, MOVED_CHECKPOINT)
        return
    if provenance.checkpoint_index is None:
        raise BadInput(
            index_path(provenance.checkpoint_prefix),
            "the plan was made from the .meta alone, without this checkpoint index; "
            "applying needs the checkpoint: make the plan again with the checkpoint present",
        )
    _check_unchanged(provenance.checkpoint_index, MOVED_CHECKPOINT)
    data_files(provenance.checkpoint_prefix)


def data_files(prefix: str) -> list[str]:
    """The data shards of the checkpoint at `prefix`; BadInput naming the first one missing."""
    found = storage.glob(storage.escape(prefix) + ".data-*-of-*")
    totals = {int(m.group(2)) for p in found if (m := _SHARD.search(p))}
    if not totals:
        raise BadInput(
            f"{prefix}.data-00000-of-00001", "no such file: the checkpoint's data is missing"
        )
    total = max(totals)
    expected = [f"{prefix}.data-{i:05d}-of-{total:05d}" for i in range(total)]
    for shard in expected:
        if not storage.isfile(shard):
            raise BadInput(shard, "no such file: a shard of the checkpoint's data is missing")
    return expected


def _check_unchanged(fingerprint: FileFingerprint, if_moved: str) -> None:
    path = fingerprint.path
    if not storage.exists(path):
        raise BadInput(path, f"no such file (the plan was made from it); {if_moved}")
    if storage.isdir(path):
        raise BadInput(path, "is a directory, not the file the plan was made from")
    if sha256_of(path) != fingerprint.sha256:
        raise BadInput(path, CHANGED)
