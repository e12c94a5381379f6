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


def slot(name: str, action: str = "restore"):
    """An Adam slot of `name`, restored from its own key or initialized."""
    from dataclasses import replace

    entry = restored(f"{name}/Adam") if action == "restore" else initialized(f"{name}/Adam")
    return replace(entry, role="slot", slot_of=name)


def numbers(line: str) -> list[int]:
    import re

    return [int(n) for n in re.findall(r"\d+", line)]


def test_plan_show_and_the_picture_count_variables_alike():
    """One definition: every variable of the new graph, optimizer state included (plan said
    '15 of 21 variables restored' while show said 'Plan: 4 to restore')."""
    from graphdiff.view.diffview import build_view
    from graphdiff.view.show import format_text

    plan = make_plan(
        variables=(
            restored("A/w"),
            slot("A/w"),
            restored("B/w"),
            slot("B/w", "initialize"),
            initialized("C/w"),
            slot("C/w", "initialize"),
        )
    )
    summary = format_summary(plan).splitlines()[0]
    count = format_text(build_view(plan)).splitlines()[-1]
    assert summary == "3 of 6 variables restored, 3 initialized; 0 checkpoint keys unused"
    assert count == "Plan: 3 to restore, 3 to initialize, 0 checkpoint keys unused."


def test_a_scope_restored_whole_is_shared_in_the_plan_as_in_show():
    """Keras's `A/kernel` from TF1's `A/w`: scope A comes whole from scope A (the plan's scopes
    said partial while show and the picture said shared)."""
    from graphdiff.scopes import summarize
    from graphdiff.view.diffview import build_view

    variables = (
        restored("A/kernel", "A/w"),
        restored("A/bias", "A/b"),
        restored("B/kernel", "B/w"),
        restored("B/bias", "enc/B/b"),  # from two old scopes: shared, from none in particular
        initialized("C/kernel"),
    )
    scopes = summarize(list(variables), [], {None: ["A/w", "A/b", "B/w", "enc/B/b"]})
    status = {s.new: (s.status, s.old) for s in scopes if s.new}
    assert status == {"A": ("shared", "A"), "B": ("shared", None), "C": ("new", None)}
    plan = make_plan(variables=variables, scopes=scopes)
    assert "  shared: A, B" in format_summary(plan).splitlines()
    rows = {box.key: box.status for box in build_view(plan).boxes("new")}
    assert rows == {"A": "shared", "B": "shared", "C": "new"}
