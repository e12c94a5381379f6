"""Progress on standard error: shown to a person at a terminal, never in CI or with --quiet."""

from __future__ import annotations

import io
import sys
import time

from graphdiff.apply.progress import Progress, progress_wanted


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_wanted_only_at_a_terminal_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert progress_wanted(quiet=False)
    assert not progress_wanted(quiet=True)
    monkeypatch.setenv("CI", "true")
    assert not progress_wanted(quiet=False)
    monkeypatch.delenv("CI")
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a pipe or a file
    assert not progress_wanted(quiet=False)


def test_a_long_apply_shows_bytes_tensors_and_rate(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    progress = Progress(total_bytes=4 << 20, total_tensors=2, shown=True)
    time.sleep(1.6)  # the bar stays hidden for the first second and a half
    progress.add_bytes(1 << 20)
    progress.tensor_done()
    time.sleep(0.2)  # tqdm redraws at most every 0.1 s
    progress.add_bytes(1 << 20)
    text = terminal.getvalue()
    progress.close()
    assert "apply" in text and "1/2 tensors" in text
    assert "2.00M/4.00M" in text and "B/s" in text


def test_a_short_apply_prints_nothing(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    progress = Progress(total_bytes=100, total_tensors=1, shown=True)
    progress.add_bytes(100)
    progress.tensor_done()
    progress.close()
    assert terminal.getvalue() == ""
