""" "希望对接": an enterprise (for one of its needs) or an institution (for one of its achievements) asks to be put in
touch about a suggested pairing. The pairing is recorded as proposed when no run proposed it yet (no stage is
skipped), and managers see which side asked."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.errors import Conflict, Forbidden, NotFound, field_error
from matchmaker.models import Match
from matchmaker.models.web import MatchInterest
from matchmaker.services.access import Principal
from matchmaker.services.audit import audit
from matchmaker.services.indexing import SearchService
from matchmaker.services.matching import match_record

MAX_RANK = 100


def express_interest(
    session: Session, search: SearchService, principal: Principal, demand_id: int, achievement_id: int
) -> Match:
    """Record the caller's side's interest in the pairing of a need and an achievement.

    The caller's own record is the source: an enterprise member's need, an institution member's achievement (404
    otherwise, as for its matches). The other record must be among that source's suggestions, ranked the way
    ``match_record`` ranks them for this caller, so one cannot ask about a record one may not see.
    """
    if principal.role not in ("enterprise", "institution"):
        raise Forbidden("only enterprise and institution members express interest in a pairing")
    source, own_id, other_id, key = (
        ("demands", demand_id, achievement_id, "achievement")
        if principal.role == "enterprise"
        else ("achievements", achievement_id, demand_id, "demand")
    )
    match = session.scalar(select(Match).where(Match.demand_id == demand_id, Match.achievement_id == achievement_id))
    suggestions = match_record(session, search, source, own_id, k=MAX_RANK, principal=principal)  # type: ignore[arg-type]
    found = next((s for s in suggestions if s[key]["id"] == other_id), None)
    if found is None and match is None:
        raise NotFound(
            f"{key} {other_id} is not among the suggestions", fields=[field_error(key, "not among the suggestions")]
        )
    if match is None:
        assert found is not None
        match = Match(
            demand_id=demand_id,
            achievement_id=achievement_id,
            status="proposed",
            rank=found["rank"],
            score=float(found["score"]),
            explanation=found["explanation"],
        )
        session.add(match)
        session.flush()
        audit(session, "match", match.id, "create", {"by": principal.role, "via": "interest"})
    elif match.status == "rejected":
        raise Conflict("this pairing was already declined", fields=[field_error("status", "rejected")])
    side = principal.role
    exists = session.scalar(
        select(MatchInterest.id).where(MatchInterest.match_id == match.id, MatchInterest.side == side)
    )
    if exists is None:
        session.add(MatchInterest(match_id=match.id, side=side, user_id=principal.user_id))
        session.flush()
        audit(session, "match", match.id, "interest", {"side": side})
    return match


def interested(session: Session, principal: Principal, match_pairs: list[tuple[int, int]]) -> set[tuple[int, int]]:
    """Which (need, achievement) pairs the caller's side already asked about."""
    if not match_pairs:
        return set()
    stmt = (
        select(Match.demand_id, Match.achievement_id)
        .join(MatchInterest, MatchInterest.match_id == Match.id)
        .where(MatchInterest.side == principal.role)
    )
    demand_ids = sorted({d for d, _ in match_pairs})
    rows = session.execute(stmt.where(Match.demand_id.in_(demand_ids))).all()
    wanted = set(match_pairs)
    return {(d, a) for d, a in rows if (d, a) in wanted}
