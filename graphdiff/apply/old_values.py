"""The stored values of a plan's old sources, each opened once, found by the entry that reads.

A plan restores each variable from one source (`entry.source_name`; None for the one unnamed
source). apply, `--verify` and restoring into a session read through `OldValues.of(entry)`,
whatever the number of sources: a tensor bundle's reader (its shards read as they are,
carried bytes crc checked) or Keras weights. Before anything is written, `check_sources`
checks each source's entries against its own index.
"""

from __future__ import annotations

from collections.abc import Iterable

from graphdiff.apply.targets import Target
from graphdiff.apply.targets import check_sources as check_source_entries
from graphdiff.errors import BadInput
from graphdiff.formats import open_values
from graphdiff.plan import Plan, VariableEntry


class OldValues:
    """Readers of the sources the restored entries name, opened on first use."""

    def __init__(self, plan: Plan):
        self.provenance = plan.provenance
        self.readers: dict[str | None, object] = {}
        self._specs: dict[str | None, dict] = {}

    def of(self, entry: VariableEntry):
        """The reader of the source `entry` restores from."""
        return self.reader(entry.source_name)

    def reader(self, name: str | None):
        if name not in self.readers:
            try:
                source = self.provenance.old_source(name)
            except KeyError:
                raise BadInput(
                    "<plan>", f"names source '{name}', which it does not declare"
                ) from None
            self.readers[name] = open_values(source.old_kind, source.checkpoint_prefix)
        return self.readers[name]

    def specs(self, name: str | None) -> dict:
        """The source's index: key -> TensorSpec (read once)."""
        if name not in self._specs:
            self._specs[name] = self.reader(name).specs()
        return self._specs[name]

    def num_shards(self, entries: Iterable[VariableEntry]) -> int:
        """The most data files any source the entries read has (1 with none)."""
        names = {entry.source_name for entry in entries}
        return max((self.reader(name).num_shards for name in names), default=1)

    def check_sources(self, entries, targets: dict[str, Target], where: str) -> None:
        """Each restore entry's key is in its own source with the target's dtype and shape."""
        by_source: dict[str | None, list[VariableEntry]] = {}
        for entry in entries:
            by_source.setdefault(entry.source_name, []).append(entry)
        for name, group in by_source.items():
            prefix = self.provenance.old_source(name).checkpoint_prefix
            check_source_entries(group, targets, self.specs(name), where, prefix)

    def close(self) -> None:
        for reader in self.readers.values():
            if hasattr(reader, "close"):
                reader.close()
