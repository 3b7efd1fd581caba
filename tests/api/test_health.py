"""Health, readiness, metrics and the OpenAPI description."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import achievement


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_current_migration(client: TestClient) -> None:
    body = client.get("/readyz").json()
    assert body["status"] == "ready"
    assert body["migration"]


def test_metrics_count_requests_and_records(client: TestClient) -> None:
    client.post("/api/v1/achievements", json=achievement())
    client.get("/api/v1/achievements/999999")
    client.get("/api/v1/nothing")
    text = client.get("/metrics").text
    assert 'matchmaker_http_requests_total{method="POST",route="/api/v1/achievements",status="201"}' in text
    # By route template (bounded label values), with the status the client got; unknown paths share one label.
    assert 'matchmaker_http_requests_total{method="GET",route="/api/v1/achievements/{record_id}",status="404"}' in text
    assert 'matchmaker_http_requests_total{method="GET",route="unmatched",status="404"}' in text
    assert 'matchmaker_http_request_duration_seconds_count{method="POST",route="/api/v1/achievements"}' in text
    assert 'matchmaker_records{kind="achievements"} 1.0' in text


def test_openapi_has_chinese_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    example = spec["components"]["schemas"]["AchievementCreate"]["examples"][0]
    assert example["field"] == "新材料"
    assert "/api/v1/imports/demands" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_unknown_route_uses_the_error_shape(client: TestClient) -> None:
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
