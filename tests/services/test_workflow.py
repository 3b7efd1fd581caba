"""The workflow's allowed moves are the domain's: every status × every target status, through the service."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from matchmaker.domain import MATCH_STATUSES, MOVES, REJECT_REASONS, MatchStatus, RejectReason, allowed_moves
from matchmaker.errors import Conflict
from matchmaker.kinds import ACHIEVEMENTS, DEMANDS
from matchmaker.models import Match
from matchmaker.schemas import AchievementCreate, DemandCreate
from matchmaker.schemas.review import MatchChange
from matchmaker.services.records import create_record
from matchmaker.services.workflow import get_match, update_match


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


def test_every_move_is_allowed_exactly_when_the_domain_allows_it(session: Session) -> None:
    cases = [(source, target) for source in MATCH_STATUSES for target in MATCH_STATUSES if source != target]
    for match, (source, target) in zip(_pairings(session, len(cases)), cases, strict=True):
        match.status = source
        session.flush()
        assert get_match(session, match.id, None)["allowed_moves"] == list(MOVES[source])
        change = {"status": target, "reject_reason": "immature" if target == "rejected" else None}
        if target in allowed_moves(source):
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
