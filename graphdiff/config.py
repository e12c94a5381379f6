"""Rules kept in the repository: `[tool.graphdiff]` in pyproject.toml, or a graphdiff.toml.

The `--map`, `--exclude`, `--require` and `--reset-optimizer` a team settles on belong next to
the code, not in someone's shell history. `find_rules()` walks up from the current directory as
ruff and pytest do: in each directory a `graphdiff.toml` (keys at its top level) wins over a
`pyproject.toml` with a `[tool.graphdiff]` table; a pyproject.toml without one is passed by.
Command-line flags add to what the file says. Unknown keys and wrong types are BadInput.

```toml
[tool.graphdiff]
map = ["encoder=tower/encoder"]       # or a table: map = { "encoder" = "tower/encoder" }
exclude = ["^head/"]
require = ["^tower/encoder/"]
reset-optimizer = true
```
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from graphdiff.errors import BadInput

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

KEYS = ("map", "exclude", "require", "reset-optimizer")


@dataclass(frozen=True)
class RepoRules:
    path: str | None = None  # the file they came from; None: no file
    maps: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    reset_optimizer: bool = False


def find_rules(start: Path | None = None) -> RepoRules:
    """The rules of the nearest graphdiff.toml or pyproject.toml [tool.graphdiff], else none."""
    directory = (start or Path.cwd()).resolve()
    for folder in (directory, *directory.parents):
        own = folder / "graphdiff.toml"
        if _present(own):
            return load_rules(own)
        project = folder / "pyproject.toml"
        if _present(project):
            tool = _read(project).get("tool")
            if isinstance(tool, dict) and "graphdiff" in tool:
                return load_rules(project)
    return RepoRules()


def _present(path: Path) -> bool:
    """`path` is a file to read; one there that is no file (a directory, a dangling link) is
    BadInput rather than passed by: the rules it was meant to hold would be silently lost."""
    if path.is_file():
        return True
    if path.exists() or path.is_symlink():
        what = "a directory" if path.is_dir() else "not a readable file"
        raise BadInput(path, f"is {what}; rules are read from a TOML file")
    return False


def load_rules(path: Path) -> RepoRules:
    """The rules in `path`: a graphdiff.toml, or a pyproject.toml's [tool.graphdiff] table."""
    document = _read(path)
    table, where = document, ""
    if path.name == "pyproject.toml":
        table, where = document.get("tool", {}).get("graphdiff", {}), "[tool.graphdiff] "
    if not isinstance(table, dict):
        raise BadInput(path, f"{where}must be a table of rules")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise BadInput(path, f"{where}unknown key '{unknown[0]}' (known: {', '.join(KEYS)})")
    reset = table.get("reset-optimizer", False)
    if not isinstance(reset, bool):
        raise BadInput(path, f"{where}reset-optimizer: expected true or false")
    return RepoRules(
        path=str(path),
        maps=_maps(table.get("map", []), path, where),
        excludes=_patterns(table.get("exclude", []), path, f"{where}exclude"),
        requires=_patterns(table.get("require", []), path, f"{where}require"),
        reset_optimizer=reset,
    )


def _read(path: Path) -> dict:
    try:
        with open(path, "rb") as stream:
            return tomllib.load(stream)
    except tomllib.TOMLDecodeError as error:
        raise BadInput(path, f"not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise BadInput(path, "not valid TOML: not UTF-8 text") from None
    except OSError as error:
        raise BadInput(path, f"cannot be read: {error.strerror}") from None


def _maps(value, path: Path, where: str) -> tuple[str, ...]:
    from graphdiff.match.rules import parse_map

    if isinstance(value, dict):
        if not all(isinstance(new, str) for new in value.values()):
            raise BadInput(path, f'{where}map: expected a table of strings (OLD = "NEW")')
        value = [f"{old}={new}" for old, new in value.items()]
    maps = _strings(value, path, f"{where}map")
    for index, text in enumerate(maps):
        if "=" not in text:
            raise BadInput(path, f"{where}map: '{text}' is not OLD=NEW")
        try:
            parse_map(text, index + 1)
        except BadInput as error:
            raise BadInput(path, f"{where}map: {error.fault}") from None
    return maps


def _patterns(value, path: Path, what: str) -> tuple[str, ...]:
    from graphdiff.match.rules import parse_patterns

    patterns = _strings(value, path, what)
    try:
        parse_patterns(what, patterns)
    except BadInput as error:
        raise BadInput(path, f"{what}: {error.fault}") from None
    return patterns


def _strings(value, path: Path, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadInput(path, f"{what}: expected a list of strings")
    return tuple(value)
