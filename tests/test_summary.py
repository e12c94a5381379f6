"""The lines `graphdiff plan` prints for a person: totals, scopes, rules, the notable variables."""

from __future__ import annotations

from plan_factory import initialized, make_plan, restored, sample_plan

from graphdiff.view.summary import format_summary


def test_summary_names_totals_scopes_rules_and_resolved_shapes():
    text = format_summary(sample_plan())
    lines = text.splitlines()
    assert lines[0] == "5 of 8 variables restored, 3 initialized; 2 checkpoint keys unused"
    assert "  shared: B -> tower/B, (root)" in lines
    assert "  new: C" in lines and "  removed: Output1" in lines
    assert "  rule (inferred, 2 variables): B/ -> tower/B/" in lines
    assert "  shape of tower/B/biases taken from 'B/biases': [4]" in lines
    assert "  initialized A/gamma: no counterpart in the checkpoint" in lines


def test_per_variable_lines_are_capped_at_ten():
    plan = make_plan(
        variables=tuple(restored(f"L{i}/b", resolved=True) for i in range(13))
        + tuple(initialized(f"M{i}/w", reason="shape [2] in the new graph") for i in range(3))
    )
    lines = format_summary(plan).splitlines()
    resolved = [line for line in lines if line.startswith("  shape of ")]
    assert len(resolved) == 10
    assert "  ... and 3 more like these in the plan" in lines
    assert sum(line.startswith("  initialized M") for line in lines) == 3
