"""揭榜挂帅 tables: challenges (榜单) with their indicators and rubric, proposals (揭榜申报), experts, scores, moves."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from matchmaker.db import Base
from matchmaker.models import JSONList, Money, TimestampMixin, utcnow

Measure = Numeric(18, 4)


class Challenge(TimestampMixin, Base):
    """A key enterprise's hard problem published with a bounty (榜单)."""

    __tablename__ = "challenges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    goal: Mapped[str] = mapped_column(Text)  # 攻关目标
    background: Mapped[str | None] = mapped_column(Text)
    field: Mapped[str] = mapped_column(String(20), index=True)
    region: Mapped[str] = mapped_column(String(10))  # the (lead) issuer's region
    issuer_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    issuers: Mapped[list[str]] = mapped_column(JSONList, default=list)  # 发榜单位, the lead first
    demand_ids: Mapped[list[int]] = mapped_column(JSONList, default=list)  # the needs it was built from
    bounty_wan: Mapped[Decimal] = mapped_column(Money)  # 榜额
    cofund_wan: Mapped[Decimal | None] = mapped_column(Money)  # the Centre's matching funds
    eligibility: Mapped[dict[str, Any]] = mapped_column(JSONList, default=dict)  # 揭榜条件
    deadline: Mapped[date] = mapped_column(Date)  # 申报截止日期 (inclusive, Beijing time)
    research_months: Mapped[int] = mapped_column(Integer)  # 攻关周期
    ip_ownership: Mapped[str | None] = mapped_column(String(300))
    ip_licence: Mapped[str | None] = mapped_column(String(300))
    contacts: Mapped[list[dict[str, Any]]] = mapped_column(JSONList, default=list)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)  # hide the issuers from applicants
    mask_applicants: Mapped[bool] = mapped_column(Boolean, default=False)  # hide applicants from the issuers
    stage: Mapped[str] = mapped_column(String(12), default="draft", index=True)
    stage_changed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    awarded_proposal_id: Mapped[int | None] = mapped_column(Integer)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class ChallengeIndicator(Base):
    """One 考核指标: a measurable target the result is accepted against."""

    __tablename__ = "challenge_indicators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    comparator: Mapped[str] = mapped_column(String(2))  # ≥ ≤ =
    target_value: Mapped[Decimal] = mapped_column(Measure)
    unit: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)  # the sub-goal in words (used by the suggestions)
    measured_value: Mapped[Decimal | None] = mapped_column(Measure)
    met: Mapped[bool | None] = mapped_column(Boolean)


class ChallengeCriterion(Base):
    """One criterion of the challenge's scoring rubric, with its weight."""

    __tablename__ = "challenge_criteria"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    weight: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)


class ChallengeExpert(Base):
    """An expert assigned to a challenge, with the conflicts of interest declared and the 专家论证 opinion."""

    __tablename__ = "challenge_experts"
    __table_args__ = (UniqueConstraint("challenge_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    conflicts: Mapped[list[str]] = mapped_column(JSONList, default=list)  # organisations declared
    declared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    vetting_ok: Mapped[bool | None] = mapped_column(Boolean)
    vetting_comment: Mapped[str | None] = mapped_column(Text)
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())


class ChallengeProposal(TimestampMixin, Base):
    """揭榜申报: one organisation's (or consortium's) application to solve a challenge."""

    __tablename__ = "challenge_proposals"
    __table_args__ = (UniqueConstraint("challenge_id", "org_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)  # the lead
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(12), default="submitted", index=True)
    members: Mapped[list[dict[str, Any]]] = mapped_column(JSONList, default=list)  # the lead first
    team: Mapped[str] = mapped_column(Text)
    approach: Mapped[str] = mapped_column(Text)
    achievement_ids: Mapped[list[int]] = mapped_column(JSONList, default=list)
    promises: Mapped[list[dict[str, Any]]] = mapped_column(JSONList, default=list)  # indicator_id, value
    budget_wan: Mapped[Decimal] = mapped_column(Money)
    schedule: Mapped[list[dict[str, Any]]] = mapped_column(JSONList, default=list)  # month, milestone


class ProposalScore(TimestampMixin, Base):
    """One expert's independent scores of one proposal, per rubric criterion (0–100)."""

    __tablename__ = "proposal_scores"
    __table_args__ = (UniqueConstraint("proposal_id", "expert_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("challenge_proposals.id", ondelete="CASCADE"), index=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scores: Mapped[dict[str, float]] = mapped_column(JSONList, default=dict)  # criterion id (text) → score
    total: Mapped[float] = mapped_column(Float)
    comment: Mapped[str | None] = mapped_column(Text)


class ChallengeEvent(Base):
    """One move of a challenge through its life cycle (its history)."""

    __tablename__ = "challenge_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    from_stage: Mapped[str | None] = mapped_column(String(12))
    to_stage: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())
