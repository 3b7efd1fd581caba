"""揭榜申报: proposals to solve a challenge, by institution members (alone or leading a consortium).

Editable and withdrawable until the deadline, then frozen. Applicants see only their own proposals; the issuer sees
the proposals only after the deadline, without the applicants' names when the challenge masks them (until one is
awarded); experts see them once review has started; staff see everything.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from matchmaker.models import Achievement, Organisation, User, utcnow
from matchmaker.models.challenges import Challenge, ChallengeExpert, ChallengeProposal
from matchmaker.schemas.challenges import ProposalCreate, ProposalUpdate
from matchmaker.search.text import normalize_text, to_simplified
from matchmaker.services.access import Principal, can_read
from matchmaker.services.audit import audit
from matchmaker.services.challenges import deadline_passed, get_visible, indicators_of, is_issuer

REVIEW_STAGES = ("reviewing", "awarded", "signed", "accepted", "unsolved")
HIDDEN_APPLICANT = "（匿名申报）"


def org_key(name: str) -> str:
    """Comparable form of an organisation name (width, Traditional spellings, spaces)."""
    return to_simplified(normalize_text(name)).replace(" ", "").lower()


def member_names(proposal: ChallengeProposal) -> set[str]:
    """Every organisation of the proposal's team, as comparable names."""
    return {org_key(m["name"]) for m in proposal.members if m.get("name")}


def expert_conflicted(session: Session, expert: ChallengeExpert, proposal: ChallengeProposal) -> bool:
    """Conflict of interest: the expert's own organisation, or one they declared, is in the proposal's team."""
    user = session.get(User, expert.user_id)
    if user is not None and user.org_id is not None:
        if user.org_id == proposal.org_id:
            return True
        org = session.get(Organisation, user.org_id)
        if org is not None and org_key(org.name) in member_names(proposal):
            return True
    return bool({org_key(c) for c in expert.conflicts} & member_names(proposal))


def assignment(session: Session, challenge_id: int, user_id: int) -> ChallengeExpert | None:
    """The expert's assignment to the challenge, if any."""
    return session.scalar(
        select(ChallengeExpert).where(ChallengeExpert.challenge_id == challenge_id, ChallengeExpert.user_id == user_id)
    )


def require_applicant(principal: Principal | None, what: str = "apply to challenges") -> None:
    """Only institution members apply, edit and withdraw proposals (403 for every other role)."""
    if principal is not None and principal.role != "institution":
        raise Forbidden(f"{principal.role} members may not {what}; institution members do")


def _open_for_applications(challenge: Challenge) -> None:
    if challenge.stage != "published" or deadline_passed(challenge):
        raise Conflict(
            f"揭榜申报已截止或未开放 (applications are closed: stage {challenge.stage}, deadline {challenge.deadline})",
            fields=[field_error("deadline", f"open while published, until {challenge.deadline}")],
        )


def _validate(session: Session, challenge: Challenge, data: dict[str, Any], principal: Principal | None) -> None:
    problems: list[dict[str, Any]] = []
    rules = challenge.eligibility or {}
    members = data["members"]
    kinds = rules.get("org_kinds") or []
    for n, member in enumerate(members):
        if kinds and member["kind"] not in kinds:
            problems.append(
                field_error(f"members[{n}].kind", f"揭榜条件只允许 {'、'.join(kinds)} (got {member['kind']})")
            )
    regions = rules.get("regions") or []
    if regions and members[0]["region"] not in regions:
        problems.append(field_error("lead_region", f"牵头单位须位于 {'、'.join(regions)}"))
    names = [org_key(m["name"]) for m in members]
    if len(set(names)) != len(names):
        problems.append(field_error("partners", "联合体成员重复 (a member appears twice)"))
    indicator_ids = {i.id for i in indicators_of(session, challenge.id)}
    promised = [p["indicator_id"] for p in data["promises"]]
    for missing in sorted(indicator_ids - set(promised)):
        problems.append(field_error("promises", f"缺少指标 {missing} 的承诺值"))
    for unknown in sorted(set(promised) - indicator_ids):
        problems.append(field_error("promises", f"指标 {unknown} 不属于该榜单"))
    if len(set(promised)) != len(promised):
        problems.append(field_error("promises", "同一指标承诺了两次"))
    for n, step in enumerate(data["schedule"]):
        if step["month"] > challenge.research_months:
            problems.append(field_error(f"schedule[{n}].month", f"超出攻关周期 {challenge.research_months} 个月"))
    trls = []
    for achievement_id in data["achievement_ids"]:
        achievement = session.get(Achievement, achievement_id)
        if achievement is None or not can_read(principal, achievement):
            problems.append(field_error("achievement_ids", f"成果 {achievement_id} 不存在"))
        elif achievement.trl is not None:
            trls.append(achievement.trl)
    min_trl = rules.get("min_trl")
    if min_trl and not problems and max(trls, default=0) < min_trl:
        problems.append(
            field_error(
                "achievement_ids", f"揭榜条件要求前期成果成熟度不低于 TRL {min_trl} (linked: {max(trls, default=0)})"
            )
        )
    if problems:
        raise ValidationFailed("揭榜申报不符合要求: " + "; ".join(p["message"] for p in problems[:3]), fields=problems)


def _numbers(promises: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Promised values as JSON numbers (the schema validated them as decimals)."""
    return [{"indicator_id": p["indicator_id"], "value": float(p["value"])} for p in promises]


def _members(org_name: str, lead_kind: str, lead_region: str, partners: list[dict[str, Any]]) -> list[dict[str, Any]]:
    lead = {"name": org_name, "kind": lead_kind, "region": lead_region, "role": "牵头单位"}
    return [lead, *({**p, "role": "参与单位"} for p in partners)]


def create(session: Session, challenge_id: int, body: ProposalCreate, principal: Principal | None) -> int:
    """Apply to a published challenge before its deadline (institution members, one proposal per organisation)."""
    require_applicant(principal)
    challenge = get_visible(session, challenge_id, principal)
    _open_for_applications(challenge)
    org_id = principal.org_id if principal else None
    org = session.get(Organisation, org_id) if org_id is not None else None
    if org is None:
        raise ValidationFailed("an applicant needs an organisation", fields=[field_error("org", "missing")])
    existing = session.scalar(
        select(ChallengeProposal.id).where(
            ChallengeProposal.challenge_id == challenge.id, ChallengeProposal.org_id == org.id
        )
    )
    if existing is not None:
        raise Conflict(
            f"{org.name} 已申报该榜单 (proposal {existing}); edit it instead",
            fields=[field_error("challenge_id", "one proposal per organisation")],
            proposal_id=existing,
        )
    data = body.model_dump(mode="json")
    data["promises"] = _numbers(data["promises"])
    data["members"] = _members(org.name, body.lead_kind, body.lead_region, data.pop("partners"))
    _validate(session, challenge, data, principal)
    proposal = ChallengeProposal(
        challenge_id=challenge.id,
        org_id=org.id,
        submitted_by=principal.user_id if principal else None,
        status="submitted",
        members=data["members"],
        team=body.team,
        approach=body.approach,
        achievement_ids=list(dict.fromkeys(body.achievement_ids)),
        promises=data["promises"],
        budget_wan=body.budget_wan,
        schedule=sorted(data["schedule"], key=lambda s: s["month"]),
    )
    session.add(proposal)
    session.flush()
    audit(session, "proposal", proposal.id, "create", {"challenge_id": challenge.id, "org_id": org.id})
    return proposal.id


def _own(session: Session, challenge_id: int, proposal_id: int, principal: Principal | None) -> ChallengeProposal:
    proposal = session.get(ChallengeProposal, proposal_id)
    if (
        proposal is None
        or proposal.challenge_id != challenge_id
        or (principal is not None and (principal.role != "institution" or proposal.org_id != principal.org_id))
    ):
        raise NotFound(f"proposal {proposal_id} not found")
    return proposal


def update(
    session: Session, challenge_id: int, proposal_id: int, body: ProposalUpdate, principal: Principal | None
) -> None:
    """Change one's own proposal until the deadline; afterwards it is frozen (409)."""
    require_applicant(principal, "edit proposals")
    challenge = get_visible(session, challenge_id, principal)
    proposal = _own(session, challenge.id, proposal_id, principal)
    _open_for_applications(challenge)
    if proposal.status != "submitted":
        raise Conflict(f"proposal {proposal_id} is {proposal.status}", fields=[field_error("status", "not editable")])
    changes = body.model_dump(mode="json", exclude_unset=True)
    lead = proposal.members[0]
    partners = [{k: m[k] for k in ("name", "kind", "region")} for m in proposal.members[1:]]
    data: dict[str, Any] = {
        "members": _members(
            lead["name"],
            changes.get("lead_kind") or lead["kind"],
            changes.get("lead_region") or lead["region"],
            changes["partners"] if changes.get("partners") is not None else partners,
        ),
        "promises": _numbers(changes["promises"]) if changes.get("promises") else proposal.promises,
        "schedule": changes.get("schedule") or proposal.schedule,
        "achievement_ids": changes.get("achievement_ids")
        if changes.get("achievement_ids") is not None
        else proposal.achievement_ids,
    }
    _validate(session, challenge, data, principal)
    diff: dict[str, Any] = {}
    new_values = {
        "members": data["members"],
        "promises": data["promises"],
        "schedule": sorted(data["schedule"], key=lambda s: s["month"]),
        "achievement_ids": list(dict.fromkeys(data["achievement_ids"])),
        "team": body.team or proposal.team,
        "approach": body.approach or proposal.approach,
        "budget_wan": body.budget_wan if body.budget_wan is not None else proposal.budget_wan,
    }
    for name, value in new_values.items():
        if getattr(proposal, name) != value:
            diff[name] = "changed"
            setattr(proposal, name, value)
    if diff:
        proposal.updated_at = utcnow()
        session.flush()
        audit(session, "proposal", proposal.id, "update", diff)


def withdraw(session: Session, challenge_id: int, proposal_id: int, principal: Principal | None) -> None:
    """Withdraw one's own proposal before the deadline."""
    require_applicant(principal, "withdraw proposals")
    challenge = get_visible(session, challenge_id, principal)
    proposal = _own(session, challenge.id, proposal_id, principal)
    _open_for_applications(challenge)
    proposal.status = "withdrawn"
    proposal.updated_at = utcnow()
    session.flush()
    audit(session, "proposal", proposal.id, "withdraw", {"status": "withdrawn"})


def _visible(
    session: Session, challenge: Challenge, principal: Principal | None
) -> tuple[list[ChallengeProposal], ChallengeExpert | None]:
    stmt = select(ChallengeProposal).where(ChallengeProposal.challenge_id == challenge.id)
    expert = None
    if principal is None or principal.is_staff:
        pass
    elif principal.role == "institution":
        stmt = stmt.where(ChallengeProposal.org_id == principal.org_id)
    elif is_issuer(principal, challenge):
        if not deadline_passed(challenge) or challenge.stage in ("published", "draft", "vetting", "withdrawn"):
            raise Forbidden(f"发榜单位在申报截止 ({challenge.deadline}) 后才能查看揭榜申报")
        stmt = stmt.where(ChallengeProposal.status != "withdrawn")
    elif principal.role == "expert":
        expert = assignment(session, challenge.id, principal.user_id)
        if expert is None or challenge.stage not in REVIEW_STAGES:
            raise Forbidden("评审专家在评审阶段才能查看揭榜申报")
        stmt = stmt.where(ChallengeProposal.status != "withdrawn")
    else:
        raise Forbidden(f"{principal.role} members may not read proposals")
    return list(session.scalars(stmt.order_by(ChallengeProposal.id))), expert


def present(
    session: Session,
    challenge: Challenge,
    proposal: ChallengeProposal,
    principal: Principal | None,
    expert: ChallengeExpert | None = None,
) -> dict[str, Any]:
    """A proposal as the caller may see it."""
    hide = (
        challenge.mask_applicants and is_issuer(principal, challenge) and challenge.awarded_proposal_id != proposal.id
    )
    members = [{**m, "name": None} if hide else m for m in proposal.members]
    regions = {m["region"] for m in proposal.members}
    return {
        "id": proposal.id,
        "challenge_id": proposal.challenge_id,
        "status": proposal.status,
        "applicant": HIDDEN_APPLICANT if hide else proposal.members[0]["name"],
        "applicant_hidden": hide,
        "consortium": len(proposal.members) > 1,
        "cross_region": len(regions & {"北京", "天津", "河北"}) > 1,
        "members": members,
        "team": proposal.team,
        "approach": proposal.approach,
        "achievement_ids": [] if hide else proposal.achievement_ids,  # a published achievement would name its owner
        "promises": proposal.promises,
        "budget_wan": float(proposal.budget_wan),
        "schedule": proposal.schedule,
        "editable": proposal.status == "submitted"
        and challenge.stage == "published"
        and not deadline_passed(challenge),
        "conflict": expert_conflicted(session, expert, proposal) if expert is not None else None,
        "created_at": proposal.created_at,
        "updated_at": proposal.updated_at,
    }


def list_for(session: Session, challenge_id: int, principal: Principal | None) -> list[dict[str, Any]]:
    """The proposals of a challenge the caller may see."""
    challenge = get_visible(session, challenge_id, principal)
    proposals, expert = _visible(session, challenge, principal)
    return [present(session, challenge, p, principal, expert) for p in proposals]


def read(session: Session, challenge_id: int, proposal_id: int, principal: Principal | None) -> dict[str, Any]:
    """One proposal; 404 when the caller may not see it."""
    challenge = get_visible(session, challenge_id, principal)
    proposals, expert = _visible(session, challenge, principal)
    for proposal in proposals:
        if proposal.id == proposal_id:
            return present(session, challenge, proposal, principal, expert)
    raise NotFound(f"proposal {proposal_id} not found")
