"""The plan's JSON Schema is a shipped contract: example plans that must pass and must fail."""

from __future__ import annotations

import copy
import functools
import json
import operator
import random
from pathlib import Path

import jsonschema
import pytest

from graphdiff.errors import BadInput
from graphdiff.plan import from_json, to_json
from graphdiff.plan_io import read_plan
from graphdiff.schema import _fast_validator, plan_schema, schema_errors

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
    if "sources" not in document["provenance"]:  # format 2 keeps these per source
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


@pytest.mark.parametrize("path", VALID + INVALID, ids=lambda p: p.stem)
def test_the_fast_validator_agrees_with_jsonschema(path):
    """jsonschema-rs decides validity (jsonschema words the faults): both must say the same."""
    document = json.loads(path.read_text())
    slow = jsonschema.Draft202012Validator(
        plan_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    assert _fast_validator().is_valid(document) == slow.is_valid(document) == (path in VALID)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_examples_fail_and_are_refused_when_read(path):
    assert schema_errors(json.loads(path.read_text()))
    fault = "not a valid graphdiff plan: (at \\$|variable |unused key )"
    if path.stem == "wrong_format_version":  # format 3: a newer graphdiff's, not a broken one
        fault = "made by graphdiff .* \\(plan format 3\\).*: upgrade graphdiff to read it"
    with pytest.raises(BadInput, match=f"{path}: {fault}"):
        read_plan(path)


def test_no_plan_the_fast_validator_accepts_is_refused_by_jsonschema():
    """Hand-edited plans, simulated: 600 random edits of the valid examples (a field deleted,
    added, or set to a value of another type or format). Whenever jsonschema-rs accepts one,
    jsonschema must too, since an accepted plan is not checked again. (The other way round is
    safe: jsonschema then decides, as it words the faults.)"""
    slow = jsonschema.Draft202012Validator(
        plan_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    examples = [json.loads(path.read_text()) for path in VALID]
    values = [None, 0, -1, 1.5, "", "x", "2026-13-45T00:00:00Z", [], {}, True, 10**30]
    rng = random.Random(6)
    accepted = 0
    for _ in range(600):
        document = copy.deepcopy(rng.choice(examples))
        places = list(_places(document))
        *parents, last = rng.choice(places)
        parent = functools.reduce(operator.getitem, parents, document)
        roll = rng.random()
        if roll < 0.3 and isinstance(parent, dict):
            del parent[last]
        elif roll < 0.4 and isinstance(parent, dict):
            parent[f"{last}_extra"] = 1
        else:
            parent[last] = rng.choice(values)
        if _fast_validator().is_valid(document):
            accepted += 1
            assert slow.is_valid(document), (parents, last)
    assert 0 < accepted < 600  # both kinds of edit were tried


def _places(node, prefix=()):
    """The path of every value below the document's root."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        yield (*prefix, key)
        if isinstance(value, dict | list):
            yield from _places(value, (*prefix, key))


def test_a_fault_in_a_hand_edited_entry_names_the_variable_or_key(tmp_path):
    """A reviewer edits a plan by variable name, not by index ($.variables[4].source)."""
    document = json.loads((EXAMPLES / "valid" / "sample.json").read_text())
    first = document["variables"][0]
    first["action"] = "copy"
    document["unused"][0]["reason"] = 7
    errors = schema_errors(document)
    assert sorted(errors) == [
        f"unused key {document['unused'][0]['key']}, reason: 7 is not of type 'string' "
        "(at $.unused[0].reason)",
        f"variable {first['name']}, action: 'copy' is not one of ['restore', 'initialize'] "
        "(at $.variables[0].action)",
    ]
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document))
    with pytest.raises(BadInput, match="not a valid graphdiff plan: (variable|unused key) "):
        read_plan(path)
