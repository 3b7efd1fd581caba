"""Progress of long commands: a bar in a terminal, log lines elsewhere, nothing with --quiet."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from matchmaker import cli_common
from matchmaker.cli_common import progress_reporter


def _console(monkeypatch: pytest.MonkeyPatch, *, terminal: bool) -> io.StringIO:
    buffer = io.StringIO()
    monkeypatch.setattr(cli_common, "console", Console(file=buffer, force_terminal=terminal, width=100))
    return buffer


def test_log_lines_when_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    out = _console(monkeypatch, terminal=False)
    with progress_reporter("ranking", every_s=3600) as report:
        for done in range(1, 11):
            report(done, 10)
    # the first call, then nothing for an hour, then the last one
    assert out.getvalue().splitlines() == ["ranking: 1/10 (10%)", "ranking: 10/10 (100%)"]


def test_a_progress_bar_in_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    out = _console(monkeypatch, terminal=True)
    with progress_reporter("embedding achievements") as report:
        report(5, 10)
    text = out.getvalue()
    assert "embedding achievements" in text
    assert "\x1b[" in text  # drawn with terminal control sequences, not logged
    assert "5/10" in text


@pytest.mark.parametrize("terminal", [True, False])
def test_quiet_prints_nothing(monkeypatch: pytest.MonkeyPatch, terminal: bool) -> None:
    out = _console(monkeypatch, terminal=terminal)
    with progress_reporter("importing demands", quiet=True) as report:
        report(1, 2)
        report(2, 2)
    assert out.getvalue() == ""
