"""The distributed job engine on the real broker (Redis; skipped where none answers on 127.0.0.1:6379, mandatory in
CI): a run's chunks taken by worker processes, one worker killed (-9) mid-run and another started; every chunk is
written, none twice, and no pairing is duplicated (both backends)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from matchmaker.config import Settings
from matchmaker.db import unit_of_work
from matchmaker.models import Embedding, Match, MatchingRun
from matchmaker.models.jobs import JobChunk
from matchmaker.schemas.matching import MatchFilters
from matchmaker.services.run_jobs import claim_stale_runs
from matchmaker.services.runs import create_run
from tests.conftest import redis_up
from tests.factories import achievement, demand

NEEDS = 60


pytestmark = pytest.mark.skipif(not redis_up() and os.environ.get("CI") != "true", reason="no Redis on 127.0.0.1:6379")


@pytest.fixture
def broker_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    """The environment of a worker (and a sender) on the test database, on a queue of this test alone."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "MATCHMAKER_DATABASE_URL": settings.resolved_database_url,
        "MATCHMAKER_DATA_DIR": str(tmp_path),
        "MATCHMAKER_AUTO_MIGRATE": "false",
        "MATCHMAKER_LOAD_SAMPLE_DATA": "false",
        "MATCHMAKER_JOB_BROKER": "redis://127.0.0.1:6379/0",
        "MATCHMAKER_JOB_QUEUE": f"test-{uuid.uuid4().hex[:12]}",
        "MATCHMAKER_JOB_STALE_AFTER_S": "3",
        "MATCHMAKER_RUN_CHUNK_SIZE": "1",
        "MATCHMAKER_SNAPSHOT_INTERVAL_S": "3600",
    }


@pytest.fixture
def workers(broker_env: dict[str, str]) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Worker processes started by the test (each in its own process group); all ended afterwards."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _start_worker(env: dict[str, str], started: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "dramatiq", "matchmaker.services.job_broker", "--processes", "1", "--threads", "1"]
    args += ["--queues", env["MATCHMAKER_JOB_QUEUE"]]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    started.append(proc)
    return proc


def _send(env: dict[str, str], run_id: int) -> None:
    code = f"from matchmaker.services.job_broker import BrokerEngine; BrokerEngine('').submit_run({run_id})"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)


def _progress(session: Session, run_id: int) -> MatchingRun:
    session.expire_all()
    run = session.get(MatchingRun, run_id)
    assert run is not None
    return run


def test_a_worker_killed_mid_run_loses_no_chunk_and_duplicates_no_pairing(
    client: TestClient, session: Session, broker_env: dict[str, str], workers: list[subprocess.Popen[bytes]]
) -> None:
    for n in range(12):
        client.post("/api/v1/achievements", json=achievement(external_id=f"A-{n}", title=f"冷链保温箱技术 {n}"))
    for n in range(NEEDS):
        client.post("/api/v1/demands", json=demand(external_id=f"D-{n}", title=f"疫苗冷链温度超标 {n}"))
    factory = client.app.state.session_factory  # type: ignore[attr-defined]
    with unit_of_work(factory) as s:
        run_id = create_run(
            s, k=3, filters=MatchFilters(), achievement_filters=MatchFilters(), constraints="flag", model="t"
        ).id

    first = _start_worker(broker_env, workers)
    _send(broker_env, run_id)
    deadline = time.monotonic() + 240
    while _progress(session, run_id).done < 5:  # some chunks written, most not
        assert time.monotonic() < deadline, "the first worker wrote nothing"
        assert first.poll() is None, "the first worker died by itself"
        time.sleep(0.02)
    os.killpg(first.pid, signal.SIGKILL)  # mid-run, possibly mid-chunk
    first.wait(timeout=30)
    killed_at = _progress(session, run_id).done
    assert killed_at < NEEDS, "the run finished before the worker was killed: nothing was tested"

    _start_worker(broker_env, workers)
    # The service's job watch: the run shows no progress, so its pending chunks are sent again (the broker also
    # delivers the killed worker's unacknowledged message again once that worker's heartbeat times out).
    time.sleep(1)
    assert claim_stale_runs(factory, stale_after_s=0) == [run_id]
    _send(broker_env, run_id)
    while _progress(session, run_id).status != "done":
        assert time.monotonic() < deadline, f"the run did not finish: {_progress(session, run_id).done}/{NEEDS}"
        time.sleep(0.1)

    run = _progress(session, run_id)
    assert (run.done, run.total, run.error, run.active) == (NEEDS, NEEDS, None, None)
    statuses = session.scalars(select(JobChunk.status).where(JobChunk.job_id == run_id)).all()
    assert len(statuses) == NEEDS
    assert set(statuses) == {"done"}
    pairs = session.execute(select(Match.demand_id, Match.achievement_id)).all()
    assert len(pairs) == len(set(pairs)) == run.proposed
    per_need = session.execute(select(Match.demand_id, func.count()).group_by(Match.demand_id)).all()
    assert len(per_need) == NEEDS  # every need got its pairings: no chunk lost
    assert {count for _, count in per_need} == {3}  # and none twice


def test_reindex_embeds_the_missing_vectors_on_the_workers(
    client: TestClient, session: Session, broker_env: dict[str, str], workers: list[subprocess.Popen[bytes]]
) -> None:
    ids = [
        client.post("/api/v1/achievements", json=achievement(external_id=f"A-{n}", title=f"冷链技术 {n}")).json()["id"]
        for n in range(6)
    ]
    factory = client.app.state.session_factory  # type: ignore[attr-defined]
    client.app.state.search.sync()  # type: ignore[attr-defined]  # the follower stores no vector after the delete
    with unit_of_work(factory) as s:  # a new model, say: these vectors are missing
        s.execute(delete(Embedding).where(Embedding.kind == "achievements", Embedding.record_id.in_(ids[:4])))
    _start_worker(broker_env, workers)
    done = subprocess.run(
        [sys.executable, "-c", "from matchmaker.cli import app; app(['reindex'])"],
        env=broker_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr  # the CLI's console writes to stderr
    assert done.returncode == 0, output
    assert "embedded on the workers: 4 vectors" in output
    assert "texts embedded this time: 0" in output  # the rebuild found every vector in the cache
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Embedding).where(Embedding.kind == "achievements")) == 6
