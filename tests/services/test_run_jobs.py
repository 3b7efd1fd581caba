"""Matching runs as durable jobs: chunks, resumption, no duplicate pairing, vanished records, one run at a time,
errors without statements, partial exports, and the ranking over several processes (both backends)."""

from __future__ import annotations

import io
import threading
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from matchmaker.db import unit_of_work
from matchmaker.errors import Conflict
from matchmaker.models import Match, MatchingRun
from matchmaker.models.jobs import JobChunk
from matchmaker.schemas.matching import MatchFilters
from matchmaker.services import run_jobs
from matchmaker.services.chunk_pool import rank
from matchmaker.services.indexing import SearchService
from matchmaker.services.runs import create_run
from tests.factories import achievement, demand

TOPICS = [
    ("相变蓄冷材料冷链保温箱", "疫苗冷链配送途中温度超标，需保持2～8℃"),
    ("焊缝低温开裂抑制焊材", "零下40℃焊缝开裂，需要低温韧性焊材"),
    ("慢SQL自动改写与索引推荐", "数据库慢查询拖垮业务，需要自动优化"),
    ("锂电池热失控预警传感器", "储能电站电池过热起火风险，需要早期预警"),
    ("污水氨氮高效去除工艺", "化工园区污水氨氮超标，需要低成本处理"),
]


def _factory(client: TestClient) -> sessionmaker[Session]:
    return client.app.state.session_factory  # type: ignore[attr-defined,no-any-return]


def _search(client: TestClient) -> SearchService:
    return client.app.state.search  # type: ignore[attr-defined,no-any-return]


def _lists(client: TestClient) -> tuple[list[int], list[int]]:
    offers, needs = [], []
    for n, (title, problem) in enumerate(TOPICS):
        body = achievement(external_id=f"A-{n}", title=title, summary=f"{title}，已在企业中试验证。", keywords=[])
        offers.append(client.post("/api/v1/achievements", json=body).json()["id"])
        needs.append(client.post("/api/v1/demands", json=demand(external_id=f"D-{n}", title=problem)).json()["id"])
    return needs, offers


def _new_run(client: TestClient, k: int = 2) -> int:
    with unit_of_work(_factory(client)) as session:
        run = create_run(
            session, k=k, filters=MatchFilters(), achievement_filters=MatchFilters(), constraints="flag", model="t"
        )
        return run.id


def _run(session: Session, run_id: int) -> MatchingRun:
    session.expire_all()
    run = session.get(MatchingRun, run_id)
    assert run is not None
    return run


def _pairings(session: Session) -> list[tuple[int, int]]:
    return [tuple(row) for row in session.execute(select(Match.demand_id, Match.achievement_id))]  # type: ignore[misc]


def _store_first_chunk(client: TestClient, run_id: int, chunk_size: int = 2) -> run_jobs.PreparedChunk:
    factory, search = _factory(client), _search(client)
    run_jobs.plan_run(factory, run_id, chunk_size)
    seq, need_ids = run_jobs.pending_chunks(factory, run_id)[0]
    chunk = run_jobs.prepare_chunk(factory, search, run_id, seq, need_ids)
    ranked = rank(search.matcher, run_jobs.rank_settings(factory, run_id, None), chunk.task)
    assert run_jobs.store_chunk(factory, run_id, chunk, ranked)
    return chunk


def test_a_run_is_planned_in_chunks_and_written_chunk_by_chunk(client: TestClient, session: Session) -> None:
    needs, _ = _lists(client)
    run_id = _new_run(client)
    run_jobs.execute_run(_factory(client), _search(client), run_id, chunk_size=2)
    run = _run(session, run_id)
    assert (run.status, run.total, run.done, run.active, run.attempts, run.error) == ("done", 5, 5, None, 1, None)
    chunks = session.execute(select(JobChunk.seq, JobChunk.items, JobChunk.status).order_by(JobChunk.seq)).all()
    assert [(c.seq, c.items, c.status) for c in chunks] == [
        (0, needs[:2], "done"),
        (1, needs[2:4], "done"),
        (2, needs[4:], "done"),
    ]
    pairs = _pairings(session)
    assert len(pairs) == run.proposed == 10
    assert len(set(pairs)) == len(pairs)


def test_an_interrupted_run_resumes_from_its_pending_chunks(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _lists(client)
    run_id = _new_run(client)
    run_jobs.start_attempt(_factory(client), run_id)
    _store_first_chunk(client, run_id)  # then the process dies: running, one chunk of three written
    before = set(_pairings(session))
    assert _run(session, run_id).status == "running"
    assert run_jobs.claim_stale_runs(_factory(client), stale_after_s=3600) == []  # its heartbeat is recent
    assert run_jobs.claim_stale_runs(_factory(client), stale_after_s=0) == [run_id]
    assert run_jobs.claim_stale_runs(_factory(client), stale_after_s=3600) == []  # claimed once, by one caller
    prepared: list[int] = []
    original = run_jobs.prepare_chunk

    def spy(*args: Any) -> run_jobs.PreparedChunk:
        prepared.append(args[3])
        return original(*args)

    monkeypatch.setattr(run_jobs, "prepare_chunk", spy)
    run_jobs.execute_run(_factory(client), _search(client), run_id, chunk_size=2)
    assert prepared == [1, 2]  # only the pending chunks were ranked again
    run = _run(session, run_id)
    assert (run.status, run.done, run.total, run.attempts) == ("done", 5, 5, 2)
    pairs = _pairings(session)
    assert len(pairs) == len(set(pairs)) == run.proposed == 10
    assert before <= set(pairs)


def test_a_chunk_written_twice_is_written_once(client: TestClient, session: Session) -> None:
    _lists(client)
    run_id = _new_run(client)
    chunk = _store_first_chunk(client, run_id)
    search = _search(client)
    ranked = rank(search.matcher, run_jobs.rank_settings(_factory(client), run_id, None), chunk.task)
    assert run_jobs.store_chunk(_factory(client), run_id, chunk, ranked) is False  # another executor's copy
    run = _run(session, run_id)
    assert (run.done, run.proposed) == (2, 4)
    assert session.scalar(select(func.count()).select_from(Match)) == 4


def test_records_deleted_during_a_run_are_skipped(client: TestClient, session: Session) -> None:
    needs, offers = _lists(client)
    run_id = _new_run(client, k=5)
    factory, search = _factory(client), _search(client)
    run_jobs.plan_run(factory, run_id, 5)
    seq, need_ids = run_jobs.pending_chunks(factory, run_id)[0]
    chunk = run_jobs.prepare_chunk(factory, search, run_id, seq, need_ids)
    ranked = rank(search.matcher, run_jobs.rank_settings(factory, run_id, None), chunk.task)
    # Deleted between the ranking and the write (the index still knows them).
    assert client.delete(f"/api/v1/demands/{needs[1]}").status_code == 204
    assert client.delete(f"/api/v1/achievements/{offers[0]}").status_code == 204
    assert run_jobs.store_chunk(factory, run_id, chunk, ranked)
    assert run_jobs.finish_run(factory, run_id)
    run = _run(session, run_id)
    assert (run.status, run.error, run.done) == ("done", None, 5)
    pairs = _pairings(session)
    assert pairs
    assert not [p for p in pairs if p[0] == needs[1] or p[1] == offers[0]]
    # Deleted before its chunk was read: the next run plans it no more and reads what is there.
    assert client.delete(f"/api/v1/demands/{needs[2]}").status_code == 204
    second = _new_run(client)
    run_jobs.execute_run(factory, search, second, chunk_size=2)
    assert (_run(session, second).status, _run(session, second).total) == ("done", 3)


def test_a_failed_run_says_why_without_its_statement(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _lists(client)
    run_id = _new_run(client)

    def broken(*args: Any) -> bool:
        raise IntegrityError("INSERT INTO matches (demand_id) VALUES (%(demand_id)s)", {"demand_id": 7}, Exception())

    monkeypatch.setattr(run_jobs, "store_chunk", broken)
    with pytest.raises(IntegrityError):
        run_jobs.execute_run(_factory(client), _search(client), run_id)
    run = _run(session, run_id)
    assert run.status == "failed"
    assert run.active is None
    assert run.finished_at is not None
    assert run.error == "database error (IntegrityError); start the run again"
    assert "INSERT" not in run.error
    assert "demand_id" not in run.error
    _new_run(client)  # the scope is free again


def test_one_run_at_a_time(client: TestClient, session: Session) -> None:
    _lists(client)
    first = _new_run(client)
    with pytest.raises(Conflict, match=f"matching run {first} is still running"):
        _new_run(client)
    answer = client.post("/api/v1/matching-runs", json={"k": 2})
    assert answer.status_code == 409
    assert "one run at a time" in answer.json()["detail"]
    # The guarantee is the unique column, not the check before it (two requests at the same moment).
    with pytest.raises(IntegrityError), unit_of_work(_factory(client)) as other:
        other.add(MatchingRun(status="queued", active="matching", k=2))
    run_jobs.execute_run(_factory(client), _search(client), first)
    assert _new_run(client) > first  # free once the first is done


def test_an_unfinished_run_exports_only_as_partial(client: TestClient, session: Session) -> None:
    _lists(client)
    run_id = _new_run(client)
    run_jobs.start_attempt(_factory(client), run_id)
    _store_first_chunk(client, run_id)
    url = f"/api/v1/matching-runs/{run_id}/export"
    refused = client.get(url)
    assert refused.status_code == 409
    assert "partial=true" in refused.json()["detail"]
    partial = client.get(url, params={"partial": "true"})
    assert partial.status_code == 200
    assert f'filename="matching-run-{run_id}-partial-' in partial.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(partial.content))
    assert book.active is not None
    assert book.active.title == "供需对接清单（部分 2／5）"
    assert book.active.max_row == 1 + 4
    csv = client.get(url, params={"partial": "true", "format": "csv"})
    assert "-partial-" in csv.headers["content-disposition"]
    run_jobs.execute_run(_factory(client), _search(client), run_id, chunk_size=2)
    done = client.get(url)
    assert done.status_code == 200
    assert f'filename="matching-run-{run_id}-20' in done.headers["content-disposition"]  # dated, not partial


def test_a_run_interrupted_too_often_fails_for_good(client: TestClient, session: Session) -> None:
    _lists(client)
    run_id = _new_run(client)
    with unit_of_work(_factory(client)) as s:
        s.execute(update(MatchingRun).where(MatchingRun.id == run_id).values(attempts=run_jobs.MAX_ATTEMPTS))
    run_jobs.execute_run(_factory(client), _search(client), run_id)
    run = _run(session, run_id)
    assert run.status == "failed"
    assert run.active is None
    assert run.error is not None
    assert run.error.startswith(f"interrupted {run_jobs.MAX_ATTEMPTS} times")


def test_a_stopping_process_leaves_its_run_to_the_next_one(client: TestClient, session: Session) -> None:
    _lists(client)
    run_id = _new_run(client)
    stop = threading.Event()
    stop.set()  # the server is shutting down: the chunk in hand is written, then the run is left
    run_jobs.execute_run(_factory(client), _search(client), run_id, chunk_size=2, stop=stop)
    run = _run(session, run_id)
    assert (run.status, run.done, run.heartbeat_at, run.active) == ("running", 2, None, "matching")
    assert run_jobs.claim_stale_runs(_factory(client), stale_after_s=3600) == [run_id]  # at once: no heartbeat
    run_jobs.execute_run(_factory(client), _search(client), run_id, chunk_size=2)
    assert (_run(session, run_id).status, _run(session, run_id).done) == ("done", 5)


def test_ranking_on_two_processes_proposes_what_one_does(client: TestClient, session: Session) -> None:
    _lists(client)
    results = []
    for workers in (1, 2):
        run_id = _new_run(client, k=3)
        run_jobs.execute_run(_factory(client), _search(client), run_id, workers=workers, chunk_size=2)
        assert _run(session, run_id).status == "done"
        session.expire_all()
        rows = session.execute(select(Match.demand_id, Match.achievement_id, Match.rank, Match.score, Match.run_id))
        results.append({(d, a, r, round(s, 6)) for d, a, r, s, run in rows if run == run_id})
    assert results[0] == results[1]
    assert len(results[0]) == 15
