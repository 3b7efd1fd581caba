"""The app's own ASGI middleware (the per-worker limit on API requests in flight) and its start-up."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from fastapi.testclient import TestClient
from starlette.types import Message

from matchmaker.app import LimitConcurrency


class _Recorder:
    """An ASGI app that records how many requests are inside it at once."""

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.order: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.inside += 1
        self.most = max(self.most, self.inside)
        self.order.append(scope["path"])
        await asyncio.sleep(0.01)
        self.inside -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})


async def _call(app: Any, path: str) -> int:
    messages: list[Message] = []

    async def send(message: Message) -> None:
        messages.append(message)

    await app({"type": "http", "path": path, "method": "GET"}, None, send)
    return int(messages[0]["status"])


def test_api_requests_beyond_the_limit_wait_their_turn() -> None:
    inner = _Recorder()
    app = LimitConcurrency(inner, limit=2)

    async def main() -> list[int]:
        return await asyncio.gather(*(_call(app, f"/api/v1/demands/{i}/matches") for i in range(7)))

    assert asyncio.run(main()) == [200] * 7  # every request is served, none refused
    assert inner.most == 2
    assert inner.order == [f"/api/v1/demands/{i}/matches" for i in range(7)]  # in arrival order


def test_health_and_metrics_are_not_limited() -> None:
    inner = _Recorder()
    app = LimitConcurrency(inner, limit=1)

    async def main() -> None:
        await asyncio.gather(*(_call(app, "/healthz") for _ in range(3)), _call(app, "/metrics"))

    asyncio.run(main())
    assert inner.most == 4


def test_what_start_up_built_is_kept_out_of_the_collector(app_client: TestClient) -> None:
    # A full collection would otherwise walk every object of the model and the indexes (over 200,000 with the
    # sample lists, about 0.1 s) in the middle of some request.
    assert gc.get_freeze_count() > 10_000
    assert app_client.get("/healthz").status_code == 200
