"""The bundled sample lists: complete, valid, varied, and loaded on the embedded default's first start."""

from __future__ import annotations

import collections
import json
from pathlib import Path

from fastapi.testclient import TestClient

from matchmaker.app import create_app
from matchmaker.config import Settings
from matchmaker.domain import CHAINS, REGIONS
from matchmaker.kinds import ACHIEVEMENTS, DEMANDS
from matchmaker.schemas import AchievementCreate, DemandCreate
from matchmaker.search.text import detect_language


def _rows(sample_dir: Path, kind: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in (sample_dir / f"{kind}.jsonl").read_text(encoding="utf-8").splitlines()]


def test_sample_lists_are_valid_and_varied(sample_dir: Path) -> None:
    achievements = _rows(sample_dir, "achievements")
    demands = _rows(sample_dir, "demands")
    assert len(achievements) >= 300
    assert len(demands) >= 100
    for row in achievements:
        AchievementCreate.model_validate(row)
    for row in demands:
        DemandCreate.model_validate(row)
    chains = {r["field"] for r in achievements} | {r["field"] for r in demands}
    assert set(CHAINS) - {"其他"} <= chains
    assert {r["region"] for r in achievements} == set(REGIONS)
    languages = collections.Counter(
        detect_language(f"{r['title']} {r.get(ACHIEVEMENTS.body) or r.get(DEMANDS.body)}")
        for r in [*achievements, *demands]
    )
    total = sum(languages.values())
    assert 0.07 <= languages["en"] / total <= 0.15
    assert 0.07 <= languages["zh-Hant"] / total <= 0.15
    assert sum(1 for r in demands if r["region"] == "天津") > len(demands) / 2


def test_embedded_default_loads_samples_on_first_start_only(tmp_path: Path, sample_dir: Path) -> None:
    settings = Settings(data_dir=tmp_path, load_sample_data=True, embedder="use", admin_password="first-admin-pw")
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/v1/achievements").status_code == 401
        login = client.post("/api/v1/auth/login", json={"email": "admin@localhost", "password": "first-admin-pw"})
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        assert client.get("/api/v1/achievements", params={"limit": 1}).json()["total"] == 300
        demand_id = client.get("/api/v1/demands", params={"limit": 1}).json()["items"][0]["id"]
        assert client.get(f"/api/v1/demands/{demand_id}/matches", params={"k": 3}).json()["items"]
        achievement_id = client.get("/api/v1/achievements", params={"limit": 1}).json()["items"][0]["id"]
        assert client.delete(f"/api/v1/achievements/{achievement_id}").status_code == 204
    with TestClient(create_app(settings)) as client:  # a restart does not load them again (nor add an admin)
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        assert client.get("/api/v1/achievements", params={"limit": 1}).json()["total"] == 299
