"""Refuse to apply a plan whose inputs changed since it was made.

A plan records the sha256 of the checkpoint's `.index` and of the new-graph file. Before
anything is written, `check_fingerprints(plan)` recomputes both and checks that the checkpoint's
data shards are all there; any difference is a BadInput naming the file, so the CLI exits 2.
"""

from __future__ import annotations

import glob
import re
from pathlib import Path

from graphdiff.errors import BadInput
from graphdiff.loading import index_path, sha256_of
from graphdiff.plan import FileFingerprint, Plan

CHANGED = "changed since the plan was made; make the plan again"

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
        _check_unchanged(plan.provenance.new_graph)


def check_checkpoint(plan: Plan) -> None:
    """The checkpoint index is the one planned from, and every data shard exists."""
    provenance = plan.provenance
    if provenance.checkpoint_index is None:
        raise BadInput(
            index_path(provenance.checkpoint_prefix),
            "the plan was made from the .meta alone, without this checkpoint index; "
            "applying needs the checkpoint: make the plan again with the checkpoint present",
        )
    _check_unchanged(provenance.checkpoint_index)
    data_files(provenance.checkpoint_prefix)


def data_files(prefix: str) -> list[Path]:
    """The data shards of the checkpoint at `prefix`; BadInput naming the first one missing."""
    found = sorted(Path(p) for p in glob.glob(glob.escape(prefix) + ".data-*-of-*"))
    totals = {int(m.group(2)) for p in found if (m := _SHARD.search(p.name))}
    if not totals:
        raise BadInput(
            f"{prefix}.data-00000-of-00001", "no such file: the checkpoint's data is missing"
        )
    total = max(totals)
    expected = [Path(f"{prefix}.data-{i:05d}-of-{total:05d}") for i in range(total)]
    for shard in expected:
        if not shard.is_file():
            raise BadInput(shard, "no such file: a shard of the checkpoint's data is missing")
    return expected


def _check_unchanged(fingerprint: FileFingerprint) -> None:
    path = Path(fingerprint.path)
    if not path.is_file():
        raise BadInput(path, "no such file (the plan was made from it)")
    if sha256_of(path) != fingerprint.sha256:
        raise BadInput(path, CHANGED)
