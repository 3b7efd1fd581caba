"""From pairing to landing: the contracts a pairing signs, where it landed, and the resources that make it land."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from matchmaker.db import Base
from matchmaker.models import JSONList, Money, TimestampMixin, record_text, utcnow


class TechContract(TimestampMixin, Base):
    """A technology contract (技术合同) signed for a pairing; a pairing may sign several."""

    __tablename__ = "tech_contracts"
    __table_args__ = (CheckConstraint("total_wan >= 0 AND tech_wan >= 0 AND tech_wan <= total_wan", name="amounts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"), index=True)
    contract_type: Mapped[str] = mapped_column(String(10), index=True)  # 技术开发 | 技术转让 | ...
    title: Mapped[str] = mapped_column(String(200))
    parties: Mapped[list[dict[str, Any]]] = mapped_column(JSONList, default=list)  # role, name, region, kind
    signed_on: Mapped[date] = mapped_column(Date, index=True)
    term_start: Mapped[date | None] = mapped_column(Date)
    term_end: Mapped[date | None] = mapped_column(Date)
    total_wan: Mapped[Decimal] = mapped_column(Money)  # 合同成交总额
    tech_wan: Mapped[Decimal] = mapped_column(Money)  # 技术交易额: the total less equipment and materials
    registration_no: Mapped[str | None] = mapped_column(String(60))  # 技术合同认定登记号, text: formats vary by year
    file_name: Mapped[str | None] = mapped_column(String(200))
    file_type: Mapped[str | None] = mapped_column(String(10))
    file_size: Mapped[int | None] = mapped_column(Integer)
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    file_path: Mapped[str | None] = mapped_column(String(300))  # relative to the data directory
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Landing(Base):
    """Where and how a pairing landed (落地): the carrier, the date, the funding received."""

    __tablename__ = "landings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"), unique=True)
    carrier_kind: Mapped[str] = mapped_column(String(10))  # 园区 | 企业产线 | 新设企业
    carrier_name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(10), index=True)
    landed_on: Mapped[date] = mapped_column(Date, index=True)
    funding: Mapped[list[dict[str, Any]]] = mapped_column(JSONList, default=list)  # fund, amount_wan
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())


class LandingResource(TimestampMixin, Base):
    """A resource that makes achievements land (载体与资源): a park, an incubator, a pilot or proof-of-concept
    platform, a fund."""

    __tablename__ = "landing_resources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(12), index=True)  # 园区 | 孵化器 | 中试平台 | 概念验证中心 | 基金
    region: Mapped[str] = mapped_column(String(10), index=True)
    chains: Mapped[list[str]] = mapped_column(JSONList, default=list)  # empty: every chain
    trl_min: Mapped[int | None] = mapped_column(Integer)
    trl_max: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    capacity: Mapped[str | None] = mapped_column(String(300))
    fund_stage: Mapped[str | None] = mapped_column(String(10))
    ticket_min_wan: Mapped[Decimal | None] = mapped_column(Money)
    ticket_max_wan: Mapped[Decimal | None] = mapped_column(Money)
    contact: Mapped[str | None] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64))

    def embed_text(self) -> str:
        """The text that gets embedded and hashed."""
        return record_text(self.name, self.chains, f"{self.kind}：{self.description}")


class CentreTarget(Base):
    """One yearly target of the Centre (a year without rows uses the 2024 plan's defaults)."""

    __tablename__ = "centre_targets"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(30), primary_key=True)
    target: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())
