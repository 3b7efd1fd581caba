"""The concept thesaurus managers edit (同义词 / 上下位 / 症状→技术 / 方向相反); see matchmaker.search.concepts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from matchmaker.db import Base
from matchmaker.models import utcnow


class ConceptLinkRow(Base):
    """One link of the thesaurus: source —relation→ target, where it came from and who wrote it."""

    __tablename__ = "concept_links"
    __table_args__ = (UniqueConstraint("source", "relation", "target"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    relation: Mapped[str] = mapped_column(String(20))  # synonym | broader | symptom | opposite
    target: Mapped[str] = mapped_column(String(100))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    field: Mapped[str | None] = mapped_column(String(20), nullable=True)  # the industrial chain, informative
    origin: Mapped[str] = mapped_column(String(20), default="manager")  # starter | manager | learned
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, server_default=func.now()
    )
