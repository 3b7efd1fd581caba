"""Item 2: the index catch-up never fails a committed request, never skips a change it did not apply, and the
followers write nothing that a writer deletes (the PostgreSQL deadlock)."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from matchmaker.models import Embedding
from matchmaker.services.indexing import SearchService
from tests.factories import achievement

A = "/api/v1/achievements"


def _factory(client: TestClient) -> sessionmaker[Session]:
    return client.app.state.session_factory  # type: ignore[attr-defined, no-any-return]


def test_a_failed_pass_moves_nothing_and_the_next_applies_the_change(client: TestClient) -> None:
    search: SearchService = client.app.state.search  # type: ignore[attr-defined]
    worker = SearchService(_factory(client), search.embedder, index_dir=None)
    worker.start(follow=False)
    created = client.post(A, json=achievement(external_id="C-1")).json()["id"]
    position = worker.last_change_id
    with mock.patch.object(worker, "_apply", side_effect=RuntimeError("deadlock detected")):
        try:
            worker.sync()
        except RuntimeError:
            pass
    assert worker.last_change_id == position  # the change was not applied, so it is not skipped
    worker.sync()
    assert created in worker.matcher.lists["achievements"].docs
    assert worker.last_change_id > position


def test_a_failing_catch_up_does_not_fail_the_committed_request(client: TestClient) -> None:
    search: SearchService = client.app.state.search  # type: ignore[attr-defined]
    with mock.patch.object(search, "_apply", side_effect=RuntimeError("deadlock detected")):
        deleted = client.post(A, json=achievement(external_id="C-2"))
        assert deleted.status_code == 201  # it is committed: the answer says so
        kept = client.post(A, json=achievement(external_id="C-3")).json()["id"]
        assert client.delete(f"{A}/{deleted.json()['id']}").status_code == 204
    assert client.post(A, json=achievement(external_id="C-4")).status_code == 201  # its catch-up applies all four
    docs = search.matcher.lists["achievements"].docs
    assert kept in docs
    assert deleted.json()["id"] not in docs


def test_followers_never_delete_cached_vectors_the_writer_deletes_them(client: TestClient, tmp_path: Path) -> None:
    search: SearchService = client.app.state.search  # type: ignore[attr-defined]
    factory = _factory(client)
    created = client.post(A, json=achievement(external_id="C-5")).json()["id"]

    def cached() -> int:
        with factory() as session:
            stmt = select(func.count()).select_from(Embedding).where(Embedding.record_id == created)
            return int(session.scalar(stmt) or 0)

    assert cached() == 1
    statements: list[str] = []
    follower = SearchService(factory, search.embedder, index_dir=None)
    follower.start(follow=False)
    with mock.patch.object(search, "sync"):  # the request's own catch-up does not run: only the follower's
        assert client.delete(f"{A}/{created}").status_code == 204
    assert cached() == 0  # gone with the record, in the writer's transaction
    original = Session.execute

    def record(self: Session, statement: object, *args: object, **kwargs: object) -> object:
        statements.append(str(statement))
        return original(self, statement, *args, **kwargs)  # type: ignore[arg-type]

    with mock.patch.object(Session, "execute", record):
        follower.sync()
    assert created not in follower.matcher.lists["achievements"].docs
    assert not any(s.lstrip().upper().startswith("DELETE") for s in statements)
