"""The life cycle of a challenge: legal moves, the checks each move makes, and the history (see challenges.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matchmaker.errors import Conflict, ValidationFailed, field_error
from matchmaker.models import utcnow
from matchmaker.models.challenges import (
    Challenge,
    ChallengeEvent,
    ChallengeExpert,
    ChallengeIndicator,
    ChallengeProposal,
)
from matchmaker.schemas.challenges import Move
from matchmaker.services.access import Principal, require_staff
from matchmaker.services.audit import audit
from matchmaker.services.challenges import (
    MOVES,
    STAGE_LABELS,
    deadline_passed,
    get_visible,
    indicators_of,
    today_cn,
)


def _need(condition: bool, message: str, field: str, *, conflict: bool = False) -> None:
    if not condition:
        error = Conflict if conflict else ValidationFailed
        raise error(message, fields=[field_error(field, message)])


def move(session: Session, challenge_id: int, body: Move, principal: Principal | None) -> None:
    """Move a challenge (managers and admins); illegal moves answer 409 with the allowed ones."""
    require_staff(principal, "move challenges")
    challenge = get_visible(session, challenge_id, principal)
    allowed = MOVES[challenge.stage]
    if body.to not in allowed:
        moves = ", ".join(allowed) or "none (final)"
        raise Conflict(
            f"不能从「{STAGE_LABELS[challenge.stage]}」转到 {body.to}: cannot move a {challenge.stage} challenge to "
            f"{body.to}; allowed: {moves}",
            fields=[field_error("to", f"allowed: {moves}")],
            allowed=list(allowed),
        )
    indicators = indicators_of(session, challenge.id)
    check = _CHECKS.get(body.to)
    if check is not None:
        check(session, challenge, indicators, body)
    now = utcnow()
    session.add(
        ChallengeEvent(
            challenge_id=challenge.id,
            actor_id=principal.user_id if principal else None,
            from_stage=challenge.stage,
            to_stage=body.to,
            reason=body.reason,
            at=now,
        )
    )
    diff: dict[str, Any] = {"stage": [challenge.stage, body.to]}
    if body.reason:
        diff["reason"] = body.reason
    challenge.stage = body.to
    challenge.stage_changed_at = now
    challenge.updated_at = now
    session.flush()
    audit(session, "challenge", challenge.id, "move", diff)


def _to_vetting(session: Session, challenge: Challenge, indicators: list[ChallengeIndicator], body: Move) -> None:
    _need(bool(indicators), "专家论证前至少需要一项考核指标 (at least one indicator)", "indicators")
    _need(challenge.bounty_wan > 0, "榜额必须大于0 (bounty_wan must be positive)", "bounty_wan")


def _to_published(session: Session, challenge: Challenge, indicators: list[ChallengeIndicator], body: Move) -> None:
    _to_vetting(session, challenge, indicators, body)
    _need(
        challenge.deadline > today_cn(),
        f"申报截止日期 {challenge.deadline} 已过，张榜前请修改 (the deadline must be in the future)",
        "deadline",
    )
    opinions = [
        e.vetting_ok
        for e in session.scalars(select(ChallengeExpert).where(ChallengeExpert.challenge_id == challenge.id))
    ]
    given = [o for o in opinions if o is not None]
    _need(bool(given), "张榜前需有专家论证意见 (no expert has vetted the challenge yet)", "vetting", conflict=True)
    _need(
        all(given),
        "有专家认为榜单表述不清，请修改后再论证 (an expert found it not well posed)",
        "vetting",
        conflict=True,
    )


def _to_closed(session: Session, challenge: Challenge, indicators: list[ChallengeIndicator], body: Move) -> None:
    _need(
        deadline_passed(challenge),
        f"申报截止日期 {challenge.deadline} 未到，不能截止申报 (the deadline has not passed)",
        "deadline",
        conflict=True,
    )


def _submitted(session: Session, challenge_id: int) -> list[ChallengeProposal]:
    return list(
        session.scalars(
            select(ChallengeProposal).where(
                ChallengeProposal.challenge_id == challenge_id, ChallengeProposal.status != "withdrawn"
            )
        )
    )


def _to_reviewing(session: Session, challenge: Challenge, indicators: list[ChallengeIndicator], body: Move) -> None:
    _need(
        bool(_submitted(session, challenge.id)),
        "没有揭榜申报，无法评审；可流榜 (no proposal: move to unsolved instead)",
        "proposals",
        conflict=True,
    )
    experts = session.scalar(select(func.count()).where(ChallengeExpert.challenge_id == challenge.id)) or 0
    _need(experts > 0, "评审前需指派评审专家 (assign experts first)", "experts", conflict=True)


def _to_awarded(session: Session, challenge: Challenge, indicators: list[ChallengeIndicator], body: Move) -> None:
    _need(body.proposal_id is not None, "揭榜成功需指定中榜申报 (proposal_id is required)", "proposal_id")
    _need(bool(body.reason), "请填写评审决定理由 (reason is required)", "reason")
    proposals = _submitted(session, challenge.id)
    winner = next((p for p in proposals if p.id == body.proposal_id), None)
    _need(winner is not None, f"申报 {body.proposal_id} 不属于该榜单或已撤回", "proposal_id")
    for p in proposals:
        p.status = "awarded" if p.id == body.proposal_id else "not_awarded"
    challenge.awarded_proposal_id = body.proposal_id
    challenge.decision_reason = body.reason


def _with_reason(session: Session, challenge: Challenge, indicators: list[ChallengeIndicator], body: Move) -> None:
    _need(bool(body.reason), "请填写理由 (reason is required)", "reason")
    if challenge.stage in ("reviewing", "awarded"):
        challenge.decision_reason = body.reason


def _to_accepted(session: Session, challenge: Challenge, indicators: list[ChallengeIndicator], body: Move) -> None:
    results = {r.indicator_id: r for r in body.results or []}
    missing = [i for i in indicators if i.id not in results]
    unknown = sorted(set(results) - {i.id for i in indicators})
    problems = [field_error("results", f"缺少指标「{i.name}」({i.id}) 的验收结果") for i in missing]
    problems += [field_error("results", f"指标 {u} 不属于该榜单") for u in unknown]
    if problems:
        raise ValidationFailed("验收需给出每项考核指标的实测值和是否达标 (every indicator's result)", fields=problems)
    for indicator in indicators:
        result = results[indicator.id]
        indicator.measured_value = result.measured_value
        indicator.met = result.met


_CHECKS = {
    "vetting": _to_vetting,
    "published": _to_published,
    "closed": _to_closed,
    "reviewing": _to_reviewing,
    "awarded": _to_awarded,
    "unsolved": _with_reason,
    "withdrawn": _with_reason,
    "accepted": _to_accepted,
}


def history(session: Session, challenge_id: int, principal: Principal | None) -> list[dict[str, Any]]:
    """The moves of one challenge, oldest first."""
    get_visible(session, challenge_id, principal)
    events = session.scalars(
        select(ChallengeEvent).where(ChallengeEvent.challenge_id == challenge_id).order_by(ChallengeEvent.id)
    )
    return [
        {"from_stage": e.from_stage, "to": e.to_stage, "reason": e.reason, "actor_id": e.actor_id, "at": e.at}
        for e in events
    ]
