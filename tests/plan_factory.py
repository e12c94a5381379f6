"""Hand-made plans for tests that must run without TensorFlow or the matcher.

`sample_plan()` is the design's story: Input -> A -> B -> Output1 was trained; the new graph
keeps A (plus a new variable in it), moves B under `tower/` (one bias with an undefined shape
that took its shape from the checkpoint), adds a branch C and drops Output1.
"""

from __future__ import annotations

import hashlib

from graphdiff.plan import (
    FORMAT_VERSION,
    INITIALIZE,
    RESTORE,
    Evidence,
    FileFingerprint,
    Match,
    Options,
    Plan,
    Provenance,
    Rule,
    ScopeSummary,
    ShapeResolution,
    UnusedKey,
    VariableEntry,
)


def fingerprint(path: str) -> FileFingerprint:
    """A well-formed fingerprint (64 hex digits) that no real file needs to back."""
    return FileFingerprint(path=path, sha256=hashlib.sha256(path.encode()).hexdigest())


def make_plan(variables=(), scopes=(), rules=(), unused=()) -> Plan:
    """A Plan with fixed provenance and default options around the given contents."""
    return Plan(
        format_version=FORMAT_VERSION,
        provenance=Provenance(
            tool="graphdiff",
            tool_version="0.1.0",
            created="2024-01-01T00:00:00Z",
            old_meta=fingerprint("old/model.ckpt.meta"),
            checkpoint_prefix="old/model.ckpt",
            checkpoint_index=fingerprint("old/model.ckpt.index"),
            new_graph=fingerprint("new_graph.py"),
            new_graph_kind="python",
        ),
        output_prefix="new/model.ckpt",
        options=Options(),
        variables=tuple(variables),
        unused=tuple(unused),
        rules=tuple(rules),
        scopes=tuple(scopes),
    )


def restored(name, source=None, shape=(4, 4), rule=None, resolved=False) -> VariableEntry:
    """A variable restored from `source` (its own name by default)."""
    source = source or name
    method = "inferred_rule" if rule else "name"
    evidence = Evidence("rule" if rule else "same_name", f"{source} -> {name}")
    return VariableEntry(
        name=name,
        dtype="float32",
        shape=shape,
        action=RESTORE,
        reason=f"restored from {source}",
        source=source,
        match=Match(method=method, confidence=1.0, evidence=(evidence,), rule=rule),
        shape_resolution=ShapeResolution(shape, source, "undefined_in_get_variable")
        if resolved
        else None,
    )


def initialized(name, shape=(4,), reason="no counterpart in the checkpoint") -> VariableEntry:
    return VariableEntry(name=name, dtype="float32", shape=shape, action=INITIALIZE, reason=reason)


def unused_key(key, shape=(4,)) -> UnusedKey:
    return UnusedKey(
        key=key,
        dtype="float32",
        shape=shape,
        reason="removed: no variable of the new graph matches it",
    )


def sample_plan() -> Plan:
    """Five scopes, one of each status, one rename rule and one shape from the checkpoint."""
    return make_plan(
        variables=(
            restored("A/weights"),
            restored("A/biases", shape=(4,)),
            initialized("A/gamma"),
            restored("tower/B/weights", "B/weights", rule="r1"),
            restored("tower/B/biases", "B/biases", shape=(4,), rule="r1", resolved=True),
            initialized("C/weights", shape=(4, 4)),
            initialized("C/biases"),
            restored("global_step", shape=()),
        ),
        unused=(unused_key("Output1/weights", (4, 2)), unused_key("Output1/biases", (2,))),
        rules=(Rule("r1", "prefix", "B", "tower/B", "inferred", support=2),),
        scopes=(
            ScopeSummary("partial", "A", "A", restored=2, initialized=1),
            ScopeSummary("shared", "B", "tower/B", restored=2),
            ScopeSummary("new", None, "C", initialized=2),
            ScopeSummary("removed", "Output1", None, unused=2),
            ScopeSummary("shared", "(root)", "(root)", restored=1),
        ),
    )
