"""Tables of duplicate and stale listings: candidate pairs, merges (with their undo journal and the pointer from each
archived copy to its survivor) and stale flags."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from matchmaker.db import Base
from matchmaker.models import JSONList, utcnow


class DuplicateCandidate(Base):
    """Two records of one list that are probably the same achievement or need, until a manager decides."""

    __tablename__ = "duplicate_candidates"
    __table_args__ = (UniqueConstraint("kind", "record_a", "record_b"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)  # achievements | demands
    record_a: Mapped[int] = mapped_column(Integer, index=True)  # the smaller id
    record_b: Mapped[int] = mapped_column(Integer, index=True)
    probability: Mapped[float] = mapped_column(Float)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONList, default=dict)
    source: Mapped[str] = mapped_column(String(20), default="scan")  # scan | import
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)  # open | not_duplicate | merged
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())


class DuplicateMerge(Base):
    """One merge: the survivor, the records archived into it, and the journal of every row moved (for undo)."""

    __tablename__ = "duplicate_merges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    survivor_id: Mapped[int] = mapped_column(Integer, index=True)
    merged_ids: Mapped[list[int]] = mapped_column(JSONList, default=list)
    journal: Mapped[dict[str, Any]] = mapped_column(JSONList, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="applied")  # applied | undone
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())
    undone_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MergedRecord(Base):
    """The pointer from an archived copy to the record that survived its merge."""

    __tablename__ = "merged_records"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    record_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survivor_id: Mapped[int] = mapped_column(Integer, index=True)
    merge_id: Mapped[int] = mapped_column(ForeignKey("duplicate_merges.id", ondelete="CASCADE"), index=True)


class StaleFlag(Base):
    """A record found stale (deadline passed, or not updated for too long): prompted since ``flagged_at``, closed
    automatically at ``closed_at`` when nobody confirmed it within the grace period."""

    __tablename__ = "stale_flags"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    record_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reason: Mapped[str] = mapped_column(String(20))  # deadline | not_updated
    flagged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
