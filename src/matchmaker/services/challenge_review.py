"""Expert review of challenges: assignment, declarations (conflicts, 专家论证 opinion), rubric, scores, ranking.

An expert scores each proposal independently, per rubric criterion (0–100); an expert whose organisation, or one
they declared, is in a proposal's team cannot score it (conflict of interest, 403). The ranking averages the experts'
weighted totals and shows the spread between them (max − min, and the standard deviation).
"""

from __future__ import annotations

import statistics
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from matchmaker.models import Organisation, User, utcnow
from matchmaker.models.challenges import ChallengeCriterion, ChallengeExpert, ChallengeProposal, ProposalScore
from matchmaker.schemas.challenges import CriterionIn, ExpertAssign, ExpertDeclaration, ScoreIn
from matchmaker.services.access import Principal, require_staff
from matchmaker.services.audit import audit
from matchmaker.services.challenge_proposals import assignment, expert_conflicted
from matchmaker.services.challenges import MOVES, criteria_of, get_visible, set_rubric

FINAL = tuple(stage for stage, moves in MOVES.items() if not moves)


def assign(session: Session, challenge_id: int, body: ExpertAssign, principal: Principal | None) -> None:
    """A manager assigns an expert (a user with the expert role) to a challenge."""
    require_staff(principal, "assign experts")
    challenge = get_visible(session, challenge_id, principal)
    if challenge.stage in FINAL:
        raise Conflict(f"challenge {challenge_id} is {challenge.stage}", fields=[field_error("stage", "final")])
    user = session.get(User, body.user_id)
    if user is None or user.role != "expert" or not user.active:
        raise ValidationFailed(
            f"user {body.user_id} is not an active expert", fields=[field_error("user_id", "not an expert")]
        )
    if assignment(session, challenge.id, user.id) is not None:
        raise Conflict(f"expert {user.id} is already assigned", fields=[field_error("user_id", "already assigned")])
    session.add(ChallengeExpert(challenge_id=challenge.id, user_id=user.id, conflicts=list(body.conflicts)))
    session.flush()
    audit(session, "challenge", challenge.id, "assign_expert", {"user_id": user.id, "conflicts": body.conflicts})


def experts(session: Session, challenge_id: int, principal: Principal | None) -> list[dict[str, Any]]:
    """The challenge's experts with their declarations (staff)."""
    require_staff(principal, "list a challenge's experts")
    get_visible(session, challenge_id, principal)
    rows = session.execute(
        select(ChallengeExpert, User, Organisation.name)
        .join(User, ChallengeExpert.user_id == User.id)
        .outerjoin(Organisation, User.org_id == Organisation.id)
        .where(ChallengeExpert.challenge_id == challenge_id)
        .order_by(ChallengeExpert.id)
    ).all()
    return [
        {
            "user_id": user.id,
            "email": user.email,
            "organisation": org,
            "conflicts": e.conflicts,
            "declared_at": e.declared_at,
            "vetting_ok": e.vetting_ok,
            "vetting_comment": e.vetting_comment,
        }
        for e, user, org in rows
    ]


def expert_users(session: Session, principal: Principal | None) -> list[dict[str, Any]]:
    """The active experts managers may assign, with their organisation (staff)."""
    require_staff(principal, "list the experts")
    rows = session.execute(
        select(User.id, User.email, Organisation.name)
        .outerjoin(Organisation, User.org_id == Organisation.id)
        .where(User.role == "expert", User.active.is_(True))
        .order_by(User.email)
    )
    return [{"id": uid, "email": email, "organisation": org} for uid, email, org in rows]


def require_expert(principal: Principal | None) -> Principal:
    """The caller, who must be an expert: only experts declare and score (403 for every other role)."""
    if principal is None or principal.role != "expert":
        raise Forbidden("only the challenge's experts declare and score")
    return principal


def _my_assignment(session: Session, challenge_id: int, principal: Principal | None) -> ChallengeExpert:
    expert_principal = require_expert(principal)
    get_visible(session, challenge_id, principal)  # 404 unless assigned
    expert = assignment(session, challenge_id, expert_principal.user_id)
    assert expert is not None  # visible to an expert means assigned
    return expert


def declare(session: Session, challenge_id: int, body: ExpertDeclaration, principal: Principal | None) -> None:
    """An expert declares conflicts of interest and gives the 专家论证 opinion (during vetting)."""
    expert = _my_assignment(session, challenge_id, principal)
    challenge = get_visible(session, challenge_id, principal)
    diff: dict[str, Any] = {}
    if body.conflicts is not None:
        expert.conflicts = list(dict.fromkeys(body.conflicts))
        expert.declared_at = utcnow()
        diff["conflicts"] = expert.conflicts
    if body.vetting_ok is not None or body.vetting_comment is not None:
        if challenge.stage != "vetting":
            raise Conflict(
                "专家论证意见只能在专家论证阶段提交 (the challenge is not being vetted)",
                fields=[field_error("vetting_ok", f"stage is {challenge.stage}")],
            )
        if body.vetting_ok is None:
            raise ValidationFailed(
                "vetting_ok is required with a comment", fields=[field_error("vetting_ok", "missing")]
            )
        expert.vetting_ok = body.vetting_ok
        expert.vetting_comment = body.vetting_comment
        diff["vetting_ok"] = body.vetting_ok
    if diff:
        session.flush()
        audit(session, "challenge", challenge_id, "expert_declaration", diff)


def replace_rubric(session: Session, challenge_id: int, items: list[CriterionIn], principal: Principal | None) -> None:
    """Managers set the scoring rubric until review starts."""
    require_staff(principal, "set the rubric")
    challenge = get_visible(session, challenge_id, principal)
    if challenge.stage not in ("draft", "vetting", "published", "closed"):
        raise Conflict(
            "评审开始后不能修改评分细则 (the rubric is frozen once review starts)",
            fields=[field_error("rubric", f"stage is {challenge.stage}")],
        )
    if not items:
        raise ValidationFailed("the rubric needs at least one criterion", fields=[field_error("rubric", "empty")])
    set_rubric(session, challenge, items)
    session.flush()
    audit(session, "challenge", challenge.id, "rubric", {"criteria": [c.name for c in items]})


def weighted_total(criteria: list[ChallengeCriterion], scores: dict[str, float]) -> float:
    """The weighted mean of one expert's criterion scores (0–100)."""
    weight = sum(c.weight for c in criteria)
    return sum(c.weight * float(scores[str(c.id)]) for c in criteria) / weight


def score(
    session: Session, challenge_id: int, proposal_id: int, body: ScoreIn, principal: Principal | None
) -> dict[str, Any]:
    """An assigned expert scores one proposal during review (again to revise); conflicts of interest answer 403."""
    expert = _my_assignment(session, challenge_id, principal)
    challenge = get_visible(session, challenge_id, principal)
    if challenge.stage != "reviewing":
        raise Conflict(
            f"只能在评审阶段打分 (the challenge is {challenge.stage})", fields=[field_error("stage", challenge.stage)]
        )
    proposal = session.get(ChallengeProposal, proposal_id)
    if proposal is None or proposal.challenge_id != challenge.id or proposal.status == "withdrawn":
        raise NotFound(f"proposal {proposal_id} not found")
    if expert_conflicted(session, expert, proposal):
        raise Forbidden(
            "利益冲突: 专家所在或申报回避的单位参与了该申报，不能评分 (conflict of interest)",
            fields=[field_error("proposal_id", "conflict of interest")],
        )
    criteria = criteria_of(session, challenge.id)
    known = {c.id for c in criteria}
    problems = [field_error("scores", f"缺少评分项「{c.name}」({c.id})") for c in criteria if c.id not in body.scores]
    problems += [field_error("scores", f"评分项 {k} 不在评分细则中") for k in body.scores if k not in known]
    if problems:
        raise ValidationFailed("每个评分项都需打分 (score every rubric criterion)", fields=problems)
    scores = {str(k): float(v) for k, v in body.scores.items()}
    total = round(weighted_total(criteria, scores), 2)
    assert principal is not None
    row = session.scalar(
        select(ProposalScore).where(
            ProposalScore.proposal_id == proposal.id, ProposalScore.expert_id == principal.user_id
        )
    )
    if row is None:
        row = ProposalScore(proposal_id=proposal.id, expert_id=principal.user_id, scores=scores, total=total)
        session.add(row)
    row.scores, row.total, row.comment, row.updated_at = scores, total, body.comment, utcnow()
    session.flush()
    audit(session, "proposal", proposal.id, "score", {"expert_id": principal.user_id, "total": total})
    return {
        "proposal_id": proposal.id,
        "expert_id": principal.user_id,
        "scores": scores,
        "total": total,
        "comment": body.comment,
    }


def my_score(session: Session, challenge_id: int, proposal_id: int, principal: Principal | None) -> dict[str, Any]:
    """The calling expert's own score of a proposal (experts never see each other's)."""
    _my_assignment(session, challenge_id, principal)
    assert principal is not None
    row = session.scalar(
        select(ProposalScore)
        .join(ChallengeProposal, ProposalScore.proposal_id == ChallengeProposal.id)
        .where(
            ProposalScore.proposal_id == proposal_id,
            ProposalScore.expert_id == principal.user_id,
            ChallengeProposal.challenge_id == challenge_id,
        )
    )
    if row is None:
        raise NotFound(f"no score of yours for proposal {proposal_id}")
    return {
        "proposal_id": row.proposal_id,
        "expert_id": row.expert_id,
        "scores": row.scores,
        "total": row.total,
        "comment": row.comment,
    }


def ranking(session: Session, challenge_id: int, principal: Principal | None) -> list[dict[str, Any]]:
    """The proposals ranked by the experts' mean weighted total, with the spread between experts (staff)."""
    require_staff(principal, "see the ranking of proposals")
    challenge = get_visible(session, challenge_id, principal)
    proposals = list(
        session.scalars(
            select(ChallengeProposal).where(
                ChallengeProposal.challenge_id == challenge.id, ChallengeProposal.status != "withdrawn"
            )
        )
    )
    assigned = list(session.scalars(select(ChallengeExpert).where(ChallengeExpert.challenge_id == challenge.id)))
    scores: dict[int, list[ProposalScore]] = {p.id: [] for p in proposals}
    for row in session.scalars(select(ProposalScore).where(ProposalScore.proposal_id.in_(list(scores) or [-1]))):
        scores[row.proposal_id].append(row)
    items = []
    for p in proposals:
        totals = [s.total for s in scores[p.id]]
        eligible = sum(1 for e in assigned if not expert_conflicted(session, e, p))
        items.append(
            {
                "proposal_id": p.id,
                "applicant": p.members[0]["name"],
                "mean": round(statistics.fmean(totals), 2) if totals else None,
                "spread": round(max(totals) - min(totals), 2) if totals else None,
                "stdev": round(statistics.pstdev(totals), 2) if totals else None,
                "experts_scored": len(totals),
                "experts_eligible": eligible,
                "per_expert": [
                    {"expert_id": s.expert_id, "total": s.total, "comment": s.comment}
                    for s in sorted(scores[p.id], key=lambda s: s.expert_id)
                ],
            }
        )
    items.sort(key=lambda i: (i["mean"] is None, -(i["mean"] or 0), i["proposal_id"]))
    return [{"rank": n, **item} for n, item in enumerate(items, start=1)]
