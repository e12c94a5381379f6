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
    assert to_json(from_json(document)) == with_later_fields(document)


def with_later_fields(document: dict) -> dict:
    """A plan written before later fields existed, as graphdiff reads it: no rules file, no
    --cast or --grow, no modules of the new graph's, the old side a TF1 .meta, no --old-model,
    nothing stored elsewhere, no transforms."""
    document = json.loads(json.dumps(document))
    for option, default in (("rules_file", None), ("cast", False), ("grow", False)):
        document["options"].setdefault(option, default)
    document["provenance"].setdefault("new_graph_sources", [])
    document["provenance"].setdefault("old_kind", "tf1_meta")
    document["provenance"].setdefault("old_model", None)
    for entry in document["variables"]:
        entry.setdefault("partitions", [])
        entry.setdefault("stored_as", None)
        entry.setdefault("transforms", [])
    for unused in document["unused"]:
        unused.setdefault("stored_as", None)
    return document


def test_a_plan_from_before_other_formats_reads_as_a_tf1_plan():
    document = json.loads((EXAMPLES / "valid" / "sample.json").read_text())
    assert "old_kind" not in document["provenance"]
    plan = from_json(document)
    assert (plan.provenance.old_kind, plan.provenance.old_model) == ("tf1_meta", None)
    assert all(e.stored_key == e.source and e.transforms == () for e in plan.restored)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_examples_fail_and_are_refused_when_read(path):
    assert schema_errors(json.loads(path.read_text()))
    fault = "not a valid graphdiff plan: at \\$"
    if path.stem == "wrong_format_version":  # format 2: a newer graphdiff's, not a broken one
        fault = "made by graphdiff .* \\(plan format 2\\).*: upgrade graphdiff to read it"
    with pytest.raises(BadInput, match=f"{path}: {fault}"):
        read_plan(path)
