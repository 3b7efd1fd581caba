"""揭榜挂帅: challenges (榜单) and their life cycle, enforced like the pairing workflow.

draft (草稿) → vetting (专家论证) → published (张榜; 揭榜申报 open until the deadline) → closed (申报截止) →
reviewing (评审) → awarded (揭榜成功) → signed (签约) → accepted (验收, each indicator met or not); or unsolved (流榜)
once applications have closed, or withdrawn (撤榜) before. Illegal moves answer 409 with the allowed ones; every
move is kept in the challenge's history and the audit log.

Who sees a challenge: staff all; an enterprise member the challenges its organisation issues; an institution member
the published ones (张榜 and later); an expert only those a manager assigned to them. A confidential challenge hides
its issuers from institutions and experts, as a confidential need does.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from matchmaker.errors import Conflict, NotFound, ValidationFailed, field_error
from matchmaker.models import Demand, Organisation, utcnow
from matchmaker.models.challenges import (
    Challenge,
    ChallengeCriterion,
    ChallengeExpert,
    ChallengeIndicator,
)
from matchmaker.schemas.challenges import ChallengeCreate, ChallengeUpdate, CriterionIn, IndicatorIn
from matchmaker.services.access import Principal, can_read, require_role
from matchmaker.services.audit import audit
from matchmaker.services.auth import get_or_create_org

STAGE_LABELS: dict[str, str] = {
    "draft": "草稿",
    "vetting": "专家论证",
    "published": "张榜",
    "closed": "申报截止",
    "reviewing": "评审",
    "awarded": "揭榜成功",
    "signed": "签约",
    "accepted": "验收",
    "unsolved": "流榜",
    "withdrawn": "撤榜",
}
MOVES: dict[str, tuple[str, ...]] = {
    "draft": ("vetting", "withdrawn"),
    "vetting": ("published", "draft", "withdrawn"),
    "published": ("closed", "withdrawn"),
    "closed": ("reviewing", "unsolved"),
    "reviewing": ("awarded", "unsolved"),
    "awarded": ("signed", "unsolved"),
    "signed": ("accepted",),
    "accepted": (),
    "unsolved": (),
    "withdrawn": (),
}
PUBLIC_STAGES = ("published", "closed", "reviewing", "awarded", "signed", "accepted", "unsolved")
EDITABLE_STAGES = ("draft", "vetting")
DEFAULT_RUBRIC: tuple[tuple[str, int, str], ...] = (
    ("技术方案", 30, "技术路线是否可行、先进，能否解决榜单问题"),
    ("团队实力", 25, "团队人员、平台条件和联合体分工"),
    ("前期基础", 20, "关联科技成果的相关性与成熟度"),
    ("指标承诺", 15, "承诺值是否达到或优于考核指标"),
    ("经费与进度", 10, "预算与进度安排是否合理"),
)
BEIJING = timezone(timedelta(hours=8))


def today_cn() -> date:
    """Today in Beijing time: deadlines are the offices' dates."""
    return datetime.now(UTC).astimezone(BEIJING).date()


def deadline_passed(challenge: Challenge, today: date | None = None) -> bool:
    """Whether the application deadline (inclusive) is behind us."""
    return (today or today_cn()) > challenge.deadline


def scope(stmt: Select[Any], principal: Principal | None) -> Select[Any]:
    """Restrict a SELECT of challenges to those the caller may see."""
    if principal is None or principal.is_staff:
        return stmt
    if principal.role == "enterprise":
        return stmt.where(Challenge.issuer_org_id == principal.org_id)
    if principal.role == "expert":
        mine = select(ChallengeExpert.challenge_id).where(ChallengeExpert.user_id == principal.user_id)
        return stmt.where(Challenge.id.in_(mine))
    return stmt.where(Challenge.stage.in_(PUBLIC_STAGES))


def hides_issuer(principal: Principal | None, challenge: Challenge) -> bool:
    """A confidential challenge's issuers are hidden from institutions and experts."""
    if principal is None or principal.is_staff or principal.role == "enterprise":
        return False
    return challenge.confidential


def is_issuer(principal: Principal | None, challenge: Challenge) -> bool:
    """Whether the caller is a member of the challenge's issuing organisation."""
    return (
        principal is not None
        and principal.role == "enterprise"
        and challenge.issuer_org_id is not None
        and challenge.issuer_org_id == principal.org_id
    )


def get_visible(session: Session, challenge_id: int, principal: Principal | None) -> Challenge:
    """The challenge; 404 when there is none or the caller may not see it."""
    challenge = session.scalar(scope(select(Challenge).where(Challenge.id == challenge_id), principal))
    if challenge is None:
        raise NotFound(f"challenge {challenge_id} not found")
    return challenge


def _parts(session: Session, ids: list[int]) -> tuple[dict[int, list[Any]], dict[int, list[Any]]]:
    indicators: dict[int, list[Any]] = defaultdict(list)
    criteria: dict[int, list[Any]] = defaultdict(list)
    if ids:
        for i in session.scalars(
            select(ChallengeIndicator)
            .where(ChallengeIndicator.challenge_id.in_(ids))
            .order_by(ChallengeIndicator.position)
        ):
            indicators[i.challenge_id].append(i)
        for c in session.scalars(
            select(ChallengeCriterion)
            .where(ChallengeCriterion.challenge_id.in_(ids))
            .order_by(ChallengeCriterion.position)
        ):
            criteria[c.challenge_id].append(c)
    return indicators, criteria


def indicators_of(session: Session, challenge_id: int) -> list[ChallengeIndicator]:
    """The challenge's indicators in order."""
    return _parts(session, [challenge_id])[0][challenge_id]


def criteria_of(session: Session, challenge_id: int) -> list[ChallengeCriterion]:
    """The challenge's rubric in order."""
    return _parts(session, [challenge_id])[1][challenge_id]


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def present(
    challenge: Challenge,
    indicators: list[ChallengeIndicator],
    criteria: list[ChallengeCriterion],
    principal: Principal | None,
) -> dict[str, Any]:
    """A challenge as the caller may see it."""
    hide = hides_issuer(principal, challenge)
    staff = principal is None or principal.is_staff
    return {
        "id": challenge.id,
        "external_id": challenge.external_id,
        "title": challenge.title,
        "goal": challenge.goal,
        "background": challenge.background,
        "field": challenge.field,
        "region": challenge.region,
        "issuers": None if hide else list(challenge.issuers),
        "issuer_hidden": hide,
        "demand_ids": list(challenge.demand_ids) if not hide else [],
        "bounty_wan": float(challenge.bounty_wan),
        "cofund_wan": _float(challenge.cofund_wan),
        "total_wan": float(challenge.bounty_wan + (challenge.cofund_wan or 0)),
        "eligibility": challenge.eligibility,
        "deadline": challenge.deadline,
        "deadline_passed": deadline_passed(challenge),
        "research_months": challenge.research_months,
        "ip_ownership": challenge.ip_ownership,
        "ip_licence": challenge.ip_licence,
        "contacts": challenge.contacts,
        "confidential": challenge.confidential,
        "mask_applicants": challenge.mask_applicants,
        "stage": challenge.stage,
        "stage_label": STAGE_LABELS[challenge.stage],
        "allowed_moves": list(MOVES[challenge.stage]) if staff else [],
        "awarded_proposal_id": challenge.awarded_proposal_id,
        "decision_reason": challenge.decision_reason,
        "indicators": [
            {
                "id": i.id,
                "name": i.name,
                "comparator": i.comparator,
                "target_value": float(i.target_value),
                "unit": i.unit,
                "detail": i.detail,
                "measured_value": _float(i.measured_value),
                "met": i.met,
            }
            for i in indicators
        ],
        "rubric": [{"id": c.id, "name": c.name, "weight": c.weight, "description": c.description} for c in criteria],
        "created_at": challenge.created_at,
        "updated_at": challenge.updated_at,
        "stage_changed_at": challenge.stage_changed_at,
    }


def read(session: Session, challenge_id: int, principal: Principal | None) -> dict[str, Any]:
    """One challenge as the caller may see it."""
    challenge = get_visible(session, challenge_id, principal)
    indicators, criteria = _parts(session, [challenge.id])
    return present(challenge, indicators[challenge.id], criteria[challenge.id], principal)


def list_challenges(
    session: Session,
    principal: Principal | None,
    *,
    stages: tuple[str, ...] = (),
    field: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """One page of the challenges the caller may see, newest deadline first, and the total."""
    for stage in stages:
        if stage not in STAGE_LABELS:
            raise ValidationFailed(
                f"stage must be one of {', '.join(STAGE_LABELS)}", fields=[field_error("stage", f"unknown {stage!r}")]
            )
    stmt = scope(select(Challenge), principal)
    if stages:
        stmt = stmt.where(Challenge.stage.in_(stages))
    if field:
        stmt = stmt.where(Challenge.field == field)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = list(
        session.scalars(stmt.order_by(Challenge.deadline.desc(), Challenge.id.desc()).limit(limit).offset(offset))
    )
    indicators, criteria = _parts(session, [c.id for c in rows])
    return [present(c, indicators[c.id], criteria[c.id], principal) for c in rows], total


# ------------------------------------------------------------------------------------------------------- writing
def _set_indicators(session: Session, challenge: Challenge, items: list[IndicatorIn]) -> None:
    session.execute(delete(ChallengeIndicator).where(ChallengeIndicator.challenge_id == challenge.id))
    for n, item in enumerate(items, start=1):
        session.add(
            ChallengeIndicator(
                challenge_id=challenge.id,
                position=n,
                name=item.name,
                comparator=item.comparator,
                target_value=item.target_value,
                unit=item.unit,
                detail=item.detail,
            )
        )


def set_rubric(session: Session, challenge: Challenge, items: list[CriterionIn] | None) -> None:
    """Replace the rubric (the default one when ``items`` is None)."""
    rows = [(c.name, c.weight, c.description) for c in items] if items is not None else list(DEFAULT_RUBRIC)
    names = [r[0] for r in rows]
    if len(set(names)) != len(names):
        raise ValidationFailed("rubric criteria must have distinct names", fields=[field_error("rubric", "duplicate")])
    session.execute(delete(ChallengeCriterion).where(ChallengeCriterion.challenge_id == challenge.id))
    for n, (name, weight, description) in enumerate(rows, start=1):
        session.add(
            ChallengeCriterion(challenge_id=challenge.id, position=n, name=name, weight=weight, description=description)
        )


def _from_needs(session: Session, ids: list[int], principal: Principal | None) -> list[Demand]:
    needs = []
    for demand_id in dict.fromkeys(ids):
        need = session.get(Demand, demand_id)
        if (
            need is None
            or not can_read(principal, need)
            or (principal is not None and principal.role == "enterprise" and need.org_id != principal.org_id)
        ):
            raise NotFound(f"demand {demand_id} not found", fields=[field_error("demand_ids", f"no need {demand_id}")])
        needs.append(need)
    return needs


def create(session: Session, body: ChallengeCreate, principal: Principal | None) -> int:
    """A new draft challenge, written directly or built from needs; enterprises issue for their own organisation."""
    require_role(principal, ("enterprise",), "issue challenges")
    needs = _from_needs(session, body.demand_ids, principal)
    first = needs[0] if needs else None
    title = body.title or (first.title if first else None)
    goal = body.goal or ("\n".join(n.description for n in needs) if needs else None)
    bounty = body.bounty_wan if body.bounty_wan is not None else _sum_bounty(needs)
    deadline = body.deadline or next((n.deadline for n in needs if n.deadline), None)
    missing = [
        field_error(name, "required (or give demand_ids whose needs have it)")
        for name, value in (("title", title), ("goal", goal), ("bounty_wan", bounty), ("deadline", deadline))
        if value is None
    ]
    if missing:
        raise ValidationFailed(f"missing: {', '.join(m['field'] for m in missing)}", fields=missing)
    issuers = list(body.issuers) or list(dict.fromkeys(n.enterprise for n in needs if n.enterprise))
    issuer_org_id = first.org_id if first else None
    if principal is not None and principal.role == "enterprise":
        issuer_org_id = principal.org_id
        org = session.get(Organisation, principal.org_id) if principal.org_id else None
        if org is not None and org.name not in issuers:
            issuers.insert(0, org.name)
    elif issuer_org_id is None and issuers:
        issuer_org_id = get_or_create_org(session, issuers[0], "enterprise").id
    _check_unique_external_id(session, body.external_id, None)
    challenge = Challenge(
        external_id=body.external_id,
        title=title,
        goal=goal,
        background=body.background,
        field=body.field or (first.field if first else "其他"),
        region=body.region or (first.region if first else "天津"),
        issuer_org_id=issuer_org_id,
        issuers=issuers,
        demand_ids=[n.id for n in needs],
        bounty_wan=bounty,
        cofund_wan=body.cofund_wan,
        eligibility=body.eligibility.model_dump(mode="json"),
        deadline=deadline,
        research_months=body.research_months,
        ip_ownership=body.ip_ownership,
        ip_licence=body.ip_licence,
        contacts=[c.model_dump(exclude_none=True) for c in body.contacts],
        confidential=body.confidential if body.confidential is not None else any(n.confidential for n in needs),
        mask_applicants=body.mask_applicants,
        stage="draft",
        created_by=principal.user_id if principal else None,
    )
    session.add(challenge)
    session.flush()
    _set_indicators(session, challenge, body.indicators)
    set_rubric(session, challenge, body.rubric)
    session.flush()
    audit(session, "challenge", challenge.id, "create", {"title": title, "demand_ids": challenge.demand_ids})
    return challenge.id


def _sum_bounty(needs: list[Demand]) -> Decimal | None:
    bounties = [n.bounty_wan for n in needs if n.bounty_wan is not None]
    return sum(bounties, Decimal(0)) if bounties else None


def _check_unique_external_id(session: Session, external_id: str | None, own_id: int | None) -> None:
    if external_id is None:
        return
    other = session.scalar(select(Challenge.id).where(Challenge.external_id == external_id))
    if other is not None and other != own_id:
        raise Conflict(
            f"external_id {external_id} is already used by challenge {other}",
            fields=[field_error("external_id", "already used")],
        )


def update(session: Session, challenge_id: int, body: ChallengeUpdate, principal: Principal | None) -> None:
    """Edit a challenge while it is a draft (issuer or staff) or in 专家论证 (staff); later it is frozen."""
    require_role(principal, ("enterprise",), "edit challenges")
    challenge = get_visible(session, challenge_id, principal)
    allowed = EDITABLE_STAGES if principal is None or principal.is_staff else ("draft",)
    if challenge.stage not in allowed:
        raise Conflict(
            f"a challenge in stage {challenge.stage} ({STAGE_LABELS[challenge.stage]}) can no longer be edited",
            fields=[field_error("stage", f"editable in: {', '.join(allowed)}")],
        )
    changes = body.model_dump(exclude_unset=True)
    diff: dict[str, Any] = {}
    for name in ("indicators", "rubric"):
        if changes.pop(name, None) is not None:
            diff[name] = "replaced"
    if body.indicators is not None:
        _set_indicators(session, challenge, body.indicators)
    if body.rubric is not None:
        set_rubric(session, challenge, body.rubric)
    if "external_id" in changes:
        _check_unique_external_id(session, changes["external_id"], challenge.id)
    for name, value in changes.items():
        if value is None and name in ("title", "goal", "bounty_wan", "deadline", "research_months", "field", "region"):
            raise ValidationFailed(f"{name} cannot be emptied", fields=[field_error(name, "required")])
        if name == "eligibility":
            value = body.eligibility.model_dump(mode="json") if body.eligibility else {}
        if name == "contacts":
            value = [c.model_dump(exclude_none=True) for c in body.contacts or []]
        if getattr(challenge, name) != value:
            diff[name] = [getattr(challenge, name), value]
            setattr(challenge, name, value)
    if diff:
        challenge.updated_at = utcnow()
        session.flush()
        audit(session, "challenge", challenge.id, "update", {k: v for k, v in diff.items() if k != "eligibility"})


def issuer_label(challenge: Challenge, hide: bool) -> str:
    """The issuers as one text (or the masked label)."""
    return "（保密榜单）" if hide else "、".join(challenge.issuers)
