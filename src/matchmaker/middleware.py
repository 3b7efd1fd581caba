"""Pure ASGI middlewares that protect the service: request bodies read (bounded, with a deadline) before a request
takes one of its worker's concurrency slots, and security headers on every answer."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def send_error(send: Send, status: int, code: str, detail: str, headers: list[tuple[bytes, bytes]]) -> None:
    """Answer with the service's one error shape, from a middleware (no route, no exception handler)."""
    body = json.dumps({"error": code, "detail": detail, "fields": []}, ensure_ascii=False).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BoundedBody:
    """Read the whole request body before the application (and :class:`LimitConcurrency`) sees the request.

    A body larger than its limit answers 413 as soon as its ``content-length`` or its bytes pass the limit; a body not
    received in full within ``timeout_s`` answers 408. Only then is the request handed on, with the buffered body, so a
    client that sends one byte a second holds a socket and a little memory, never a concurrency slot or a database
    connection. Import uploads (paths under ``/api/v1/imports/``) may be as large as the upload limit plus the
    multipart envelope; every other body is limited to ``max_json_bytes``.
    """

    def __init__(
        self, app: ASGIApp, *, max_json_bytes: int, max_upload_bytes: int, timeout_s: float, upload_prefix: str
    ) -> None:
        self.app = app
        self.max_json_bytes = max_json_bytes
        self.max_upload_bytes = max_upload_bytes + 64 * 1024  # multipart boundaries and part headers
        self.timeout_s = timeout_s
        self.upload_prefix = upload_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        limit = self.max_upload_bytes if scope["path"].startswith(self.upload_prefix) else self.max_json_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await send_error(send, 413, "too_large", f"the request body is over {limit} bytes", [])
            return
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                message = await asyncio.wait_for(receive(), timeout=max(deadline - time.monotonic(), 0.001))
            except TimeoutError:
                detail = f"the request body was not received within {self.timeout_s:g} s"
                await send_error(send, 408, "request_timeout", detail, [])
                return
            if message["type"] == "http.disconnect":
                return  # the client went away: nothing to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await send_error(send, 413, "too_large", f"the request body is over {limit} bytes", [])
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as the server's receive would

        await self.app(scope, replay, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


# The pages to come are served from this origin only: no inline script, no framing, no plug-ins.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
# The /docs and /redoc pages (served from the vendored assets) start with an inline script that boots them.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
_DOC_PAGES = ("/docs", "/redoc")
_SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    """Add security headers to every answer, and ``cache-control: no-store`` to the API's (they carry private data and
    are never to be kept by a proxy or a browser's disk cache)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        doc_page = scope["path"].startswith(_DOC_PAGES)
        csp = (DOCS_CSP if doc_page else CSP).encode()
        no_store = not doc_page and not scope["path"].startswith(("/static/", "/openapi.json"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in _SECURITY_HEADERS if n not in present]
                if b"content-security-policy" not in present:  # a page that sets its own policy keeps it
                    headers.append((b"content-security-policy", csp))
                if no_store and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
