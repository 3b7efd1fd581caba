"""The workflow's allowed moves are the domain's: every status × every target status, through the service."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from matchmaker.domain import MATCH_STATUSES, MOVES, REJECT_REASONS, MatchStatus, RejectReason, allowed_moves
from matchmaker.errors import Conflict
from matchmaker.kinds import ACHIEVEMENTS, DEMANDS
from matchmaker.models import Match
from matchmaker.models.landing import Landing, TechContract
from matchmaker.schemas import AchievementCreate, DemandCreate
from matchmaker.schemas.review import MatchChange
from matchmaker.services.records import create_record
from matchmaker.services.workflow import (
    MatchQuery,
    count_by_status,
    get_match,
    list_matches,
    page_matches,
    update_match,
)


def _pairings(session: Session, count: int) -> list[Match]:
    offer = create_record(session, ACHIEVEMENTS, AchievementCreate(title="成果", summary="简介"))
    matches = []
    for i in range(count):
        need = create_record(session, DEMANDS, DemandCreate(title=f"需求{i}", description="描述"))
        match = Match(demand_id=need.id, achievement_id=offer.id, rank=1, score=0.8, status="proposed")
        session.add(match)
        matches.append(match)
    session.flush()
    return matches


def _contract_and_landing(session: Session, match_id: int) -> None:
    session.add(
        TechContract(
            match_id=match_id,
            contract_type="技术许可",
            title="许可合同",
            parties=[],
            signed_on=date(2026, 1, 5),
            total_wan=Decimal(10),
            tech_wan=Decimal(8),
        )
    )
    session.add(
        Landing(
            match_id=match_id,
            carrier_kind="园区",
            carrier_name="天开高教科创园",
            region="天津",
            landed_on=date(2026, 2, 1),
        )
    )
    session.flush()


def test_every_move_is_allowed_exactly_when_the_domain_allows_it(session: Session) -> None:
    cases = [(source, target) for source in MATCH_STATUSES for target in MATCH_STATUSES if source != target]
    for match, (source, target) in zip(_pairings(session, len(cases)), cases, strict=True):
        match.status = source
        session.flush()
        assert get_match(session, match.id, None)["allowed_moves"] == list(MOVES[source])
        change = {"status": target, "reject_reason": "immature" if target == "rejected" else None}
        if target in allowed_moves(source):
            if target == "landed":  # 落地 also needs a contract and a landing record (refused without: 409)
                with pytest.raises(Conflict) as missing:
                    update_match(session, match.id, change, None)
                assert missing.value.extra["missing"] == ["contract", "landing"]
                _contract_and_landing(session, match.id)
            update_match(session, match.id, change, None)
            assert match.status == target
        else:
            with pytest.raises(Conflict) as refused:
                update_match(session, match.id, change, None)
            assert refused.value.extra["allowed"] == list(MOVES[source])
            assert match.status == source


def test_the_api_accepts_the_domains_statuses_and_reasons() -> None:
    assert tuple(MatchStatus) == MATCH_STATUSES
    assert tuple(RejectReason) == REJECT_REASONS
    for status in MATCH_STATUSES:
        assert MatchChange(status=status).status == status
    with pytest.raises(ValueError, match="status"):
        MatchChange(status="archived")


def test_pages_and_counts_agree_with_the_joined_rows_for_every_filter(session: Session) -> None:
    """The list counts and pages the matches table alone unless a filter reads a side: the same pairings, in the
    same order, as filtering the joined rows in Python."""
    regions = ("北京", "天津", "河北")
    offers = [
        create_record(session, ACHIEVEMENTS, AchievementCreate(title=f"成果{r}", summary="简介", region=r))
        for r in regions
    ]
    matches = []
    for i in range(12):
        need = create_record(
            session, DEMANDS, DemandCreate(title=f"需求{i}", description="描述", region=regions[i % 2 + 1])
        )
        status = MATCH_STATUSES[i % 4]
        match = Match(demand_id=need.id, achievement_id=offers[i % 3].id, rank=i % 5, score=i / 10, status=status)
        session.add(match)
        matches.append((match, need, offers[i % 3]))
    session.flush()
    cases = [
        (MatchQuery(), lambda m, d, a: True),
        (MatchQuery(statuses=("proposed", "contacted")), lambda m, d, a: m.status in ("proposed", "contacted")),
        (MatchQuery(regions=("天津",)), lambda m, d, a: d.region == "天津"),
        (
            MatchQuery(achievement_regions=("北京",), regions=("河北",)),
            lambda m, d, a: (a.region, d.region) == ("北京", "河北"),
        ),
        (MatchQuery(score_min=0.3, score_max=0.9, sort="-score"), lambda m, d, a: 0.3 <= m.score < 0.9),
    ]
    for query, keep in cases:
        rows = [r for r in matches if keep(*r)]
        if query.sort == "-score":
            rows.sort(key=lambda r: (-r[0].score, r[0].id))
        else:
            rows.sort(key=lambda r: (r[0].demand_id, r[0].rank, r[0].id))
        query.limit = 4
        items, total = list_matches(session, query, None)
        assert total == len(rows)
        assert [m["id"] for m in items] == [r[0].id for r in rows[:4]]
        expected: dict[str, int] = {}
        for match, _, _ in rows:
            expected[match.status] = expected.get(match.status, 0) + 1
        assert count_by_status(session, query, None) == expected
        query.offset = 4
        assert [m["id"] for m in page_matches(session, query, None)] == [r[0].id for r in rows[4:8]]
