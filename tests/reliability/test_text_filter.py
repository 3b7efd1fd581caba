"""Item 14: % and _ in a text filter are matched literally, never as LIKE wildcards."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import achievement


def test_like_wildcards_are_literal(client: TestClient) -> None:
    first = achievement(external_id="A-1", title="相变蓄冷材料", summary="潜热大于220 J每克")
    second = achievement(external_id="A-2", title="效率提升50%的电机控制_算法", summary="电机")
    for body in (first, second):
        assert client.post("/api/v1/achievements", json=body).status_code == 201
    for q, expected in (("%", {"A-2"}), ("_", {"A-2"}), ("50%", {"A-2"}), ("相变%材料", set()), ("蓄冷", {"A-1"})):
        items = client.get("/api/v1/achievements", params={"q": q}).json()["items"]
        assert {item["external_id"] for item in items} == expected, q
