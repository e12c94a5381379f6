"""Named old sources: `NAME=OLD` on the command line, `NAME:` in front of a rule, `NAME=PREFIX`
in a relocation flag. Parsing and checking only; planning.py and sources.py do the rest.

A name is letters, digits, `_` and `-`, not starting with a digit or `-`: never a path (no `/`,
no `.`), so `runs/lr=0.1/model.ckpt.meta` is a path whatever it holds. A name-like head
(`lr=0.1/model.ckpt.meta`) is read as NAME=OLD unless the whole text is an existing file and
`OLD` is not; when both exist, neither reading is chosen (write `./lr=0.1/...` for the file).
One unnamed OLD is a plan as it always was; with several, each has a name, given once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from graphdiff import storage
from graphdiff.errors import BadInput

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
NAME_RULE = "letters, digits, '_' and '-', not starting with a digit or '-'"


@dataclass(frozen=True)
class SourceSpec:
    """One OLD as given: its name (None: the one unnamed source) and its files."""

    name: str | None
    path: str
    checkpoint: str | None = None  # --checkpoint: a .meta's checkpoint, if not beside it
    old_model: str | None = None  # --old-model: the .py whose build_model() made OLD's model


def is_name(text: str) -> bool:
    return NAME.fullmatch(text) is not None


def old_argument(text: str) -> tuple[str | None, str]:
    """(name, path) of one OLD on the command line: `NAME=OLD`, or a path (name None)."""
    head, equals, rest = text.partition("=")
    if not equals or not is_name(head):
        return None, text
    if _exists_locally(text):
        if rest and storage.exists(rest):
            raise BadInput(
                text,
                f"is both a file and source '{head}' = {rest}; write ./{text} for the file, "
                f"or {head}=./{rest} for the source",
            )
        return None, text  # only the whole is there: a path with '=' in it
    if not rest:
        raise BadInput(text, f"source '{head}' names no OLD; give it as {head}=OLD")
    return head, rest


def _exists_locally(text: str) -> bool:
    if storage.is_remote(text):
        return False
    return os.path.lexists(text) or os.path.exists(text + ".index")


def command_line_sources(texts: list[str]) -> list[tuple[str | None, str]]:
    """The OLDs of `graphdiff plan OLD... NEW`, checked: one unnamed, or each named once."""
    sources = [old_argument(text) for text in texts]
    if len(sources) > 1 or sources[0][0] is not None:
        for text, (name, _) in zip(texts, sources, strict=True):
            if name is None:
                raise BadInput(text, _needs_name(text))
    check_distinct(sources, texts)
    return sources


def _needs_name(text: str) -> str:
    fault = "with several sources (or any named one), give each as NAME=OLD"
    head, equals, _ = text.partition("=")
    if equals:
        fault += f": '{head}' is no source name ({NAME_RULE})"
    return fault


def check_distinct(sources, texts=None) -> None:
    """No name twice, and no old file under two names."""
    names, paths = {}, {}
    for index, (name, path) in enumerate(sources):
        where = texts[index] if texts else f"{name}={path}"
        if name in names:
            raise BadInput(where, f"source name '{name}' is given twice")
        names[name] = path
        real = path if storage.is_remote(path) else os.path.realpath(path)
        if real in paths:
            raise BadInput(where, f"is source '{paths[real]}' already; give each source once")
        paths[real] = name


def source_specs(old, checkpoint=None, old_model=None) -> list[SourceSpec]:
    """make_plan's OLD as SourceSpecs, in order.

    `old`: a path (one unnamed source), or a mapping NAME -> path (in its order), or a list of
    SourceSpec. `checkpoint` and `old_model`: a path for one unnamed source, a mapping NAME ->
    path for named ones. BadInput for a bad name, a name twice, a flag for no source.
    """
    if isinstance(old, (str, os.PathLike)):
        if isinstance(checkpoint, Mapping) or isinstance(old_model, Mapping):
            raise BadInput("--checkpoint", "NAME=PREFIX is for named sources; OLD has no name")
        return [SourceSpec(None, os.fspath(old), checkpoint, _path(old_model))]
    if isinstance(old, Mapping):
        old = [SourceSpec(name, os.fspath(path)) for name, path in old.items()]
    specs = list(old)
    if not specs:
        raise BadInput("OLD", "no old source given")
    for spec in specs:
        if spec.name is None or not is_name(spec.name):
            raise BadInput(f"{spec.name}={spec.path}", f"not a source name ({NAME_RULE})")
    check_distinct([(s.name, s.path) for s in specs])
    names = [s.name for s in specs]
    checkpoints = per_source(checkpoint, names, "--checkpoint")
    models = per_source(old_model, names, "--old-model")
    return [
        SourceSpec(
            s.name,
            s.path,
            checkpoints.get(s.name, s.checkpoint),
            _path(models.get(s.name, s.old_model)),
        )
        for s in specs
    ]


def _path(value):
    return None if value is None else os.fspath(value)


def per_source(value, names: list[str], flag: str) -> dict[str, str]:
    """A per-source flag's values by source name: a mapping, or (flag texts) NAME=PATH."""
    if value is None:
        return {}
    if isinstance(value, (str, os.PathLike)):
        value = [os.fspath(value)]
    if isinstance(value, Mapping):
        pairs = [(name, os.fspath(path)) for name, path in value.items()]
    else:
        pairs = [_named_value(text, names, flag) for text in value]
    found: dict[str, str] = {}
    for name, path in pairs:
        if name not in names:
            raise BadInput(flag, f"{name}: no source has this name (sources: {', '.join(names)})")
        if name in found:
            raise BadInput(flag, f"{name}: given twice")
        found[name] = path
    return found


def _named_value(text: str, names: list[str], flag: str) -> tuple[str, str]:
    head, equals, rest = text.partition("=")
    if not equals or not rest or not is_name(head):
        raise BadInput(
            flag, f"'{text}': the sources are named ({', '.join(names)}): give NAME=PATH"
        )
    return head, rest


def single_value(values, flag: str) -> str | None:
    """The one value of a flag for a plan with one unnamed source (given at most once)."""
    if not values:
        return None
    if isinstance(values, (str, os.PathLike)):
        return os.fspath(values)
    if len(values) > 1:
        raise BadInput(flag, f"given {len(values)} times; there is one unnamed source")
    return values[0]


def split_named(text: str, names: list[str], what: str) -> tuple[str | None, str]:
    """A rule's `NAME:` prefix and the rest; (None, text) when it has none.

    A variable's name never holds ':', so a name-like head before one is a source's name:
    BadInput when no source has it.
    """
    head, colon, rest = text.partition(":")
    if not colon or not is_name(head):
        return None, text
    if head not in names:
        if not names:
            fault = f"names source '{head}', but OLD is not named (give it as {head}=OLD)"
        else:
            fault = f"names source '{head}', but the sources are {', '.join(names)}"
        raise BadInput(what, f"'{text}' {fault}")
    if not rest:
        raise BadInput(what, f"'{text}': nothing after '{head}:'")
    return head, rest


def relocations(plan, values, flag: str):
    """A relocation flag's values for `plan` (`apply --checkpoint`): one path for a plan of one
    unnamed source, NAME -> path for named ones; None when not given."""
    if not values:
        return None
    names = [source.name for source in plan.provenance.sources]
    if not names:
        return single_value(values, flag)
    return per_source(values, names, flag)
