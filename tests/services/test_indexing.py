"""The index follows the database: snapshots, catch-up after a crash, several workers, the embedding cache."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from matchmaker.kinds import ACHIEVEMENTS, DEMANDS
from matchmaker.models import Embedding
from matchmaker.schemas import AchievementCreate, DemandCreate
from matchmaker.search.documents import DOC_FIELDS, document
from matchmaker.search.embedding import Embedder
from matchmaker.services.indexing import SearchService
from matchmaker.services.records import create_record, delete_record
from tests.factories import achievement, demand

A = "/api/v1/achievements"


def _factory(client: TestClient) -> sessionmaker[Session]:
    return client.app.state.session_factory  # type: ignore[attr-defined, no-any-return]


def _embedder(client: TestClient) -> Embedder:
    return client.app.state.search.embedder  # type: ignore[attr-defined, no-any-return]


def _write(factory: sessionmaker[Session], **overrides: object) -> int:
    with factory() as session:
        record = create_record(session, ACHIEVEMENTS, AchievementCreate(**achievement(**overrides)))  # type: ignore[arg-type]
        session.commit()
        return record.id


def test_snapshot_reload_and_catch_up_after_a_crash(client: TestClient, tmp_path: Path) -> None:
    factory, embedder = _factory(client), _embedder(client)
    first = _write(factory, external_id="S1")
    worker = SearchService(factory, embedder, index_dir=tmp_path)
    worker.start(follow=False)
    assert first in worker.matcher.lists["achievements"].docs
    worker.save_snapshot()
    # Writes the worker never saw before it "crashed" (no stop(), no final snapshot):
    second = _write(factory, external_id="S2", title="钠离子电池正极材料", summary="层状氧化物正极，比容量140 mAh/g。")
    with factory() as session:
        delete_record(session, ACHIEVEMENTS, first)
        session.commit()
    restarted = SearchService(factory, embedder, index_dir=tmp_path)
    restarted.start(follow=False)
    docs = restarted.matcher.lists["achievements"].docs
    assert second in docs
    assert first not in docs
    assert restarted.cache.model_calls <= 1  # S2 at most (unless the app's follower embedded it already)
    again = SearchService(factory, embedder, index_dir=tmp_path)
    again.start(follow=False)
    assert again.cache.model_calls == 0  # everything is served by the vector cache now
    hits = restarted.matcher.lists["achievements"].index.search(embedder.encode_queries(["钠离子电池正极"]), 1)[0]
    assert hits[0][0] == second


def test_other_worker_sees_a_write_within_two_seconds(client: TestClient, tmp_path: Path) -> None:
    factory, embedder = _factory(client), _embedder(client)
    other = SearchService(factory, embedder, index_dir=None, sync_interval=0.2)
    other.start(follow=True)
    try:
        created = client.post(A, json=achievement(external_id="W1")).json()
        started = time.monotonic()
        while created["id"] not in other.matcher.lists["achievements"].docs:
            assert time.monotonic() - started < 2.0, "the other worker did not catch up within 2 s"
            time.sleep(0.05)
        client.delete(f"{A}/{created['id']}")
        started = time.monotonic()
        while created["id"] in other.matcher.lists["achievements"].docs:
            assert time.monotonic() - started < 2.0
            time.sleep(0.05)
    finally:
        other.stop()


def test_rebuild_with_nothing_changed_makes_no_model_calls(client: TestClient) -> None:
    for i in range(3):
        client.post(A, json=achievement(external_id=f"R{i}", title=f"成果{i}"))
    search = client.app.state.search  # type: ignore[attr-defined]
    search.sync()  # the follower thread is past these writes (it may still be embedding one when the call returns)
    before = search.cache.model_calls
    counts = search.rebuild(save=False)
    assert counts["achievements"] == 3
    assert search.cache.model_calls == before


class _Scaled:
    """A different 'model': the real one's vectors, rotated (so the cache must not serve the old vectors)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name + "-rotated"
        self.dimension = inner.dimension

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.roll(self.inner.encode_queries(texts), 1, axis=1)

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        return np.roll(self.inner.encode_documents(texts), 1, axis=1)


def test_switching_model_re_embeds_and_keeps_both_caches(client: TestClient, session: Session) -> None:
    client.post(A, json=achievement(external_id="M1"))
    client.post(A, json=achievement(external_id="M2", title="另一个成果"))
    switched = SearchService(_factory(client), _Scaled(_embedder(client)), index_dir=None)  # type: ignore[arg-type]
    progress: list[tuple[str, int, int]] = []
    switched.start(follow=False, progress=lambda kind, done, total: progress.append((kind, done, total)))
    assert switched.cache.model_calls == 2
    assert ("achievements", 2, 2) in progress
    models = dict(session.execute(select(Embedding.model, func.count()).group_by(Embedding.model)).all())
    assert set(models.values()) == {2}
    assert len(models) == 2


def test_updated_text_is_re_embedded_once(client: TestClient) -> None:
    created = client.post(A, json=achievement(external_id="U1")).json()
    search = client.app.state.search  # type: ignore[attr-defined]
    before = search.cache.model_calls
    client.patch(f"{A}/{created['id']}", json={"trl": 8})  # not embedded text: no model call
    assert search.cache.model_calls == before
    client.patch(f"{A}/{created['id']}", json={"summary": "全新的技术简介"})
    assert search.cache.model_calls == before + 1


def test_hnsw_ef_search_setting_applies_to_built_and_loaded_indexes(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    factory, embedder = _factory(client), _embedder(client)
    _write(factory, external_id="EF1")
    built = SearchService(factory, embedder, index_dir=tmp_path, index_kind="hnsw", hnsw_ef_search=99)
    built.start(follow=False)
    assert {c.index.ef_search for c in built.matcher.lists.values()} == {99}
    built.save_snapshot()
    # A restart with another setting loads the snapshot (saved with 99) and searches with the new value.
    loaded = SearchService(factory, embedder, index_dir=tmp_path, index_kind="hnsw", hnsw_ef_search=150)
    monkeypatch.setattr(loaded, "rebuild", lambda **_: pytest.fail("the snapshot should have been loaded"))
    loaded.start(follow=False)
    assert {c.index.ef_search for c in loaded.matcher.lists.values()} == {150}
    assert loaded.matcher.lists["achievements"].index.kind_in_use == "hnsw"


@pytest.mark.parametrize("kind", ["achievements", "demands"])
def test_a_row_of_the_doc_columns_gives_the_same_doc_as_the_record(client: TestClient, kind: str) -> None:
    spec, body = (ACHIEVEMENTS, achievement()) if kind == "achievements" else (DEMANDS, demand())
    schema = AchievementCreate if kind == "achievements" else DemandCreate
    with _factory(client)() as session:
        record = create_record(session, spec, schema(**body))  # type: ignore[arg-type]
        session.commit()
        table = spec.model.__table__
        row = session.execute(
            select(*(table.c[name] for name in DOC_FIELDS[kind])).where(table.c.id == record.id)
        ).one()
        assert document(kind, row) == document(kind, record)
