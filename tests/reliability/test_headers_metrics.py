"""Item 16: security headers on every answer, no-store on the API, /metrics protected and cheap."""

from __future__ import annotations

from collections.abc import Callable
from unittest import mock

import httpx

from matchmaker.services import records


def test_security_headers_and_no_store(live_server: Callable[..., str]) -> None:
    base = live_server()
    for path in ("/api/v1/achievements", "/healthz", "/api/v1/nowhere"):
        answer = httpx.get(base + path)
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert "default-src 'self'" in answer.headers["content-security-policy"]
        assert answer.headers["cache-control"] == "no-store"
    docs = httpx.get(base + "/docs")
    assert docs.status_code == 200
    assert "script-src 'self' 'unsafe-inline'" in docs.headers["content-security-policy"]  # its boot script runs
    assert "cdn" not in docs.text.lower()  # served from the vendored assets


def test_metrics_need_the_configured_token(live_server: Callable[..., str]) -> None:
    base = live_server(metrics_token="scrape-secret")
    assert httpx.get(base + "/metrics").status_code == 401
    assert httpx.get(base + "/metrics", headers={"authorization": "Bearer wrong"}).status_code == 401
    answer = httpx.get(base + "/metrics", headers={"authorization": "Bearer scrape-secret"})
    assert answer.status_code == 200
    assert "matchmaker_http_requests" in answer.text


def test_metrics_count_the_database_at_most_once_per_interval(live_server: Callable[..., str]) -> None:
    base = live_server(metrics_counts_interval_s=3600)
    with mock.patch("matchmaker.api.health.count_records", wraps=records.count_records) as counted:
        for _ in range(5):
            assert httpx.get(base + "/metrics").status_code == 200
    assert counted.call_count == 2  # one count of each list for five scrapes
