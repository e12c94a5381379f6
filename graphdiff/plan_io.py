"""Plans on disk: JSON text, validated against the schema when written and when read.

Paths in a plan file are portable: a local path in the plan's own directory tree, or one level
beside it (`../ckpt/model.ckpt`), is stored relative to the plan's directory, and resolved
against the plan's location when read; any other path is stored absolute, and remote ones
(`gs://...`) as they are. A plan then travels with its project: move the whole directory, and
`apply` still finds its inputs. In memory a Plan always holds absolute paths.
"""

from __future__ import annotations

import codecs
import json
import os
from pathlib import Path

from graphdiff import __version__, storage
from graphdiff.errors import BadInput
from graphdiff.plan import NEWEST_FORMAT_VERSION, Plan, from_json, to_json
from graphdiff.schema import validate_plan
from graphdiff.text_output import write_text

# Fingerprints, whose .path is a path.
_PROVENANCE_PATHS = ("old_meta", "checkpoint_index", "new_graph", "old_model")


def dumps(plan: Plan, base: str | os.PathLike | None = None) -> str:
    """The plan as JSON text, its paths relative to directory `base` where they may be."""
    document = to_json(plan)
    validate_plan(document, "<plan being written>")
    if base is not None:
        _map_paths(document, lambda path: _portable(path, os.path.realpath(base)))
    return json.dumps(document, indent=2) + "\n"


def plan_directory(path: str | os.PathLike) -> str:
    """The directory a plan file's relative paths start from: the real one, symbolic links
    followed (the file's own link too), as the system resolves `..` in them. Writing and
    reading both use it, so a plan reached through a link reads what was written."""
    return os.path.dirname(os.path.realpath(os.fspath(path)))


def write_plan(plan: Plan, path: str | os.PathLike) -> None:
    """Write the plan to `path`, its paths relative to the plan's directory where they may be."""
    write_text(path, dumps(plan, base=plan_directory(path)))


def read_plan(path: str | os.PathLike) -> Plan:
    """Read and validate a plan; relative paths in it are taken from the plan's directory.

    BadInput (one line naming the file) for a file that cannot be read, is not JSON, nests too
    deeply, was made by a newer graphdiff, or breaks the schema.
    """
    file = Path(path)
    document = _parse(path, _read_text(file))
    _check_version(document, path)
    try:
        validate_plan(document, path)
    except RecursionError:
        raise BadInput(path, "not a plan: its JSON nests too deeply") from None
    _check_source_names(document, path)
    base = plan_directory(file)
    _map_paths(document, lambda text: _resolved(text, base))
    return from_json(document)


def _read_text(file: Path) -> str:
    """The file's text: UTF-8, a byte order mark allowed (editors on Windows write one)."""
    try:
        if not file.is_file():
            raise BadInput(file, "no such file" if not file.exists() else "is not a file")
        data = file.read_bytes()
    except OSError as error:  # permission denied, an I/O error, a name too long
        raise BadInput(file, f"cannot be read: {error.strerror or error}") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise BadInput(file, "not a plan: UTF-16 text; save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput(file, "not a plan: not UTF-8 text") from None


def _parse(path, text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise BadInput(
            path, f"not a plan: invalid JSON at line {error.lineno}: {error.msg}"
        ) from None
    except RecursionError:
        raise BadInput(path, "not a plan: its JSON nests too deeply") from None
    except ValueError:  # an integer of more digits than Python converts (4300)
        raise BadInput(path, "not a plan: it holds a number too long to read") from None


def _check_version(document, path) -> None:
    """A plan of a later format says so, before the schema of this one finds fault with it."""
    if not isinstance(document, dict):
        return
    version = document.get("format_version")
    if (
        isinstance(version, int)
        and not isinstance(version, bool)
        and version > NEWEST_FORMAT_VERSION
    ):
        provenance = document.get("provenance")
        made_by = provenance.get("tool_version") if isinstance(provenance, dict) else None
        by = f"graphdiff {made_by}" if isinstance(made_by, str) else "a newer graphdiff"
        raise BadInput(
            path,
            f"made by {by} (plan format {version}), newer than this graphdiff {__version__} "
            f"(format {NEWEST_FORMAT_VERSION}): upgrade graphdiff to read it",
        )


def _check_source_names(document: dict, path) -> None:
    """Every source an entry, unused key, rule or scope names is one the plan declares, once:
    what the schema cannot say. A hand-edited name would send apply to no source at all."""
    declared = [source["name"] for source in document["provenance"].get("sources", ())]
    twice = next((name for name in declared if declared.count(name) > 1), None)
    if twice is not None:
        raise BadInput(path, f"not a valid graphdiff plan: source '{twice}' is declared twice")
    known = set(declared)
    for part in ("variables", "unused", "rules", "scopes"):
        for item in document[part]:
            named = [item.get("source_name")]
            named += [a["source_name"] for a in item.get("alternatives", ())]
            resolution = item.get("shape_resolution")
            named += [resolution.get("source_name")] if isinstance(resolution, dict) else []
            for name in named:
                if name is not None and name not in known:
                    what = item.get("name") or item.get("key") or item.get("id") or part
                    raise BadInput(
                        path,
                        f"not a valid graphdiff plan: {what} names source '{name}', which the "
                        f"plan does not declare (its sources: {', '.join(declared)})",
                    )


def _map_paths(document: dict, change) -> None:
    """Apply `change` to every path the plan holds (its inputs and its output prefix)."""
    provenance = document["provenance"]
    for holder in [provenance, *provenance.get("sources", ())]:
        for key in _PROVENANCE_PATHS:
            if holder.get(key) is not None:
                holder[key]["path"] = change(holder[key]["path"])
        if "checkpoint_prefix" in holder:
            holder["checkpoint_prefix"] = change(holder["checkpoint_prefix"])
    for source in provenance.get("new_graph_sources", ()):
        source["path"] = change(source["path"])
    document["output_prefix"] = change(document["output_prefix"])
    if document["options"].get("rules_file"):
        document["options"]["rules_file"] = change(document["options"]["rules_file"])


def _portable(path: str, base: str) -> str:
    """`path` relative to `base` (a real directory) when it reads back as the same file."""
    if storage.is_remote(path) or not os.path.isabs(path):
        return path
    for candidate in (path, os.path.realpath(path)):
        relative = os.path.relpath(candidate, base)
        ups = Path(relative).parts.count("..")
        if ups <= 1 and os.path.realpath(_resolved(relative, base)) == os.path.realpath(path):
            return Path(relative).as_posix()
    return path


def _resolved(path: str, base: str) -> str:
    if storage.is_remote(path) or os.path.isabs(path):
        return path
    return os.path.normpath(os.path.join(base, path))
