"""The plan's JSON Schema is a shipped contract: example plans that must pass and must fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from graphdiff.errors import BadInput
from graphdiff.plan import from_json, to_json
from graphdiff.plan_io import read_plan
from graphdiff.schema import plan_schema, schema_errors

EXAMPLES = Path(__file__).parent / "schema_examples"
VALID = sorted((EXAMPLES / "valid").glob("*.json"))
INVALID = sorted((EXAMPLES / "invalid").glob("*.json"))


def test_the_shipped_schema_is_the_repository_file():
    repository_copy = json.loads(
        (Path(__file__).parents[1] / "schemas/plan.schema.json").read_text()
    )
    assert plan_schema() == repository_copy
    assert plan_schema()["$schema"].endswith("2020-12/schema")


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_examples_pass_and_round_trip(path):
    document = json.loads(path.read_text())
    assert schema_errors(document) == []
    assert to_json(from_json(document)) == document


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_examples_fail_and_are_refused_when_read(path):
    assert schema_errors(json.loads(path.read_text()))
    with pytest.raises(BadInput, match=f"{path}: not a valid graphdiff plan: at \\$"):
        read_plan(path)
