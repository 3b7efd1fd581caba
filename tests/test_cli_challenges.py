"""`matchmaker challenges publish | export`: the 榜单 spreadsheet and printable page."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from matchmaker import db
from matchmaker.cli import app
from matchmaker.config import Settings
from matchmaker.models.challenges import ChallengeExpert
from matchmaker.schemas.challenges import ChallengeCreate, Move
from matchmaker.services import challenge_flow, challenges
from matchmaker.services.auth import create_user
from tests.challenge_factories import challenge
from tests.sheets import assert_office_xlsx

runner = CliRunner()


@pytest.fixture
def vetted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    monkeypatch.setenv("MATCHMAKER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MATCHMAKER_DATABASE_URL", raising=False)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    settings = Settings()
    engine = db.create_db_engine(settings)
    ids = []
    with db.unit_of_work(db.create_session_factory(engine)) as session:
        expert = create_user(session, email="expert@test.example", role="expert", org="专家库")
        for n, confidential in enumerate((False, True)):
            body = challenge(external_id=f"JB-T-{n}", confidential=confidential, issuers=[f"津门装备{n}有限公司"])
            cid = challenges.create(session, ChallengeCreate.model_validate(body), None)
            challenge_flow.move(session, cid, Move(to="vetting"), None)
            session.add(ChallengeExpert(challenge_id=cid, user_id=expert.id, vetting_ok=True))
            ids.append(cid)
    engine.dispose()
    return ids


def test_publish_and_export_board(vetted: list[int], tmp_path: Path) -> None:
    unpublished = runner.invoke(
        app, ["challenges", "export", "--out", str(tmp_path / "x.xlsx"), "--id", str(vetted[0])]
    )
    assert unpublished.exit_code == 1
    for cid in vetted:
        result = runner.invoke(app, ["challenges", "publish", str(cid)])
        assert result.exit_code == 0, result.output
    again = runner.invoke(app, ["challenges", "publish", str(vetted[0])])
    assert again.exit_code == 1
    assert "allowed" in again.output

    xlsx = tmp_path / "board.xlsx"
    assert runner.invoke(app, ["challenges", "export", "--out", str(xlsx)]).exit_code == 0
    sheet = assert_office_xlsx(xlsx.read_bytes()).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["榜单编号", "榜单名称", "发榜单位"]
    assert "榜额（万元）" in header
    assert sheet.freeze_panes == "A2"
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["JB-T-0"]["发榜单位"] == "津门装备0有限公司"
    assert rows["JB-T-1"]["发榜单位"] == "（保密榜单）"
    assert rows["JB-T-0"]["申报截止日期"].date() == date.today() + timedelta(days=30)
    assert rows["JB-T-0"]["榜额（万元）"] == 300
    assert rows["JB-T-0"]["考核指标"] == "缺陷检出率 ≥ 98 %；单米检测时间 ≤ 30 s"
    assert not any(str(v).startswith("=") for r in rows.values() for v in r.values())

    page = tmp_path / "board.html"
    assert runner.invoke(app, ["challenges", "export", "--out", str(page)]).exit_code == 0
    text = page.read_text(encoding="utf-8")
    assert "大厚度铝合金搅拌摩擦焊缝缺陷在线检测" in text
    assert "津门装备1有限公司" not in text
    assert "@media print" in text


def test_demo_loads_published_sample_challenges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import select

    from matchmaker.models import Demand
    from matchmaker.models.challenges import Challenge, ChallengeIndicator

    monkeypatch.setenv("MATCHMAKER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MATCHMAKER_DATABASE_URL", raising=False)
    first = runner.invoke(app, ["demo"])
    assert first.exit_code == 0, first.output
    assert "3 challenges created" in first.output
    assert "0 challenges created" in runner.invoke(app, ["demo"]).output  # idempotent
    engine = db.create_db_engine(Settings())
    with db.unit_of_work(db.create_session_factory(engine)) as session:
        rows = list(session.scalars(select(Challenge).order_by(Challenge.external_id)))
        assert [c.stage for c in rows] == ["published"] * 3
        need = session.scalar(select(Demand).where(Demand.id == rows[1].demand_ids[0]))
        assert need is not None
        assert need.external_id == "TJ-P2-D-2025-017"
        assert rows[1].confidential  # built from a confidential need, and said so
        assert rows[1].issuers == [need.enterprise]
        assert len(list(session.scalars(select(ChallengeIndicator)))) == 9
    engine.dispose()
    out = tmp_path / "board.html"
    assert runner.invoke(app, ["challenges", "export", "--out", str(out)]).exit_code == 0
    assert "天津滨海航空结构装配有限公司" not in out.read_text(encoding="utf-8")
