"""Technology contracts and landing: validation, the 409s of the life cycle, the stored file, the masked 需方."""

from __future__ import annotations

import hashlib
import io
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.models import Match
from matchmaker.models.landing import TechContract
from tests.factories import achievement, demand

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 32


def contract_body(**overrides: Any) -> dict[str, Any]:
    """A valid contract body; override any field."""
    body: dict[str, Any] = {
        "contract_type": "技术许可",
        "title": "相变蓄冷材料专利实施许可合同",
        "signed_on": "2026-10-15",
        "term_start": "2026-11-01",
        "term_end": "2029-10-31",
        "total_wan": 180,
        "tech_wan": 150,
        "registration_no": "2026120000301234",
    }
    body.update(overrides)
    return body


def landing_body(**overrides: Any) -> dict[str, Any]:
    """A valid landing body; override any field."""
    body: dict[str, Any] = {
        "carrier_kind": "园区",
        "carrier_name": "天开高教科创园",
        "region": "天津",
        "landed_on": "2026-11-20",
        "funding": [{"fund": "天开园创业种子基金", "amount_wan": 100}, {"fund": "天使母基金", "amount_wan": "50万元"}],
    }
    body.update(overrides)
    return body


def make_pairing(client: TestClient, session: Session, status: str = "signed") -> int:
    """A pairing of a Beijing university's achievement with a Tianjin enterprise's need, at the given status."""
    a = client.post("/api/v1/achievements", json=achievement(region="北京")).json()["id"]
    d = client.post("/api/v1/demands", json=demand(region="天津")).json()["id"]
    match = Match(demand_id=d, achievement_id=a, rank=1, score=0.8, status=status, explanation={})
    session.add(match)
    session.commit()
    return match.id


@pytest.fixture
def signed(client: TestClient, session: Session) -> int:
    return make_pairing(client, session)


def _fields(response: Any) -> set[str]:
    return {f["field"] for f in response.json()["fields"]}


def test_parties_default_to_the_pairing_sides(client: TestClient, signed: int) -> None:
    response = client.post(f"/api/v1/matches/{signed}/contracts", json=contract_body())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["parties"] == [
        {"role": "供方", "name": "北方理工大学材料学院", "region": "北京", "kind": "高校"},
        {"role": "需方", "name": "津南医药物流有限公司", "region": "天津", "kind": "企业"},
    ]
    assert (body["total_wan"], body["tech_wan"], body["registration_no"]) == (180.0, 150.0, "2026120000301234")
    assert body["file"] is None
    listed = client.get(f"/api/v1/matches/{signed}/contracts").json()
    assert listed["total"] == 1
    # A second contract for the same pairing (a licence, then development).
    second = contract_body(contract_type="技术开发", title="二期联合开发合同", registration_no=None)
    assert client.post(f"/api/v1/matches/{signed}/contracts", json=second).status_code == 201
    assert client.get(f"/api/v1/matches/{signed}/contracts").json()["total"] == 2


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"tech_wan": 200}, "tech_wan"),
        ({"total_wan": -1}, "total_wan"),
        ({"contract_type": "技术合作"}, "contract_type"),
        ({"term_start": "2027-01-01", "term_end": "2026-12-31"}, "term_end"),
        ({"term_start": None, "term_end": "2026-01-01"}, "term_end"),
        ({"signed_on": (date.today() + timedelta(days=3)).isoformat()}, "signed_on"),
        ({"signed_on": "2026-13-01"}, "signed_on"),
        ({"parties": [{"role": "供方", "name": "北方理工大学", "region": "北京", "kind": "高校"}]}, "parties"),
        ({"parties": [{"role": "买方", "name": "某公司", "region": "天津"}]}, "parties.0.role"),
        ({"registration_no": "x" * 61}, "registration_no"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_contracts_answer_4xx_naming_the_field(
    client: TestClient, signed: int, session: Session, overrides: dict[str, Any], field: str
) -> None:
    response = client.post(f"/api/v1/matches/{signed}/contracts", json=contract_body(**overrides))
    assert response.status_code == 422, response.text
    assert field in _fields(response)
    assert session.scalar(select(TechContract.id)) is None  # nothing half-written


def test_tech_amount_above_total_says_so_in_chinese(client: TestClient, signed: int) -> None:
    response = client.post(f"/api/v1/matches/{signed}/contracts", json=contract_body(tech_wan=200))
    assert "技术交易额 (200 万元) 不能大于合同成交总额 (180 万元)" in response.json()["detail"]
    contract = client.post(f"/api/v1/matches/{signed}/contracts", json=contract_body()).json()
    patched = client.patch(f"/api/v1/contracts/{contract['id']}", json={"total_wan": 100})
    assert patched.status_code == 422
    assert _fields(patched) == {"tech_wan"}
    assert client.patch(f"/api/v1/contracts/{contract['id']}", json={"total_wan": None}).status_code == 422
    ok = client.patch(f"/api/v1/contracts/{contract['id']}", json={"total_wan": 160, "registration_no": "津2026-01"})
    assert (ok.status_code, ok.json()["total_wan"], ok.json()["registration_no"]) == (200, 160.0, "津2026-01")


def test_no_contract_before_signing(client: TestClient, session: Session) -> None:
    meeting = make_pairing(client, session, status="meeting")
    response = client.post(f"/api/v1/matches/{meeting}/contracts", json=contract_body())
    assert response.status_code == 409
    assert "签约" in response.json()["detail"]
    assert client.post("/api/v1/matches/999999/contracts", json=contract_body()).status_code == 404


def test_landing_without_a_contract_is_refused_with_the_reason(client: TestClient, signed: int) -> None:
    moved = client.patch(f"/api/v1/matches/{signed}", json={"status": "landed"})
    assert moved.status_code == 409
    assert moved.json()["missing"] == ["contract", "landing"]
    assert "没有技术合同" in moved.json()["detail"]
    landed = client.post(f"/api/v1/matches/{signed}/landing", json=landing_body())
    assert landed.status_code == 409
    assert landed.json()["missing"] == ["contract", "landing"]
    assert client.get(f"/api/v1/matches/{signed}").json()["status"] == "signed"
    assert client.get(f"/api/v1/matches/{signed}/landing").status_code == 404


def test_contract_then_landing_moves_the_pairing_to_landed(client: TestClient, signed: int) -> None:
    contract = client.post(f"/api/v1/matches/{signed}/contracts", json=contract_body()).json()
    # A contract alone does not land the pairing: the carrier is still missing.
    moved = client.patch(f"/api/v1/matches/{signed}", json={"status": "landed"})
    assert (moved.status_code, moved.json()["missing"]) == (409, ["landing"])
    early = client.post(f"/api/v1/matches/{signed}/landing", json=landing_body(landed_on="2026-10-01"))
    assert early.status_code == 422
    assert _fields(early) == {"landed_on"}
    bad_fund = client.post(
        f"/api/v1/matches/{signed}/landing", json=landing_body(funding=[{"fund": "种子基金", "amount_wan": -5}])
    )
    assert (bad_fund.status_code, _fields(bad_fund)) == (422, {"funding.0.amount_wan"})
    bad_kind = client.post(f"/api/v1/matches/{signed}/landing", json=landing_body(carrier_kind="孵化器"))
    assert (bad_kind.status_code, _fields(bad_kind)) == (422, {"carrier_kind"})
    response = client.post(f"/api/v1/matches/{signed}/landing", json=landing_body())
    assert response.status_code == 201, response.text
    landing = response.json()
    assert (landing["carrier_name"], landing["funding_total_wan"]) == ("天开高教科创园", 150.0)
    pairing = client.get(f"/api/v1/matches/{signed}").json()
    assert pairing["status"] == "landed"
    history = client.get(f"/api/v1/matches/{signed}/history").json()["items"]
    assert (history[-1]["from"], history[-1]["to"], history[-1]["note"]) == ("signed", "landed", "落地：天开高教科创园")
    assert client.post(f"/api/v1/matches/{signed}/landing", json=landing_body()).status_code == 409
    corrected = client.patch(f"/api/v1/matches/{signed}/landing", json={"carrier_name": "天开园核心区"})
    assert corrected.json()["carrier_name"] == "天开园核心区"
    # The last contract of a landed pairing stays.
    deleted = client.delete(f"/api/v1/contracts/{contract['id']}")
    assert deleted.status_code == 409
    second = client.post(f"/api/v1/matches/{signed}/contracts", json=contract_body(title="补充协议")).json()
    assert client.delete(f"/api/v1/contracts/{second['id']}").status_code == 204


def test_contract_file_is_checked_by_content_and_stored_beside_the_data(
    client: TestClient, signed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = client.app.state.settings  # type: ignore[attr-defined]
    contract = client.post(f"/api/v1/matches/{signed}/contracts", json=contract_body()).json()
    url = f"/api/v1/contracts/{contract['id']}/file"
    assert client.get(url).status_code == 404
    renamed = client.put(url, files={"file": ("合同.pdf", io.BytesIO(b"just some text, not a pdf"))})
    assert (renamed.status_code, _fields(renamed)) == (415, {"file"})
    empty = client.put(url, files={"file": ("合同.pdf", io.BytesIO(b""))})
    assert empty.status_code == 422
    stored = client.put(url, files={"file": ("签字版合同.pdf", io.BytesIO(PDF))})
    assert stored.status_code == 200, stored.text
    assert stored.json()["file"]["name"] == "签字版合同.pdf"
    assert (stored.json()["file"]["type"], stored.json()["file"]["size"]) == ("pdf", len(PDF))
    digest = hashlib.sha256(PDF).hexdigest()
    assert stored.json()["file"]["sha256"] == digest
    assert (settings.data_dir / "contracts" / str(contract["id"]) / f"{digest[:32]}.pdf").read_bytes() == PDF
    download = client.get(url)
    assert (download.status_code, download.content) == (200, PDF)
    assert download.headers["content-type"] == "application/pdf"
    image = client.put(url, files={"file": ("scan.pdf", io.BytesIO(PNG))})  # the content decides, not the name
    assert image.json()["file"]["type"] == "png"
    assert client.get(url).headers["content-type"] == "image/png"
    monkeypatch.setattr(settings, "max_contract_file_mb", 0.00001)
    too_big = client.put(url, files={"file": ("big.pdf", io.BytesIO(PDF))})
    assert (too_big.status_code, _fields(too_big)) == (413, {"file"})
