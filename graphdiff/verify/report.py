"""What verify found: plain dataclasses, the comparison of two arrays, and their text and JSON.

`compare(old, new, tolerance)` gives a verdict and the largest differences; `VerifyReport`
holds one `TensorCheck` per compared tensor, the inputs fed and the restored variables no
compared tensor reads; `to_json()` is the machine-readable form, `format_text` the human one,
`failure_line` the one line the CLI prints when a tensor differs.

Differences: absolute |new - old|; relative |new - old| / max(|new|, |old|) (0 where both are
0). Integers are compared exactly (no float conversion). NaNs in the same places, and equal
infinities, count as equal; a NaN against a number is an infinite difference, which no
tolerance passes (an infinite one passes every finite difference). JSON has no infinity: an
infinite difference is written as the string "inf" (`json_number`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IDENTICAL, WITHIN, DIFFERS = "identical", "within_tolerance", "differs"
CUT_ORIGIN = "cut: fed the old graph's"  # an input that is a cut (frontier.py), not a source
_PAIRED = {
    "given": " (named with --tensor)",
    "outputs": " (model outputs, computed from the inputs)",
    "same_ops_after_cut": " (after a cut)",
    "misplaced": " (a restored variable at another's place)",
}
Tolerance = tuple[float, float] | None  # (atol, rtol); None: bit for bit


@dataclass(frozen=True)
class TensorCheck:
    new: str
    old: str
    shape: tuple[int, ...] | None  # the new tensor's shape
    max_abs_diff: float | None  # None: not numbers, or shapes differ
    max_rel_diff: float | None
    verdict: str  # IDENTICAL, WITHIN or DIFFERS
    compared: str  # "bits", or "atol=X rtol=Y"
    restored_upstream: tuple[str, ...] = ()  # new variables restored upstream, plan order
    suspects: tuple[str, ...] = ()  # of those, the ones not holding their source's value
    old_shape: tuple[int, ...] | None = None
    paired: str = "same_ops"  # "same_ops" (frontier), "same_ops_after_cut", "given", "outputs",
    # "misplaced" (a restored variable read where the old graph read another: note says which)
    note: str = ""


@dataclass(frozen=True)
class VerifyReport:
    verdict: str  # DIFFERS if any tensor differs, else WITHIN if any is only close, else IDENTICAL
    checkpoint: str  # the applied checkpoint verified
    old_checkpoint: str
    tensors: tuple[TensorCheck, ...]
    inputs: tuple = ()  # FedInput
    not_compared: tuple[str, ...] = ()  # restored model variables read by no compared tensor
    state_not_compared: int = 0  # restored optimizer slots and state: no forward op reads them
    variables_checked: int = 0  # restored variables upstream, read from both checkpoints
    variables_differing: tuple[str, ...] = ()  # of those, the ones not holding their source's

    @property
    def differing(self) -> tuple[TensorCheck, ...]:
        return tuple(check for check in self.tensors if check.verdict == DIFFERS)

    def to_json(self) -> dict:
        return {
            "verdict": self.verdict,
            "checkpoint": self.checkpoint,
            "old_checkpoint": self.old_checkpoint,
            "tensors": [_check_json(check) for check in self.tensors],
            "inputs": [
                {
                    "new": f.new,
                    "old": f.old,
                    "dtype": f.dtype,
                    "shape": list(f.shape),
                    "origin": f.origin,
                }
                for f in self.inputs
            ],
            "not_compared": list(self.not_compared),
            "optimizer_state_not_compared": self.state_not_compared,
            "restored_variables_checked": self.variables_checked,
            "restored_variables_differing": list(self.variables_differing),
        }


def _check_json(check: TensorCheck) -> dict:
    return {
        "old": check.old,
        "new": check.new,
        "shape": None if check.shape is None else list(check.shape),
        "max_abs_diff": json_number(check.max_abs_diff),
        "max_rel_diff": json_number(check.max_rel_diff),
        "verdict": check.verdict,
        "compared": check.compared,
        "paired": check.paired,
        "note": check.note or None,
        "restored_upstream": len(check.restored_upstream),
        "suspects": list(check.suspects),
    }


def json_number(value: float | None) -> float | str | None:
    """JSON has no infinity or NaN: those are written as the strings "inf" and "nan"."""
    if value is None or np.isfinite(value):
        return value
    return "nan" if np.isnan(value) else "inf" if value > 0 else "-inf"


def overall(checks) -> str:
    verdicts = {check.verdict for check in checks}
    return DIFFERS if DIFFERS in verdicts else WITHIN if WITHIN in verdicts else IDENTICAL


def compare(old: np.ndarray, new: np.ndarray, tolerance: Tolerance):
    """(verdict, max_abs_diff, max_rel_diff) of two fetched values."""
    old, new = np.asarray(old), np.asarray(new)
    if old.shape != new.shape or old.dtype != new.dtype:
        return DIFFERS, None, None
    if old.dtype == object:  # strings
        same = all(a == b for a, b in zip(old.ravel(), new.ravel(), strict=True))
        return (IDENTICAL if same else DIFFERS), None, None
    if old.tobytes() == new.tobytes():
        return IDENTICAL, 0.0, 0.0
    if old.dtype.kind in "biu":  # exactly: float64 cannot hold every int64 above 2**53
        a, diff = old, _integer_difference(old, new)
        scale = np.maximum(np.abs(old.astype(np.float64)), np.abs(new.astype(np.float64)))
    else:
        kind = np.complex128 if np.iscomplexobj(old) else np.float64
        a, b = old.astype(kind), new.astype(kind)
        same = (a == b) | (np.isnan(a) & np.isnan(b))  # equal infinities, NaNs in one place
        with np.errstate(invalid="ignore"):
            diff = np.where(same, 0.0, np.abs(b - a))
        diff = np.where(np.isnan(diff), np.inf, diff)
        scale = np.maximum(np.abs(a), np.abs(b))
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(diff == 0, 0.0, diff / scale)
    relative = np.where(np.isnan(relative), np.inf, relative)
    max_abs = float(diff.max()) if diff.size else 0.0
    max_rel = float(relative.max()) if relative.size else 0.0
    if not diff.any():  # equal values in other bits (-0.0 and 0.0, NaN payloads)
        return WITHIN, 0.0, 0.0
    if tolerance is not None and _within(diff, a, tolerance):
        return WITHIN, max_abs, max_rel
    return DIFFERS, max_abs, max_rel


def _integer_difference(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """|new - old| as uint64, exact (unsigned arithmetic wraps to the right difference)."""
    wide = np.uint64 if old.dtype.kind == "u" else np.int64
    a, b = old.astype(wide), new.astype(wide)
    with np.errstate(over="ignore"):
        up, down = (
            b.astype(np.uint64) - a.astype(np.uint64),
            a.astype(np.uint64) - b.astype(np.uint64),
        )
    return np.where(b >= a, up, down)


def _within(diff: np.ndarray, old: np.ndarray, tolerance: tuple[float, float]) -> bool:
    """Every difference within atol + rtol * |old|; an infinite tolerance lets any finite
    difference pass, never a NaN against a number or an infinity against anything else."""
    atol, rtol = tolerance
    finite = np.isfinite(diff)
    if np.isinf(atol) or np.isinf(rtol):
        return bool(finite.all())
    with np.errstate(invalid="ignore", over="ignore"):
        bound = atol + rtol * np.abs(old.astype(np.float64) if old.dtype.kind in "biu" else old)
        return bool((finite & (diff <= bound)).all())


def tolerance_text(tolerance: Tolerance) -> str:
    return "bits" if tolerance is None else f"atol={tolerance[0]:g} rtol={tolerance[1]:g}"


_SYMBOL = {IDENTICAL: "=", WITHIN: "~", DIFFERS: "!"}


def format_text(report: VerifyReport) -> str:
    lines = [f"verify {report.checkpoint} against {report.old_checkpoint}"]
    for check in report.tensors:
        lines.append(
            f"  {_SYMBOL[check.verdict]} {check.new}  {_shape(check.shape)}  {_how(check)}"
            + _PAIRED.get(check.paired, "")
        )
        if check.old != check.new:
            lines.append(f"      old: {check.old}")
        if check.verdict == DIFFERS:
            lines.append(f"      {_explanation(check)}")
    for fed in report.inputs:
        name = fed.new or f"{fed.old} (old graph only)"
        cut = fed.origin.startswith(CUT_ORIGIN)
        partner = f" (old {fed.old})" if fed.new and fed.old and fed.old != fed.new else ""
        partner = "" if cut else partner
        lines.append(f"input {name} {fed.dtype} {_shape(fed.shape)}: {fed.origin}{partner}")
    if report.not_compared:
        lines.append(
            f"not compared: {len(report.not_compared)} restored model variable(s) that no "
            f"compared tensor reads: {_some(report.not_compared)}"
        )
    if report.state_not_compared:
        lines.append(
            f"not compared: {report.state_not_compared} restored optimizer slot(s) and state "
            "(no forward op reads them; apply --verify checks their bytes)"
        )
    if report.variables_checked:
        lines.append(
            f"restored variables upstream, read from both sides: {report.variables_checked}"
            f", {len(report.variables_differing)} not holding their source's value"
            + (f": {_some(report.variables_differing)}" if report.variables_differing else "")
        )
    counts = {v: sum(c.verdict == v for c in report.tensors) for v in _SYMBOL}
    lines.append(
        f"Verify: {counts[IDENTICAL]} identical, {counts[WITHIN]} within tolerance, "
        f"{counts[DIFFERS]} differ."
    )
    return "\n".join(lines) + "\n"


def failure_line(report: VerifyReport) -> str:
    """One line: the first differing tensor and the restored variables that could explain it,
    or, when every tensor agrees, the restored variables that do not hold their source's value
    (the inputs fed do not show them: multiplied by zero, a relu of negatives)."""
    differing = report.differing
    if not differing:
        return (
            f"{_some(report.variables_differing)}: restored upstream of the compared tensors but "
            f"not holding its source's value in {report.checkpoint} (the compared tensors agree: "
            "on these inputs they do not depend on it)"
        )
    check = differing[0]
    more = f" (and {len(differing) - 1} more tensor(s))" if len(differing) > 1 else ""
    return f"{check.new} differs from the old graph's {check.old}{more}: {_explanation(check)}"


def _explanation(check: TensorCheck) -> str:
    if check.max_abs_diff is None:
        size = f"shape {_shape(check.old_shape)} before, {_shape(check.shape)} now"
    else:
        size = f"max abs diff {check.max_abs_diff:.3g}, max rel diff {check.max_rel_diff:.3g}"
    if check.note:
        return f"{size}; {check.note}"
    if check.suspects:
        return (
            f"{size}; restored upstream and not holding its source's value: {_some(check.suspects)}"
        )
    if check.restored_upstream:
        return (
            f"{size}; all {len(check.restored_upstream)} restored variable(s) upstream hold their "
            f"sources' values ({_some(check.restored_upstream)}), so the computation differs"
        )
    return size


def _how(check: TensorCheck) -> str:
    if check.verdict == IDENTICAL:
        return "bit for bit" if check.compared == "bits" else f"identical ({check.compared})"
    if check.verdict == WITHIN:
        return f"within {check.compared}: max abs diff {check.max_abs_diff:.3g}"
    return f"DIFFERS ({check.compared})"


def _shape(shape) -> str:
    return "?" if shape is None else "[" + ", ".join(str(d) for d in shape) + "]"


def _some(names, limit: int = 5) -> str:
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")
