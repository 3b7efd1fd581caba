"""Durable jobs: the chunks a long job (a matching run, a reindex) is split into, each written in its own
transaction and marked done there, so that a restarted job takes only the chunks still pending."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from matchmaker.db import Base, UTCDateTime
from matchmaker.models import JSONList


class JobChunk(Base):
    """One chunk of a job: the ids it covers and whether its results are written (pending | done)."""

    __tablename__ = "job_chunks"
    __table_args__ = (
        UniqueConstraint("job_kind", "job_id", "seq"),
        Index("ix_job_chunks_pending", "job_kind", "job_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_kind: Mapped[str] = mapped_column(String(20))  # matching_run | reindex
    job_id: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    items: Mapped[list[Any]] = mapped_column(JSONList, default=list)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
