"""The matching-run pages over durable runs: one run at a time (409 with the reason), live progress of an
unfinished run with its partial download, and the partial export marked in its file name."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from matchmaker.db import unit_of_work
from matchmaker.schemas.matching import MatchFilters
from matchmaker.services import run_jobs
from matchmaker.services.chunk_pool import rank
from matchmaker.services.runs import create_run
from tests.factories import achievement, demand
from tests.web.conftest import csrf_of, web_sign_in


def test_an_unfinished_run_shows_its_progress_and_a_partial_download(
    client: TestClient, session: Session, web_client: TestClient, web_account: Callable[..., str]
) -> None:
    client.post("/api/v1/achievements", json=achievement())
    for n in range(3):
        client.post("/api/v1/demands", json=demand(external_id=f"D-{n}"))
    factory, search = client.app.state.session_factory, client.app.state.search  # type: ignore[attr-defined]
    with unit_of_work(factory) as s:
        run_id = create_run(
            s, k=2, filters=MatchFilters(), achievement_filters=MatchFilters(), constraints="flag", model="t"
        ).id
    run_jobs.plan_run(factory, run_id, 2)
    seq, need_ids = run_jobs.pending_chunks(factory, run_id)[0]
    chunk = run_jobs.prepare_chunk(factory, search, run_id, seq, need_ids)
    run_jobs.store_chunk(
        factory, run_id, chunk, rank(search.matcher, run_jobs.rank_settings(factory, run_id, None), chunk.task)
    )

    web_sign_in(web_client, web_account("manager"))
    progress = web_client.get(f"/runs/{run_id}/progress").text
    assert 'hx-trigger="every 1s"' in progress  # still polled while it runs
    assert "2/3" in progress
    assert f'href="/runs/{run_id}/export?format=xlsx&amp;partial=true"' in progress
    assert "下载已完成部分（未完成：2/3 条需求）" in progress
    assert web_client.get(f"/runs/{run_id}/export").status_code == 409
    partial = web_client.get(f"/runs/{run_id}/export", params={"partial": "true"})
    assert partial.status_code == 200
    assert f"matching-run-{run_id}-partial-" in partial.headers["content-disposition"]

    page = web_client.get("/runs").text
    again = web_client.post("/runs", data={"k": "5", "csrf_token": csrf_of(page)}, follow_redirects=False)
    assert again.status_code == 409
    assert "另一个匹配批次仍在进行" in again.text
