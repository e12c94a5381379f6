"""`apply --report FILE.json`: what apply did, or why it did not, for a pipeline to read.

Done: `{"status": "done", "exit_status": 0, "prefix", "files": [{"path", "bytes"}],
"variables": {"total", "restored", "initialized"}, "bytes", "sources": [{"name",
"checkpoint", "restored", "bytes"}], "seconds", "verified"}`: `sources` says what each old
source gave (name null for the one unnamed source).
Refused or failed: `{"status": "failed", "exit_status", "error", "seconds"}` — the same one line
the command prints. `{"status": "running", "pid"}` while apply runs (replacing a report left
by an earlier run), so a run killed outright is not taken for done. The report is written
whole (through a temporary file) or not at all, as `>` would (graphdiff.text_output: a
directory is refused); `--report /dev/stdout` (or a pipe) gets the last report only, and
nothing else goes to that stream (the CLI keeps it for the report); and
never over a file of the plan's (graphdiff.overwrites): that refusal is the one fault no report
records, since its only place would be the file it protects.
"""

from __future__ import annotations

import contextlib
import json
import os
import time

from graphdiff import storage
from graphdiff.errors import BadInput, GraphdiffError
from graphdiff.text_output import check_text_target, standard_stream, write_text


class ReportWouldOverwrite(BadInput):
    """--report names a file of the plan's: refused, and no report written there."""


class Report:
    def __init__(self, path: str | None = None):
        self.started = time.monotonic()
        self.path = path
        self.document: dict | None = None

    def begin(self, plan, plan_path, output_prefix) -> None:
        """Refuse a report over a file of the plan's (ReportWouldOverwrite), then replace any
        report already there with `{"status": "running"}`: a run killed with SIGKILL leaves that,
        not the last run's "done", for a pipeline to read."""
        if self.path is None:
            return
        refuse_report_over(self.path, plan, plan_path, output_prefix)
        if standard_stream(self.path) is not None:  # /dev/stdout: written once, at the end
            return
        if os.path.isfile(self.path) or not os.path.exists(self.path):  # a pipe gets one
            _write(self.path, {"status": "running", "pid": os.getpid()})

    def done(self, plan, prefix: str, verified: bool) -> None:
        from graphdiff.apply.checkpoint_files import existing_files

        paths = [prefix] if storage.isfile(prefix) else existing_files(prefix)  # .weights.h5
        files = [{"path": path, "bytes": storage.size(path)} for path in paths]
        self.document = {
            "status": "done",
            "exit_status": 0,
            "prefix": prefix,
            "files": files,
            "variables": {
                "total": len(plan.variables),
                "restored": len(plan.restored),
                "initialized": len(plan.initialized),
            },
            "bytes": sum(f["bytes"] for f in files),
            "sources": source_bytes(plan),
            "seconds": self.seconds(),
            "verified": verified,
        }

    def seconds(self) -> float:
        return round(time.monotonic() - self.started, 3)


def source_bytes(plan) -> list[dict]:
    """Each old source (name null for the one unnamed source), with the variables restored
    from it and their bytes as written (after any transform)."""
    import math

    from graphdiff.dtypes import itemsize

    found = []
    for old in plan.provenance.old_sources:
        restored = [e for e in plan.restored if e.source_name == old.name]
        found.append(
            {
                "name": old.name,
                "checkpoint": old.checkpoint_prefix,
                "restored": len(restored),
                "bytes": sum(math.prod(e.shape or ()) * itemsize(e.dtype) for e in restored),
            }
        )
    return found


@contextlib.contextmanager
def reporting(path: str | None, plan_path=None):
    """Yield a Report to fill; write it to `path` (if any) when the block ends, done or failed.

    `plan_path` is refused as `path` at once: a plan that cannot be read is still the user's."""
    report = Report(path)
    if path is None:
        yield report
        return
    check_text_target(path)
    if plan_path is not None and storage.same_path(path, plan_path):
        raise BadInput(path, "is the plan being applied; writing there would destroy it")
    try:
        yield report
    except ReportWouldOverwrite:
        raise
    except GraphdiffError as error:
        _write(path, _failure(error, error.exit_status, report))
        raise
    except KeyboardInterrupt:
        _write(path, _failure("interrupted", 130, report))
        raise
    except Exception as error:  # a bug: the CLI prints it as an internal error
        _write(path, _failure(f"internal error: {type(error).__name__}: {error}", 1, report))
        raise
    except BaseException:  # SIGTERM, which the CLI raises as its own BaseException
        _write(path, _failure("terminated", 143, report))
        raise
    _write(path, report.document)


def _failure(error, status: int, report: Report) -> dict:
    text = " ".join(str(error).split())
    return {"status": "failed", "exit_status": status, "error": text, "seconds": report.seconds()}


def refuse_report_over(path: str | None, plan, plan_path, output_prefix) -> None:
    """ReportWouldOverwrite if the report at `path` would replace a file of the plan's."""
    from graphdiff.overwrites import refuse_overwrite

    try:
        refuse_overwrite(path, plan, plan_path=plan_path, output_prefix=output_prefix)
    except BadInput as error:
        raise ReportWouldOverwrite(error.path, error.fault) from None


def _write(path: str, document: dict) -> None:
    write_text(path, json.dumps(document, indent=2) + "\n")
