"""`matchmaker worker`: it needs a broker to take jobs from."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from matchmaker.cli import app


def test_worker_without_a_broker_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MATCHMAKER_JOB_BROKER", raising=False)
    result = CliRunner().invoke(app, ["worker"])
    assert result.exit_code == 2
    assert "MATCHMAKER_JOB_BROKER" in result.output


def test_worker_refuses_a_negative_process_count() -> None:
    assert CliRunner().invoke(app, ["worker", "--processes", "-1"]).exit_code == 2
