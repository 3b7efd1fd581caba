"""The managers' review workflow: moves of a pairing through its life cycle, assignment, notes, disclosure, history.

proposed (推荐) → shortlisted (初筛) → contacted (对接) → meeting (洽谈) → signed (签约) → landed (落地); any open
stage may be rejected with a reason. landed and rejected are final; rejected pairings are never proposed again.
A pairing reaches landed only with a technology contract and a landing record (carrier, date); contracts are recorded
from signed on, and a landed pairing keeps at least one.

The life cycle itself (statuses, allowed moves, reject reasons, labels) is the domain's: :mod:`matchmaker.domain`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from matchmaker.domain import MATCH_STATUSES, REJECT_REASONS, allowed_moves, with_article
from matchmaker.errors import Conflict, NotFound, ValidationFailed, field_error
from matchmaker.models import Achievement, Demand, Match, MatchEvent, User, utcnow
from matchmaker.models.landing import Landing, TechContract
from matchmaker.services.access import Masking, Principal, masking, require_staff, scope_read
from matchmaker.services.audit import audit
from matchmaker.services.matching import achievement_brief, demand_brief


@dataclass
class MatchQuery:
    """Filters and page of the pairing list."""

    statuses: tuple[str, ...] = ()
    assignee_id: int | None = None
    fields: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    run_id: int | None = None
    demand_id: int | None = None
    achievement_id: int | None = None
    need_kind: str | None = None
    limit: int = 50
    offset: int = 0
    achievement_regions: tuple[str, ...] = ()  # with ``regions``: a region flow (北京 → 天津)
    score_min: float | None = None
    score_max: float | None = None  # exclusive
    created_since: datetime | None = None
    sort: str | None = None  # one of SORTS, "-" first for descending; None: by need then rank


SORTS: dict[str, Any] = {
    "score": Match.score,
    "rank": Match.rank,
    "created": Match.created_at,
    "updated": Match.updated_at,
    "status_changed": Match.status_changed_at,
    "need": Match.demand_id,
    "achievement": Match.achievement_id,
}
OPEN_STATUSES = ("proposed", "shortlisted", "contacted", "meeting", "signed")


def _visible(stmt: Select[Any], principal: Principal | None) -> Select[Any]:
    """Pairings the caller may see: staff all; an enterprise its needs'; an institution its achievements'."""
    if principal is None or principal.is_staff:
        return stmt
    if principal.role == "enterprise":
        stmt = stmt.where(Demand.org_id == principal.org_id)
    else:
        stmt = stmt.where(Achievement.org_id == principal.org_id)
    # The other side only while the caller may read it: an achievement set back to draft (or a need closed) leaves
    # the other organisation's pairings, as it leaves their lists.
    return scope_read(scope_read(stmt, "achievements", principal), "demands", principal)


def _base() -> Select[Any]:
    stmt = (
        select(Match, Demand, Achievement)
        .join(Demand, Match.demand_id == Demand.id)
        .join(Achievement, Match.achievement_id == Achievement.id)
    )
    return cast(Select[Any], stmt)


def _check_statuses(query: MatchQuery) -> None:
    for status in query.statuses:
        if status not in MATCH_STATUSES:
            raise ValidationFailed(
                f"status must be one of {', '.join(MATCH_STATUSES)}",
                fields=[field_error("status", f"unknown status {status!r}")],
            )


def _filtered(query: MatchQuery, principal: Principal | None, *columns: Any) -> Select[Any]:
    """SELECT of ``columns`` over the pairings the caller may see that match the filters. A side (need,
    achievement) is joined only when a filter or the caller's visibility reads it: every pairing has both sides
    (foreign keys, deleted with them), so the join never changes which pairings match, and counting and paging the
    matches table alone spares a lookup of each side per pairing."""
    own: list[Any] = []
    if query.statuses:
        own.append(Match.status.in_(query.statuses))
    if query.assignee_id is not None:
        own.append(Match.assignee_id == query.assignee_id)
    if query.run_id is not None:
        own.append(Match.run_id == query.run_id)
    if query.demand_id is not None:
        own.append(Match.demand_id == query.demand_id)
    if query.achievement_id is not None:
        own.append(Match.achievement_id == query.achievement_id)
    if query.score_min is not None:
        own.append(Match.score >= query.score_min)
    if query.score_max is not None:
        own.append(Match.score < query.score_max)
    if query.created_since is not None:
        own.append(Match.created_at >= query.created_since)
    on_demand: list[Any] = []
    if query.fields:
        on_demand.append(Demand.field.in_(query.fields))
    if query.regions:
        on_demand.append(Demand.region.in_(query.regions))
    if query.need_kind is not None:
        on_demand.append(Demand.need_kind == query.need_kind)
    on_achievement = [Achievement.region.in_(query.achievement_regions)] if query.achievement_regions else []
    scoped = principal is not None and not principal.is_staff
    stmt = select(*columns).select_from(Match)
    if on_demand or scoped:
        stmt = stmt.join(Demand, Match.demand_id == Demand.id)
    if on_achievement or scoped:
        stmt = stmt.join(Achievement, Match.achievement_id == Achievement.id)
    return _visible(stmt, principal).where(*own, *on_demand, *on_achievement)


def page_matches(session: Session, query: MatchQuery, principal: Principal | None) -> list[dict[str, Any]]:
    """One page of pairings (best first within each need), without the total."""
    _check_statuses(query)
    # The page's ids first, from the narrow filtered SELECT; then only those rows with both sides (sorting the
    # joined rows, texts and all, to keep fifty of them cost more than the whole query).
    ids = list(
        session.scalars(
            _ordered(_filtered(query, principal, Match.id), query.sort).limit(query.limit).offset(query.offset)
        )
    )
    if not ids:
        return []
    found = {m.id: (m, d, a) for m, d, a in session.execute(_base().where(Match.id.in_(ids))).all()}
    rows = [found[i] for i in ids]
    masks = masking(session, principal, [d.id for _, d, _ in rows])
    return [present(m, d, a, masks) for m, d, a in rows]


def list_matches(session: Session, query: MatchQuery, principal: Principal | None) -> tuple[list[dict[str, Any]], int]:
    """One page of pairings (best first within each need) and the total."""
    _check_statuses(query)
    total = session.scalar(_filtered(query, principal, func.count())) or 0
    return page_matches(session, query, principal), total


def count_by_status(session: Session, query: MatchQuery, principal: Principal | None) -> dict[str, int]:
    """How many pairings match the filters in each status (the statuses filter applies too)."""
    _check_statuses(query)
    stmt = _filtered(query, principal, Match.status, func.count()).group_by(Match.status)
    return {status: int(count) for status, count in session.execute(stmt)}


def _ordered(stmt: Select[Any], sort: str | None) -> Select[Any]:
    if not sort:
        return stmt.order_by(Match.demand_id, Match.rank, Match.id)
    column = SORTS.get(sort.removeprefix("-"))
    if column is None:
        raise ValidationFailed(
            f"sort must be one of {', '.join(SORTS)} (with - for descending)",
            fields=[field_error("sort", f"unknown sort {sort!r}")],
        )
    return stmt.order_by(column.desc() if sort.startswith("-") else column.asc(), Match.id)


def present(match: Match, demand: Demand, achievement: Achievement, masks: Masking) -> dict[str, Any]:
    """A pairing as the caller may see it."""
    return {
        "id": match.id,
        "status": match.status,
        "rank": match.rank,
        "score": round(match.score, 4),
        "run_id": match.run_id,
        "assignee_id": match.assignee_id,
        "reject_reason": match.reject_reason,
        "disclosed": match.disclosed,
        "notes": match.notes,
        "explanation": match.explanation,
        "demand": masks.apply(demand, demand_brief(demand)),
        "achievement": achievement_brief(achievement),
        "allowed_moves": list(allowed_moves(match.status)),
        "created_at": match.created_at,
        "updated_at": match.updated_at,
        "status_changed_at": match.status_changed_at,
    }


def get_match(session: Session, match_id: int, principal: Principal | None) -> dict[str, Any]:
    """One pairing; 404 when there is none or the caller may not see it."""
    row = session.execute(_visible(_base().where(Match.id == match_id), principal)).first()
    if row is None:
        raise NotFound(f"match {match_id} not found")
    match, demand, achievement = row
    return present(match, demand, achievement, masking(session, principal, [demand.id]))


def update_match(session: Session, match_id: int, changes: dict[str, Any], principal: Principal | None) -> None:
    """Move, assign, annotate or disclose a pairing (managers and admins); illegal moves answer 409."""
    require_staff(principal, "change pairings")
    match = session.get(Match, match_id)
    if match is None:
        raise NotFound(f"match {match_id} not found")
    diff: dict[str, Any] = {}
    now = utcnow()
    status = changes.get("status")
    if status is not None and status != match.status:
        allowed = allowed_moves(match.status)
        if status not in allowed:
            moves = ", ".join(allowed) or "none (final)"
            raise Conflict(
                f"cannot move {with_article(match.status)} pairing to {status}; allowed: {moves}",
                fields=[field_error("status", f"allowed: {moves}")],
                allowed=list(allowed),
            )
        if status == "landed":
            require_landing_ready(session, match)
        reason = changes.get("reject_reason")
        if status == "rejected" and reason not in REJECT_REASONS:
            raise ValidationFailed(
                f"rejecting needs reject_reason, one of {', '.join(REJECT_REASONS)}",
                fields=[field_error("reject_reason", f"one of {', '.join(REJECT_REASONS)}")],
            )
        session.add(
            MatchEvent(
                match_id=match.id,
                actor_id=principal.user_id if principal else None,
                from_status=match.status,
                to_status=status,
                reason=reason,
                note=changes.get("note"),
                at=now,
            )
        )
        diff["status"] = [match.status, status]
        match.status = status
        match.status_changed_at = now
        if status == "rejected":
            match.reject_reason = reason
            diff["reject_reason"] = reason
    elif changes.get("reject_reason") is not None:
        raise ValidationFailed(
            "reject_reason is only given when rejecting",
            fields=[field_error("reject_reason", "only with status rejected")],
        )
    if "assignee_id" in changes and changes["assignee_id"] != match.assignee_id:
        assignee = changes["assignee_id"]
        if assignee is not None:
            user = session.get(User, assignee)
            if user is None or user.role not in ("manager", "admin"):
                raise ValidationFailed(
                    "assignee_id must be a manager or admin", fields=[field_error("assignee_id", "not a manager")]
                )
        diff["assignee_id"] = [match.assignee_id, assignee]
        match.assignee_id = assignee
    if changes.get("note"):
        note = {"at": now.isoformat(), "by": principal.user_id if principal else None, "text": changes["note"]}
        match.notes = [*match.notes, note]
        diff["note"] = changes["note"]
    if "disclosed" in changes and changes["disclosed"] is not None and changes["disclosed"] != match.disclosed:
        diff["disclosed"] = [match.disclosed, changes["disclosed"]]
        match.disclosed = bool(changes["disclosed"])
    if diff:
        match.updated_at = now
        session.flush()
        audit(session, "match", match.id, "update", diff)


def history(session: Session, match_id: int, principal: Principal | None) -> list[dict[str, Any]]:
    """The moves of one pairing, oldest first."""
    get_match(session, match_id, principal)
    events = session.scalars(select(MatchEvent).where(MatchEvent.match_id == match_id).order_by(MatchEvent.id))
    return [
        {
            "from": e.from_status,
            "to": e.to_status,
            "reason": e.reason,
            "note": e.note,
            "actor_id": e.actor_id,
            "at": e.at,
        }
        for e in events
    ]


CONTRACT_STAGES = ("signed", "landed")


def landing_blockers(session: Session, match_id: int) -> list[str]:
    """What a pairing still lacks to be 落地 (landed): a technology contract, a landing record."""
    missing = []
    if session.scalar(select(func.count()).where(TechContract.match_id == match_id)) == 0:
        missing.append("contract")
    if session.scalar(select(func.count()).where(Landing.match_id == match_id)) == 0:
        missing.append("landing")
    return missing


def require_landing_ready(session: Session, match: Match) -> None:
    """409 naming what is missing when a pairing would land without a contract or without a landing record."""
    missing = landing_blockers(session, match.id)
    if not missing:
        return
    why = {
        "contract": f"没有技术合同 (no technology contract): record one with POST /api/v1/matches/{match.id}/contracts",
        "landing": f"没有落地记录 (no carrier and date): record it with POST /api/v1/matches/{match.id}/landing",
    }
    raise Conflict(
        "不能标记为落地 (cannot move to landed): " + "; ".join(why[m] for m in missing),
        fields=[field_error("status", why[m]) for m in missing],
        missing=missing,
    )


def require_contract_stage(match: Match) -> None:
    """409 unless the pairing has reached 签约 (contracts are recorded for signed and landed pairings)."""
    if match.status not in CONTRACT_STAGES:
        raise Conflict(
            f"合同只能在签约后登记 (a contract is recorded once the pairing is signed; this one is {match.status})",
            fields=[field_error("match_id", f"status is {match.status}, not signed or landed")],
            status=match.status,
        )


def require_signed_for_landing(match: Match) -> None:
    """409 unless the pairing is signed (the only stage that moves to landed)."""
    if match.status != "signed":
        raise Conflict(
            f"只有已签约的对接可以落地 (only a signed pairing lands; this one is {match.status})",
            fields=[field_error("match_id", f"status is {match.status}, not signed")],
            status=match.status,
        )


def require_contract_kept(session: Session, match: Match) -> None:
    """409 when the last contract of a landed pairing would be deleted."""
    if (
        match.status == "landed"
        and (session.scalar(select(func.count()).where(TechContract.match_id == match.id)) or 0) <= 1
    ):
        raise Conflict(
            "落地的对接至少保留一份技术合同 (a landed pairing keeps at least one contract)",
            fields=[field_error("contract", "the last contract of a landed pairing")],
        )
