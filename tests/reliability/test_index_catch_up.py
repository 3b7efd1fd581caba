"""Item 2: the index catch-up never fails a committed request, never skips a change it did not apply, and the
followers write nothing that a writer deletes (the PostgreSQL deadlock)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path
from unittest import mock

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from matchmaker.kinds import ACHIEVEMENTS, Kind
from matchmaker.models import Embedding, RecordChange
from matchmaker.services.indexing import INLINE_CATCH_UP, Prepared, SearchService
from matchmaker.services.records import delete_record
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
    with mock.patch.object(worker, "_install", side_effect=RuntimeError("deadlock detected")):
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
    with mock.patch.object(search, "_install", side_effect=RuntimeError("deadlock detected")):
        deleted = client.post(A, json=achievement(external_id="C-2"))
        assert deleted.status_code == 201  # it is committed: the answer says so
        kept = client.post(A, json=achievement(external_id="C-3")).json()["id"]
        assert client.delete(f"{A}/{deleted.json()['id']}").status_code == 204
    assert client.post(A, json=achievement(external_id="C-4")).status_code == 201
    search.sync()  # what the follower thread's next pass does: the failed catch-ups are applied
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
    with mock.patch.object(search, "after_commit"):  # the request's own catch-up does not run: only the follower's
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


def test_a_request_applies_its_write_without_waiting_for_the_follower(client: TestClient) -> None:
    """Item 6: a create during a long follower pass (a large import being embedded) does not wait for that pass."""
    search: SearchService = client.app.state.search  # type: ignore[attr-defined]
    answers: list[int] = []
    with search._sync_lock:  # the follower is busy for as long as this block lasts
        writer = threading.Thread(target=lambda: answers.append(client.post(A, json=achievement()).json()["id"]))
        writer.start()
        writer.join(timeout=60)
        assert answers, "the create waited for the follower's pass"
        assert answers[0] in search.matcher.lists["achievements"].docs  # searchable when the call returned


def test_a_large_write_is_left_to_the_follower(client: TestClient) -> None:
    search: SearchService = client.app.state.search  # type: ignore[attr-defined]
    rows = "external_id,title,summary,field,owner,region,trl\n" + "".join(
        f"L-{i},储能材料 {i},相变储能材料第{i}号,新材料,北方理工大学,北京,5\n" for i in range(INLINE_CATCH_UP + 1)
    )
    with mock.patch.object(search, "apply_written") as inline:
        report = client.post("/api/v1/imports/achievements", files={"file": ("a.csv", rows.encode(), "text/csv")})
    assert report.status_code == 200
    assert report.json()["created"] == INLINE_CATCH_UP + 1
    inline.assert_not_called()  # the request committed the rows and returned; nothing was embedded in it
    deadline = time.monotonic() + 60
    while len(search.matcher.lists["achievements"]) < INLINE_CATCH_UP + 1:
        assert time.monotonic() < deadline, "the follower did not catch up"
        time.sleep(0.1)


def test_a_pass_that_read_a_record_before_its_delete_does_not_bring_it_back(client: TestClient) -> None:
    factory = _factory(client)
    search: SearchService = client.app.state.search  # type: ignore[attr-defined]
    worker = SearchService(factory, search.embedder, index_dir=None)
    worker.start(follow=False)
    created = client.post(A, json=achievement()).json()["id"]
    prepare = worker._prepare

    def racing(session: Session, kind: Kind, ids: Iterable[int]) -> Prepared:
        batch = prepare(session, kind, ids)  # read while the record still exists
        mock_prepare.side_effect = prepare  # the request's own catch-up below reads normally
        with factory() as other:
            delete_record(other, ACHIEVEMENTS, created)
            other.commit()
            change = other.scalar(select(func.max(RecordChange.id)))
        assert change is not None
        worker.apply_written([("achievements", created, change)])  # the deleting request's own catch-up
        return batch

    with mock.patch.object(worker, "_prepare", side_effect=racing) as mock_prepare:
        worker.sync()
    assert created not in worker.matcher.lists["achievements"].docs
    worker.sync()
    assert created not in worker.matcher.lists["achievements"].docs
