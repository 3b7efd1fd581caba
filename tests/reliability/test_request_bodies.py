"""Item 1: slow and huge request bodies never hold a concurrency slot, time out, and are bounded in size."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx


def _slow_login(base: str) -> socket.socket:
    """A socket that announced a 100,000-byte login body and sent one byte of it."""
    url = urlsplit(base)
    sock = socket.create_connection((url.hostname, url.port))
    sock.sendall(
        b"POST /api/v1/auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"content-length: 100000\r\n\r\n{"
    )
    return sock


def test_slow_bodies_do_not_block_the_api(live_server: Callable[..., str]) -> None:
    base = live_server(request_concurrency=1, body_timeout_s=3)
    slow = [_slow_login(base) for _ in range(5)]
    try:
        time.sleep(0.3)
        started = time.perf_counter()
        answer = httpx.get(f"{base}/api/v1/achievements?limit=1", timeout=10)
        elapsed = time.perf_counter() - started
        assert answer.status_code == 401  # it went through the application (no token), at once
        assert elapsed < 1.0, f"a request waited {elapsed:.1f} s behind slow bodies"
        slow[0].settimeout(10)
        reply = slow[0].recv(4096).decode()
        assert reply.startswith("HTTP/1.1 408"), reply
        assert '"error": "request_timeout"' in reply
    finally:
        for sock in slow:
            sock.close()


def test_huge_json_body_is_refused_before_parsing(live_server: Callable[..., str]) -> None:
    base = live_server(max_body_kb=64)
    big = b'{"email": "a@b.c", "password": "' + b"x" * 200_000 + b'"}'
    answer = httpx.post(f"{base}/api/v1/auth/login", content=big, headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["error"] == "too_large"

    def chunks():  # no content-length: the limit counts the bytes as they come
        for _ in range(20):
            yield b"x" * 10_000

    answer = httpx.post(f"{base}/api/v1/auth/login", content=chunks(), headers={"content-type": "application/json"})
    assert answer.status_code == 413


def test_import_uploads_may_be_as_large_as_the_upload_limit(live_server: Callable[..., str]) -> None:
    base = live_server(max_body_kb=64, max_upload_mb=1)
    body = b"external_id,title\n" + b"A-1," + "标题".encode() * 60_000 + b"\n"  # ~360 KB: over the JSON limit
    answer = httpx.post(f"{base}/api/v1/imports/demands", files={"file": ("d.csv", body)})
    assert answer.status_code == 401  # reached the route (no token), not refused by size
    answer = httpx.post(f"{base}/api/v1/imports/demands", files={"file": ("d.csv", body * 4)})
    assert answer.status_code == 413
