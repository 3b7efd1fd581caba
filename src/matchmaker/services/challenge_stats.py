"""揭榜挂帅 figures for managers: challenges by stage, bounty published and awarded, proposals per challenge,
consortia and the cross-region ones (京津冀) proposed and awarded."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matchmaker.models.challenges import Challenge, ChallengeProposal
from matchmaker.services.access import Principal, require_staff
from matchmaker.services.challenges import PUBLIC_STAGES, STAGE_LABELS

AWARDED_STAGES = ("awarded", "signed", "accepted")
JJJ = {"北京", "天津", "河北"}


def _cross_region(proposal: ChallengeProposal) -> bool:
    return len(proposal.members) > 1 and len({m["region"] for m in proposal.members} & JJJ) > 1


def compute(session: Session, principal: Principal | None) -> dict[str, Any]:
    """The figures (staff)."""
    require_staff(principal, "see challenge statistics")
    by_stage = dict.fromkeys(STAGE_LABELS, 0)
    for stage, count in session.execute(select(Challenge.stage, func.count()).group_by(Challenge.stage)):
        by_stage[stage] = count
    published = list(session.scalars(select(Challenge).where(Challenge.stage.in_(PUBLIC_STAGES))))
    awarded = [c for c in published if c.stage in AWARDED_STAGES]
    proposals = list(session.scalars(select(ChallengeProposal).where(ChallengeProposal.status != "withdrawn")))
    consortia = [p for p in proposals if len(p.members) > 1]
    winners = [p for p in proposals if p.status == "awarded"]
    return {
        "by_stage": by_stage,
        "bounty_published_wan": float(sum((c.bounty_wan for c in published), Decimal(0))),
        "bounty_awarded_wan": float(sum((c.bounty_wan for c in awarded), Decimal(0))),
        "cofund_awarded_wan": float(sum((c.cofund_wan or Decimal(0) for c in awarded), Decimal(0))),
        "proposals": len(proposals),
        "proposals_per_challenge": round(len(proposals) / len(published), 2) if published else None,
        "consortium_proposals": len(consortia),
        "cross_region_consortia_proposed": sum(1 for p in consortia if _cross_region(p)),
        "cross_region_consortia_awarded": sum(1 for p in winners if _cross_region(p)),
    }
