"""/api/v1/duplicates: scan, groups, merge, undo, not duplicates; ranked lists show one record per group."""

from __future__ import annotations

from fastapi.testclient import TestClient

from matchmaker.search.text import to_traditional
from tests.factories import achievement, demand

D = "/api/v1/duplicates"


def _copies(client: TestClient) -> dict[str, int]:
    body = achievement()
    trad = {
        **body,
        "external_id": "TJ-COPY-1",
        "title": to_traditional(str(body["title"]))[1],
        "summary": to_traditional(str(body["summary"]))[1],
    }
    other = achievement(
        external_id="BJ-OTHER-1",
        title="冷链物流车厢多温区精准控温系统",
        summary="车载多温区控温，-25℃～15℃分区可调，温度波动±0.5℃，适用于医药与生鲜冷链配送。",
        field="新材料",
    )
    return {
        "a": client.post("/api/v1/achievements", json=body).json()["id"],
        "b": client.post("/api/v1/achievements", json=trad).json()["id"],
        "x": client.post("/api/v1/achievements", json=other).json()["id"],
        "need": client.post("/api/v1/demands", json=demand()).json()["id"],
    }


def test_review_cycle(client: TestClient) -> None:
    ids = _copies(client)
    scan = client.post(f"{D}/scan", json={"kind": "achievements"})
    assert scan.status_code == 200, scan.text
    assert scan.json() == {"kind": "achievements", "records": 3, "pairs": 1, "groups": 1, "new_pairs": 1}
    groups = client.get(D, params={"kind": "achievements"}).json()
    assert groups["total"] == 1
    group = groups["items"][0]
    assert [r["id"] for r in group["records"]] == [ids["a"], ids["b"]]
    assert group["pairs"][0]["evidence"]["cosine"] > 0.8  # the app's cached embeddings were used
    assert {r["language"] for r in group["records"]} == {"zh-Hans", "zh-Hant"}

    merged = client.post(f"{D}/merge", json={"kind": "achievements", "survivor_id": ids["a"], "record_ids": [ids["b"]]})
    assert merged.status_code == 201, merged.text
    assert merged.json()["merged_ids"] == [ids["b"]]
    assert client.get(f"/api/v1/achievements/{ids['b']}").json()["status"] == "archived"
    assert client.get(D, params={"kind": "achievements"}).json()["total"] == 0
    assert [m["id"] for m in client.get(f"{D}/merges").json()["items"]] == [merged.json()["id"]]

    undone = client.post(f"{D}/merges/{merged.json()['id']}/undo")
    assert undone.status_code == 200
    assert undone.json()["status"] == "undone"
    assert client.get(f"/api/v1/achievements/{ids['b']}").json()["status"] == "active"
    assert client.post(f"{D}/merges/{merged.json()['id']}/undo").status_code == 409

    marked = client.post(f"{D}/not-duplicates", json={"kind": "achievements", "record_ids": [ids["a"], ids["b"]]})
    assert marked.json() == {"kind": "achievements", "pairs": 1}
    assert client.get(D, params={"kind": "achievements"}).json()["total"] == 0
    assert client.post(f"{D}/scan", json={"kind": "achievements"}).json()["pairs"] == 0


def test_bad_requests_name_the_field(client: TestClient) -> None:
    response = client.get(D, params={"kind": "matches"})
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "kind"
    response = client.post(f"{D}/merge", json={"kind": "achievements", "survivor_id": 1, "record_ids": []})
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "record_ids"
    response = client.post(f"{D}/not-duplicates", json={"kind": "demands", "record_ids": [1]})
    assert response.status_code == 422


def test_ranked_lists_show_one_record_per_group(client: TestClient) -> None:
    ids = _copies(client)
    every = client.get(f"/api/v1/demands/{ids['need']}/matches", params={"k": 3, "collapse": "false"}).json()["items"]
    assert {i["achievement"]["id"] for i in every} == {ids["a"], ids["b"], ids["x"]}
    client.post(f"{D}/scan", json={"kind": "achievements"})
    collapsed = client.get(f"/api/v1/demands/{ids['need']}/matches", params={"k": 3}).json()["items"]
    shown = [i["achievement"]["id"] for i in collapsed]
    assert len(shown) == 2
    assert ids["x"] in shown
    assert len({ids["a"], ids["b"]} & set(shown)) == 1
    assert [i["rank"] for i in collapsed] == [1, 2]
    found = client.post("/api/v1/search", json={"text": "相变蓄冷 冷链运输箱", "k": 3}).json()["items"]
    assert len({ids["a"], ids["b"]} & {i["achievement"]["id"] for i in found}) == 1
