"""`matchmaker event load-sample | schedule | export` on the test app's database."""

from __future__ import annotations

import io
import json
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from matchmaker.cli import app
from matchmaker.config import Settings
from matchmaker.services.samples import load_samples

runner = CliRunner()


def test_event_cli_loads_schedules_and_exports(
    client: TestClient, session: Session, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MATCHMAKER_DATA_DIR", str(settings.data_dir))
    if settings.database_url:
        monkeypatch.setenv("MATCHMAKER_DATABASE_URL", settings.database_url)
    else:
        monkeypatch.delenv("MATCHMAKER_DATABASE_URL", raising=False)
    load_samples(session, settings)
    session.commit()

    loaded = runner.invoke(app, ["event", "load-sample"])
    assert loaded.exit_code == 0, loaded.output
    event = client.get("/api/v1/events").json()["items"][0]
    eid = event["id"]
    assert client.post(f"/api/v1/events/{eid}/status", json={"status": "scheduling"}).status_code == 200
    assert client.post(f"/api/v1/events/{eid}/requests/propose", json={"per_need": 2}).json()["proposed"] > 0
    requests = client.get(f"/api/v1/events/{eid}/requests").json()["items"]
    for r in requests:
        for side in ("first", "second"):
            answer = client.post(
                f"/api/v1/events/{eid}/requests/{r['id']}/response", json={"decision": "accepted", "side": side}
            )
            assert answer.status_code == 200, answer.text

    scheduled = runner.invoke(app, ["event", "schedule", str(eid), "--time-limit", "5"])
    assert scheduled.exit_code == 0, scheduled.output
    report = json.loads(scheduled.stdout)
    assert report["placed"] > 0
    assert report["placed"] + len(report["unplaced"]) == report["accepted"] == len(requests)
    meetings = client.get(f"/api/v1/events/{eid}/schedule").json()["meetings"]
    assert len(meetings) == report["placed"]

    plan = tmp_path / "plan.xlsx"
    assert runner.invoke(app, ["event", "export", str(eid), "table-plan", "--out", str(plan)]).exit_code == 0
    sheet = openpyxl.load_workbook(io.BytesIO(plan.read_bytes())).worksheets[0]
    assert sheet.max_row - 1 == report["placed"]  # one row a meeting under the header

    participant = meetings[0]["first"]["participant_id"]
    ics = tmp_path / "agenda.ics"
    exported = runner.invoke(
        app, ["event", "export", str(eid), "agenda", "--participant", str(participant), "--out", str(ics)]
    )
    assert exported.exit_code == 0, exported.output
    assert ics.read_text(encoding="utf-8").startswith("BEGIN:VCALENDAR")

    wrong = runner.invoke(app, ["event", "export", str(eid), "agenda", "--out", str(tmp_path / "a.ics")])
    assert wrong.exit_code != 0  # an agenda needs --participant
    missing = runner.invoke(app, ["event", "schedule", "999999"])
    assert missing.exit_code == 1
    assert "999999" in missing.output
