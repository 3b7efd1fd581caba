"""Item 7: integers past what a database column holds answer 422 naming the parameter, on every route that takes one."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

HUGE = str(2**63)  # one past the largest bigint
CALLS = [
    ("GET", f"/api/v1/achievements/{HUGE}", None, "record_id"),
    ("PATCH", f"/api/v1/demands/{HUGE}", {"title": "x"}, "record_id"),
    ("DELETE", f"/api/v1/achievements/{HUGE}", None, "record_id"),
    ("GET", f"/api/v1/achievements?offset={HUGE}", None, "offset"),
    ("GET", f"/api/v1/demands/{HUGE}/matches", None, "record_id"),
    ("GET", f"/api/v1/achievements/{HUGE}/matches", None, "record_id"),
    ("GET", f"/api/v1/matches?assignee={HUGE}", None, "assignee"),
    ("GET", f"/api/v1/matches?need={HUGE}", None, "need"),
    ("GET", f"/api/v1/matches?offset={HUGE}", None, "offset"),
    ("GET", f"/api/v1/matches/{HUGE}", None, "match_id"),
    ("PATCH", "/api/v1/matches/1", {"assignee_id": 2**63}, "assignee_id"),
    ("GET", f"/api/v1/matches/{HUGE}/history", None, "match_id"),
    ("GET", f"/api/v1/matching-runs/{HUGE}", None, "run_id"),
    ("GET", f"/api/v1/matching-runs/{HUGE}/export", None, "run_id"),
    ("DELETE", f"/api/v1/tokens/{HUGE}", None, "token_id"),
    ("GET", f"/api/v1/users/{HUGE}", None, "user_id"),
    ("GET", f"/api/v1/users?offset={HUGE}", None, "offset"),
]


@pytest.mark.parametrize(("method", "url", "body", "name"), CALLS)
def test_integers_past_bigint_answer_422(client: TestClient, method: str, url: str, body: object, name: str) -> None:
    answer = client.request(method, url, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["fields"][0]["field"] == name
