"""Item 11: every 4xx is in the one documented error shape and documented in OpenAPI; timestamps carry a time zone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi.testclient import TestClient

from matchmaker.schemas import ErrorBody
from tests.factories import demand

CALLS: list[tuple[str, str, object, dict[str, str] | None, int]] = [
    ("GET", "/api/v1/demands", None, {"Authorization": "Bearer nope"}, 401),
    ("GET", "/api/v1/demands/999999", None, None, 404),
    ("GET", "/api/v1/nowhere", None, None, 404),
    ("PUT", "/api/v1/demands", None, None, 405),
    ("POST", "/api/v1/demands", {"title": ""}, None, 422),
    ("GET", "/api/v1/demands?limit=0", None, None, 422),
    ("GET", "/api/v1/demands?colour=red", None, None, 422),
    ("POST", "/api/v1/auth/login", {"email": "x@y.z", "password": "wrong"}, {"Authorization": ""}, 401),
]


def test_every_error_has_the_documented_shape(client: TestClient, make_user: Callable[..., str]) -> None:
    enterprise = {"Authorization": f"Bearer {make_user('enterprise', '津南医药')}"}
    calls = [*CALLS, ("GET", "/api/v1/stats", None, enterprise, 403)]
    assert client.post("/api/v1/demands", json=demand()).status_code == 201
    calls.append(("POST", "/api/v1/demands", demand(), None, 409))
    for method, url, body, headers, status in calls:
        answer = client.request(method, url, json=body, headers=headers)
        assert answer.status_code == status, (method, url, answer.text)
        ErrorBody.model_validate(answer.json())  # error, detail (a string) and fields, whatever the status


def test_openapi_documents_the_error_answers(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            for status in ("401", "403", "404", "409", "413", "422", "429"):
                schema = operation["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)


def test_timestamps_carry_a_time_zone(client: TestClient) -> None:
    created = client.post("/api/v1/demands", json=demand()).json()
    again = client.get(f"/api/v1/demands/{created['id']}").json()
    for value in (created["created_at"], again["created_at"], again["updated_at"]):
        assert datetime.fromisoformat(value).utcoffset() is not None, value
    token = client.post("/api/v1/tokens", json={"name": "t"}).json()
    assert datetime.fromisoformat(token["created_at"]).utcoffset() is not None
