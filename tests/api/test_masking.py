"""One masking of confidential enterprises, identical across every reader: the list, one need, the exports, the
ranked needs of an achievement, free-text search, the pairing list and one pairing."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient

from tests.api import test_authorization as authz
from tests.api.test_authorization import SECRET_ENTERPRISE, World, _auth

world = authz.world  # the authorization matrix's organisations, users and records


def _views(client: TestClient, world: World, role: str) -> dict[str, dict[str, Any]]:
    """How each reader shows the confidential need ``dem_a`` to ``role``: its enterprise and whether it is hidden."""
    headers = _auth(world.tokens[role])
    need_id = world.ids["dem_a"]

    def shown(item: dict[str, Any]) -> dict[str, Any]:
        return {"enterprise": item["enterprise"], "hidden": item.get("enterprise_hidden", False)}

    views: dict[str, dict[str, Any]] = {}
    listed = client.get("/api/v1/demands", headers=headers).json()["items"]
    views["list"] = shown(next(i for i in listed if i["id"] == need_id))
    views["one"] = shown(client.get(f"/api/v1/demands/{need_id}", headers=headers).json())
    exported = client.get("/api/v1/demands/export", params={"format": "json"}, headers=headers).json()
    row = next(i for i in exported if i["id"] == need_id)
    views["export json"] = {"enterprise": row["enterprise"], "hidden": row["enterprise"] is None}
    text = client.get("/api/v1/demands/export", params={"format": "csv"}, headers=headers).content.decode("utf-8-sig")
    row = next(r for r in csv.DictReader(io.StringIO(text)) if r["id"] == str(need_id))
    views["export csv"] = {"enterprise": row["enterprise"] or None, "hidden": not row["enterprise"]}
    searched = client.post(
        "/api/v1/search", json={"text": "疫苗配送箱内温度超标", "target": "demands", "k": 10}, headers=headers
    ).json()["items"]
    views["search"] = shown(next(i["demand"] for i in searched if i["demand"]["id"] == need_id))
    if role == "uni_a":  # the institution of the pairing's achievement
        ranked = client.get(f"/api/v1/achievements/{world.ids['ach_a']}/matches", headers=headers).json()["items"]
        views["ranked needs"] = shown(next(i["demand"] for i in ranked if i["demand"]["id"] == need_id))
        pairings = client.get("/api/v1/matches", headers=headers).json()["items"]
        views["pairing list"] = shown(next(p["demand"] for p in pairings if p["demand"]["id"] == need_id))
        views["pairing"] = shown(client.get(f"/api/v1/matches/{world.ids['match']}", headers=headers).json()["demand"])
    return views


def _all_equal(views: dict[str, dict[str, Any]], expected: dict[str, Any]) -> None:
    assert {name: view for name, view in views.items() if view != expected} == {}


def test_every_reader_masks_the_same_way(client: TestClient, world: World) -> None:
    hidden = {"enterprise": None, "hidden": True}
    shown = {"enterprise": SECRET_ENTERPRISE, "hidden": False}
    _all_equal(_views(client, world, "uni_a"), hidden)
    _all_equal(_views(client, world, "uni_b"), hidden)
    _all_equal(_views(client, world, "manager"), shown)
    manager = _auth(world.tokens["manager"])
    answer = client.patch(f"/api/v1/matches/{world.ids['match']}", json={"disclosed": True}, headers=manager)
    assert answer.status_code == 200
    _all_equal(_views(client, world, "uni_a"), shown)  # disclosed for uni_a's pairing
    _all_equal(_views(client, world, "uni_b"), hidden)  # and for no one else
