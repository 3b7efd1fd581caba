"""Schemathesis over the whole OpenAPI, as an admin and as an enterprise member: no answer may be a 5xx or break its
documented response schema. Bounded (a few examples per operation, SQLite in the suite) so that CI runs it in a few
minutes; ``MATCHMAKER_FUZZ_EXAMPLES`` raises the count and ``MATCHMAKER_FUZZ_POSTGRES=1`` adds PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from starlette.types import ASGIApp, Receive, Scope, Send

EXAMPLES = int(os.environ.get("MATCHMAKER_FUZZ_EXAMPLES", "5"))
# Operations that would end the fuzzing session itself (its token, its account) or lock its address out of logging in.
LEFT_OUT = {"/api/v1/auth/logout", "/api/v1/auth/login", "/api/v1/tokens/{token_id}", "/api/v1/users/{user_id}"}


def _without_lifespan(app: ASGIApp) -> ASGIApp:
    """The app for the fuzzer's own client: its lifespan events are answered here, so fuzzing never starts a second
    lifespan on the suite's shared app (whose shutdown would stop that app's background runner for later tests)."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await app(scope, receive, send)

    return asgi


@pytest.mark.parametrize("role", ["admin", "enterprise"])
def test_no_5xx_and_every_answer_fits_its_schema(
    client: TestClient, make_user: Callable[..., str], backend: str, role: str
) -> None:
    if backend != "sqlite" and os.environ.get("MATCHMAKER_FUZZ_POSTGRES") != "1":
        pytest.skip("fuzzed on SQLite in the suite (MATCHMAKER_FUZZ_POSTGRES=1 for PostgreSQL too)")
    token = str(client.headers["Authorization"]).removeprefix("Bearer ")
    if role == "enterprise":
        token = make_user("enterprise", "津南医药物流有限公司")
    schema = schemathesis.openapi.from_asgi("/openapi.json", _without_lifespan(client.app))
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in LEFT_OUT or not operation.path.startswith("/api/"):
            continue
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers={"Authorization": f"Bearer {token}"},
                checks=[not_a_server_error, response_schema_conformance],
                timeout=120,  # a write embeds its record before it answers: slow on a shared CPU, not a failure
            )

        try:
            call()
        except Exception as exc:  # collect every operation's failure, then report them all
            inner = getattr(exc, "exceptions", None) or [exc]
            detail = "; ".join(str(e)[:600] for e in inner)
            failures.append(f"{operation.method.upper()} {operation.path}: {detail}")
    assert not failures, "\n\n".join(failures)
    assert operations >= 25  # every API operation was fuzzed
