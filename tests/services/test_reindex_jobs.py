"""A reindex split into chunks: only missing vectors are sent, lost chunks are sent again, a reindex nobody works on
stops with a clear error (both backends; the real broker is in test_job_broker.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from matchmaker.db import unit_of_work
from matchmaker.kinds import SPECS
from matchmaker.models import Embedding
from matchmaker.services.reindex_jobs import ReindexStalled, embed_on_workers, missing_vectors
from tests.factories import achievement, demand


def _setup(client: TestClient) -> tuple[object, object]:
    ids = [
        client.post("/api/v1/achievements", json=achievement(external_id=f"A-{n}", title=f"冷链技术{n}")).json()["id"]
        for n in range(5)
    ]
    client.post("/api/v1/demands", json=demand())
    factory, search = client.app.state.session_factory, client.app.state.search  # type: ignore[attr-defined]
    search.sync()  # the follower is past these writes: it stores no vector after the delete below
    with unit_of_work(factory) as session:
        session.execute(delete(Embedding).where(Embedding.kind == "achievements", Embedding.record_id.in_(ids[1:])))
    return factory, search


def _worker(factory: object, search: object, sent: list[tuple[str, list[int]]]):  # type: ignore[no-untyped-def]
    def embed(kind: str, ids: list[int]) -> None:
        sent.append((kind, ids))
        record = SPECS[kind].model
        with factory() as session:  # type: ignore[operator]
            records = list(session.scalars(select(record).where(record.id.in_(ids))))
            search.cache.vectors(session, kind, records)  # type: ignore[attr-defined]

    return embed


def test_only_the_missing_vectors_are_embedded_in_chunks(client: TestClient) -> None:
    factory, search = _setup(client)
    model = search.embedder.name  # type: ignore[attr-defined]
    with factory() as session:  # type: ignore[operator]
        assert len(missing_vectors(session, "achievements", model)) == 4
        assert missing_vectors(session, "demands", model) == []
    sent: list[tuple[str, list[int]]] = []
    assert embed_on_workers(factory, model, _worker(factory, search, sent), chunk_size=3, poll_s=0.01) == 4  # type: ignore[arg-type]
    assert [(kind, len(ids)) for kind, ids in sent] == [("achievements", 3), ("achievements", 1)]
    with factory() as session:  # type: ignore[operator]
        assert missing_vectors(session, "achievements", model) == []
    assert embed_on_workers(factory, model, _worker(factory, search, sent), poll_s=0.01) == 0  # type: ignore[arg-type]


def test_chunks_lost_with_a_worker_are_sent_again(client: TestClient) -> None:
    factory, search = _setup(client)
    sent: list[tuple[str, list[int]]] = []
    embed = _worker(factory, search, sent)
    lost: list[int] = []

    def flaky(kind: str, ids: list[int]) -> None:
        if not lost:  # the first chunk's worker dies with it
            lost.extend(ids)
            return
        embed(kind, ids)

    model = search.embedder.name  # type: ignore[attr-defined]
    assert embed_on_workers(factory, model, flaky, chunk_size=2, stale_after_s=0.3, poll_s=0.05) == 4  # type: ignore[arg-type]
    assert sorted(i for _, ids in sent for i in ids) == sorted({i for _, ids in sent for i in ids})  # none twice
    with factory() as session:  # type: ignore[operator]
        assert missing_vectors(session, "achievements", model) == []


def test_a_reindex_no_worker_takes_stops_with_a_clear_error(client: TestClient) -> None:
    factory, search = _setup(client)
    with pytest.raises(ReindexStalled, match="no worker embedded anything for 0 s"):
        embed_on_workers(factory, search.embedder.name, lambda kind, ids: None, stale_after_s=0.2, poll_s=0.05)  # type: ignore[attr-defined,arg-type]
