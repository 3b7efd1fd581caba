"""Matching runs (services/runs.py): who starts one, which needs it ranks, how its pairings replace earlier proposals
while decisions are kept and never proposed again, its progress, its spreadsheet and the needs left without a good
pairing."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from matchmaker.errors import Forbidden, NotFound, ValidationFailed
from matchmaker.kinds import ACHIEVEMENTS, DEMANDS
from matchmaker.models import Match
from matchmaker.schemas import AchievementCreate, DemandCreate
from matchmaker.schemas.matching import MatchFilters
from matchmaker.search.bands import NO_GOOD_ACHIEVEMENT
from matchmaker.services.access import Principal
from matchmaker.services.indexing import SearchService
from matchmaker.services.readers import decode_text
from matchmaker.services.records import create_record
from matchmaker.services.run_jobs import execute_run
from matchmaker.services.runs import (
    RUN_EXPORT_HEADERS,
    create_run,
    export_run,
    get_run,
    run_summary,
    selected_needs,
    unmatched_needs,
)
from tests.factories import achievement, demand

NEEDS = {  # external id → overrides of the factory's need (a confidential cold-chain need in 生物医药, 天津)
    "N-COLD": {"confidential": True},
    "N-WELD": {
        "title": "储罐焊缝低温开裂",
        "description": "焊缝-40℃冲击不合格。",
        "field": "高端装备",
        "min_trl": None,
    },
    "N-CLOSED": {"status": "closed"},
}


class Lists:
    """Two achievements and three needs, committed where the app's search service indexes them."""

    def __init__(self, client: TestClient) -> None:
        self.factory: sessionmaker[Session] = client.app.state.session_factory  # type: ignore[attr-defined]
        self.search: SearchService = client.app.state.search  # type: ignore[attr-defined]
        self.ids: dict[str, int] = {}
        with self.factory() as s:
            for ext, overrides in (("A-COLD", {}), ("A-WELD", {"title": "低温焊材", "summary": "-60℃韧性焊丝。"})):
                body = AchievementCreate(**achievement(external_id=ext, **overrides))  # type: ignore[arg-type]
                self.ids[ext] = create_record(s, ACHIEVEMENTS, body).id
            for ext, overrides in NEEDS.items():
                body = DemandCreate(**demand(external_id=ext, **overrides))  # type: ignore[arg-type]
                self.ids[ext] = create_record(s, DEMANDS, body).id
            s.commit()

    def run(self, k: int = 2, **filters: object) -> int:
        with self.factory() as s:
            run = create_run(
                s,
                k=k,
                filters=MatchFilters(**filters),  # type: ignore[arg-type]
                achievement_filters=MatchFilters(),
                constraints="flag",
                model="test",
            )
            s.commit()
        execute_run(self.factory, self.search, run.id)
        return run.id

    def pairings(self, s: Session, run_id: int | None = None) -> list[Match]:
        stmt = select(Match).order_by(Match.demand_id, Match.rank)
        return list(s.scalars(stmt if run_id is None else stmt.where(Match.run_id == run_id)))


@pytest.fixture
def lists(client: TestClient) -> Lists:
    return Lists(client)


def test_only_staff_start_a_run_and_its_parameters_are_checked(session: Session) -> None:
    start = {"filters": MatchFilters(), "achievement_filters": MatchFilters(), "constraints": "flag", "model": "m"}
    with pytest.raises(Forbidden):
        create_run(session, k=5, principal=Principal(user_id=1, role="enterprise", org_id=None), **start)  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed) as k:
        create_run(session, k=0, **start)  # type: ignore[arg-type]
    assert k.value.fields[0]["field"] == "k"
    with pytest.raises(ValidationFailed) as trl:
        create_run(session, k=5, **{**start, "achievement_filters": MatchFilters(trl_min=9, trl_max=2)})  # type: ignore[arg-type]
    assert trl.value.fields[0]["field"] == "trl_min"
    with pytest.raises(NotFound):
        get_run(session, 123_456)


def test_a_run_ranks_the_open_needs_of_its_filters(lists: Lists) -> None:
    run_id = lists.run(field=["高端装备"])
    with lists.factory() as s:
        run = get_run(s, run_id)
        summary = run_summary(run)
        assert (summary["status"], summary["total"], summary["done"], summary["progress"]) == ("done", 1, 1, 1.0)
        assert {m.demand_id for m in lists.pairings(s, run_id)} == {lists.ids["N-WELD"]}
        open_needs = [d.external_id for d in s.scalars(selected_needs(MatchFilters()))]
        assert open_needs == ["N-COLD", "N-WELD"]  # a closed need is never ranked


def test_decisions_survive_a_new_run_and_are_not_proposed_again(lists: Lists) -> None:
    first = lists.run()
    with lists.factory() as s:
        pairings = lists.pairings(s, first)
        assert len(pairings) == 4  # two open needs × k = 2
        decided, undecided = pairings[0], pairings[1]
        decided.status = "rejected"
        decided.reject_reason = "immature"
        kept_id, kept_pair = decided.id, (decided.demand_id, decided.achievement_id)
        replaced_pair = (undecided.demand_id, undecided.achievement_id)
        s.commit()
    second = lists.run()
    with lists.factory() as s:
        everything = lists.pairings(s)
        rejected = [m for m in everything if (m.demand_id, m.achievement_id) == kept_pair]
        assert [(m.id, m.status, m.run_id) for m in rejected] == [(kept_id, "rejected", first)]
        latest = lists.pairings(s, second)
        assert all(m.status == "proposed" for m in latest)
        assert kept_pair not in {(m.demand_id, m.achievement_id) for m in latest}
        # the earlier undecided proposal was replaced by this run's, not kept beside it
        assert [(m.demand_id, m.achievement_id) for m in everything].count(replaced_pair) == 1
        assert get_run(s, second).kept == 1


def test_the_spreadsheet_lists_each_pairing_and_hides_a_confidential_enterprise(lists: Lists) -> None:
    run_id = lists.run(k=1)
    with lists.factory() as s:
        rows = list(csv.reader(io.StringIO(decode_text(export_run(s, run_id, "csv")[0]))))
        assert rows[0] == RUN_EXPORT_HEADERS
        assert [r[0] for r in rows[1:]] == ["N-COLD", "N-WELD"]  # by need, then rank
        assert rows[1][2] == "津南医药物流有限公司"
        institution = Principal(user_id=1, role="institution", org_id=None)
        masked = list(csv.reader(io.StringIO(decode_text(export_run(s, run_id, "csv", institution)[0]))))
        assert masked[1][2] == ""  # confidential: no name for an institution
        assert masked[2][2] == "津南医药物流有限公司"
        with pytest.raises(ValidationFailed) as fmt:
            export_run(s, run_id, "pdf")
        assert fmt.value.fields[0]["field"] == "format"


def test_unmatched_needs_are_the_ones_without_a_good_pairing(lists: Lists) -> None:
    run_id = lists.run(k=1)
    with lists.factory() as s:
        pairings = {m.demand_id: m for m in lists.pairings(s, run_id)}
        bands = {demand_id: m.explanation["band"] for demand_id, m in pairings.items()}
        unmatched = unmatched_needs(s, run_id)
        listed = {u["demand"]["id"] for u in unmatched}
        assert listed == {d for d, band in bands.items() if band not in ("强", "可能")}
        for entry in unmatched:
            assert entry["verdict"] == NO_GOOD_ACHIEVEMENT
            assert entry["best_band"] == bands[entry["demand"]["id"]]
