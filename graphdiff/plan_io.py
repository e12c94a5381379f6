"""Plans on disk: JSON text, validated against the schema when written and when read."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from graphdiff.errors import BadInput
from graphdiff.plan import Plan, from_json, to_json
from graphdiff.schema import validate_plan


def dumps(plan: Plan) -> str:
    document = to_json(plan)
    validate_plan(document, "<plan being written>")
    return json.dumps(document, indent=2) + "\n"


def write_text_atomically(path: str | os.PathLike, text: str) -> None:
    """Write via a temporary file in the same directory, so a failure leaves nothing behind."""
    target = Path(path)
    if target.parent and not target.parent.exists():
        raise BadInput(path, f"directory {target.parent} does not exist")
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_plan(plan: Plan, path: str | os.PathLike) -> None:
    write_text_atomically(path, dumps(plan))


def read_plan(path: str | os.PathLike) -> Plan:
    file = Path(path)
    if not file.is_file():
        raise BadInput(path, "no such file" if not file.exists() else "is not a file")
    try:
        document = json.loads(file.read_text())
    except UnicodeDecodeError:
        raise BadInput(path, "not a plan: not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise BadInput(
            path, f"not a plan: invalid JSON at line {error.lineno}: {error.msg}"
        ) from None
    validate_plan(document, path)
    return from_json(document)
