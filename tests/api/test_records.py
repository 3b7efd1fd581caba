"""CRUD and list routes of both lists, against every test database."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.models import RecordChange
from tests.factories import achievement, demand

A = "/api/v1/achievements"
D = "/api/v1/demands"


def test_create_returns_201_with_id_and_derived_fields(client: TestClient) -> None:
    response = client.post(A, json=achievement())
    assert response.status_code == 201, response.text
    body = response.json()
    assert isinstance(body["id"], int)
    assert body["title"] == "相变蓄冷材料及冷链运输箱温控技术"
    assert body["status"] == "active"
    assert body["language"] == "zh-Hans"
    assert body["source"] == "api"
    assert len(body["content_hash"]) == 64
    assert body["price_wan"] == 150.0
    assert client.get(f"{A}/{body['id']}").json()["external_id"] == "BJ-T-001"


def test_create_demand_defaults(client: TestClient) -> None:
    body = client.post(D, json=demand(confidential=True, bounty_wan="50")).json()
    assert body["status"] == "open"
    assert body["confidential"] is True
    assert body["bounty_wan"] == 50.0
    assert body["deadline"] == "2027-06-30"


def test_bad_field_answers_422_naming_it(client: TestClient) -> None:
    response = client.post(A, json=achievement(trl=12, region="上海"))
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    named = {f["field"] for f in body["fields"]}
    assert named == {"trl", "region"}
    assert "region must be one of" in response.text


def test_unknown_and_missing_fields_are_named(client: TestClient) -> None:
    body = achievement(colour="red")
    del body["title"]
    response = client.post(A, json=body)
    assert response.status_code == 422
    fields = {f["field"]: f["message"] for f in response.json()["fields"]}
    assert fields["colour"] == "unknown field"
    assert "title" in fields


def test_traditional_enumerations_are_normalised(client: TestClient) -> None:
    body = client.post(A, json=achievement(field="生物醫藥", transfer_modes=["許可", "技術服務", "許可"])).json()
    assert body["field"] == "生物医药"
    assert body["transfer_modes"] == ["许可", "技术服务"]


def test_list_strings_and_full_width_numbers(client: TestClient) -> None:
    body = client.post(A, json=achievement(keywords="冷链、相变，蓄冷;保温", trl="７", price_wan="１２０万元")).json()
    assert body["keywords"] == ["冷链", "相变", "蓄冷", "保温"]
    assert body["trl"] == 7
    assert body["price_wan"] == 120.0


def test_duplicate_external_id_is_409_and_nothing_written(client: TestClient, session: Session) -> None:
    assert client.post(A, json=achievement()).status_code == 201
    response = client.post(A, json=achievement(title="另一个"))
    assert response.status_code == 409
    assert response.json()["fields"][0]["field"] == "external_id"
    assert client.get(A).json()["total"] == 1
    assert len(session.scalars(select(RecordChange)).all()) == 1


def test_unknown_id_is_404(client: TestClient) -> None:
    for method in ("get", "patch", "delete"):
        kwargs = {"json": {"min_trl": 5}} if method == "patch" else {}
        response = getattr(client, method)(f"{D}/999999", **kwargs)
        assert response.status_code == 404
        assert response.json() == {"error": "not_found", "detail": "demand 999999 not found", "fields": []}


def test_patch_changes_fields_and_hash(client: TestClient) -> None:
    created = client.post(A, json=achievement()).json()
    patched = client.patch(f"{A}/{created['id']}", json={"summary": "新的简介", "trl": 8}).json()
    assert patched["trl"] == 8
    assert patched["summary"] == "新的简介"
    assert patched["content_hash"] != created["content_hash"]
    assert patched["owner"] == created["owner"]


def test_patch_with_bad_value_changes_nothing(client: TestClient) -> None:
    created = client.post(A, json=achievement()).json()
    response = client.patch(f"{A}/{created['id']}", json={"trl": 5, "region": "火星"})
    assert response.status_code == 422
    assert client.get(f"{A}/{created['id']}").json()["trl"] == 7
    null_title = client.patch(f"{A}/{created['id']}", json={"title": None})
    assert null_title.status_code == 422
    assert null_title.json()["fields"][0]["field"] == "title"


def test_patch_external_id_conflict(client: TestClient) -> None:
    client.post(A, json=achievement())
    other = client.post(A, json=achievement(external_id="BJ-T-002")).json()
    assert client.patch(f"{A}/{other['id']}", json={"external_id": "BJ-T-001"}).status_code == 409


def test_delete(client: TestClient, session: Session) -> None:
    created = client.post(D, json=demand()).json()
    assert client.delete(f"{D}/{created['id']}").status_code == 204
    assert client.get(f"{D}/{created['id']}").status_code == 404
    ops = [c.op for c in session.scalars(select(RecordChange).order_by(RecordChange.id))]
    assert ops == ["upsert", "delete"]


def _seed(client: TestClient) -> None:
    rows = [
        achievement(external_id="A1", field="新材料", region="北京", trl=7, title="相变蓄冷材料"),
        achievement(external_id="A2", field="新能源", region="河北", trl=4, title="钠离子电池正极材料"),
        achievement(external_id="A3", field="新材料", region="天津", trl=9, title="高熵合金涂层", status="archived"),
        achievement(external_id="A4", field="信创", region="北京", trl=None, title="國產資料庫中介軟體"),
    ]
    for row in rows:
        assert client.post(A, json=row).status_code == 201


def test_list_filters(client: TestClient) -> None:
    _seed(client)

    def ids(**params: object) -> list[str]:
        body = client.get(A, params=params).json()
        return [item["external_id"] for item in body["items"]]

    assert ids(field="新材料") == ["A1", "A3"]
    assert ids(field=["新材料", "新能源"], region="北京") == ["A1"]
    assert ids(status="archived") == ["A3"]
    assert ids(trl_min=5) == ["A1", "A3"]
    assert ids(trl_min=4, trl_max=7) == ["A1", "A2"]
    assert ids(external_id="A2") == ["A2"]
    assert ids(q="蓄冷") == ["A1"]
    assert ids(q="数据库") == ["A4"]  # a Simplified query finds a Traditional record
    assert ids(field="新材料", region="天津") == ["A3"]


def test_list_pagination_and_sort(client: TestClient) -> None:
    _seed(client)
    page = client.get(A, params={"limit": 2, "offset": 1, "sort": "-trl"}).json()
    assert page["total"] == 4
    assert page["limit"] == 2
    assert [i["external_id"] for i in page["items"]] == ["A1", "A2"]
    last = client.get(A, params={"sort": "-trl", "limit": 1, "offset": 3}).json()
    assert last["items"][0]["external_id"] == "A4"  # records without trl sort last


def test_list_rejects_bad_parameters(client: TestClient) -> None:
    assert client.get(A, params={"limit": 201}).status_code == 422
    assert client.get(A, params={"offset": -1}).status_code == 422
    bad_sort = client.get(A, params={"sort": "colour"})
    assert bad_sort.status_code == 422
    assert bad_sort.json()["fields"][0]["field"] == "sort"
    typo = client.get(A, params={"feild": "新材料"})
    assert typo.status_code == 422
    assert typo.json()["fields"] == [{"field": "feild", "message": "unknown parameter"}]
    assert client.get(A, params={"field": "火星产业"}).json()["fields"][0]["field"] == "field"
    assert client.get(D, params={"status": "active"}).status_code == 422  # demands are open/closed, not active
    assert client.get(A, params={"trl_min": 8, "trl_max": 3}).status_code == 422


def test_demand_filters_use_min_trl(client: TestClient) -> None:
    client.post(D, json=demand(external_id="D1", min_trl=6))
    client.post(D, json=demand(external_id="D2", min_trl=3))
    body = client.get(D, params={"trl_min": 5}).json()
    assert [i["external_id"] for i in body["items"]] == ["D1"]


def test_language_detection(client: TestClient) -> None:
    english = client.post(
        A,
        json=achievement(
            external_id="E1",
            title="Laser cladding repair of turbine blades",
            summary="Laser cladding with Ni-based powder restores worn blades.",
            keywords=["laser cladding"],
        ),
    ).json()
    traditional = client.post(
        A,
        json=achievement(
            external_id="T1",
            title="發酵過程線上監測系統",
            summary="實現發酵罐溶氧、酸鹼度的線上監測與自動控制。",
            keywords=["發酵"],
        ),
    ).json()
    assert english["language"] == "en"
    assert traditional["language"] == "zh-Hant"
