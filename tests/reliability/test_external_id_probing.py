"""Item 13: another organisation's external_id cannot be probed through a 409 on create, update or import: an
external_id is unique within its organisation, and another organisation's ids are another namespace."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.factories import demand

D = "/api/v1/demands"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _csv(*external_ids: str) -> bytes:
    rows = [f"{e},冷链配送温度超标 {e},末端配送箱内温度超过8℃，需保持2～8℃。,生物医药,天津" for e in external_ids]
    return ("external_id,title,description,field,region\n" + "\n".join(rows) + "\n").encode()


def test_another_organisations_ids_answer_as_if_free(client: TestClient, make_user: Callable[..., str]) -> None:
    first = _auth(make_user("enterprise", "津南医药物流有限公司"))
    second = _auth(make_user("enterprise", "河北冷链装备有限公司"))
    for ext in ("P-1", "P-2", "P-3"):
        assert client.post(D, json=demand(external_id=ext), headers=first).status_code == 201
    # create: the same id in another organisation is simply created
    assert client.post(D, json=demand(external_id="P-1"), headers=second).status_code == 201
    # update: renaming one's own record to another organisation's id works
    own = client.post(D, json=demand(external_id="Q-1"), headers=second).json()["id"]
    assert client.patch(f"{D}/{own}", json={"external_id": "P-2"}, headers=second).status_code == 200
    # import: the row creates the second organisation's own record and leaves the first's alone
    report = client.post(
        "/api/v1/imports/demands", files={"file": ("d.csv", _csv("P-3"), "text/csv")}, headers=second
    ).json()
    assert (report["created"], report["updated"], report["errors"]) == (1, 0, [])
    items = client.get(D, params={"q": "P-"}, headers=first).json()["items"]
    firsts = {d["external_id"]: d["title"] for d in items if d["enterprise"] == "津南医药物流有限公司"}
    assert firsts == {ext: demand()["title"] for ext in ("P-1", "P-2", "P-3")}  # none taken over or overwritten


def test_an_organisations_own_ids_stay_unique(client: TestClient, make_user: Callable[..., str]) -> None:
    member = _auth(make_user("enterprise", "津南医药物流有限公司"))
    created = client.post(D, json=demand(external_id="U-1"), headers=member)
    assert created.status_code == 201
    again = client.post(D, json=demand(external_id="U-1"), headers=member)
    assert again.status_code == 409
    assert again.json()["fields"][0]["field"] == "external_id"
    other = client.post(D, json=demand(external_id="U-2"), headers=member).json()["id"]
    assert client.patch(f"{D}/{other}", json={"external_id": "U-1"}, headers=member).status_code == 409
    report = client.post(
        "/api/v1/imports/demands", files={"file": ("d.csv", _csv("U-1"), "text/csv")}, headers=member
    ).json()
    assert (report["created"], report["updated"]) == (0, 1)  # an import updates one's own record by its id
