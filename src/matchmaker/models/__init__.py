"""SQLAlchemy tables: the supply list, the demand list, import batches and the change log the indexes follow.

Tables of the later capabilities (challenges, events, contracts, duplicates, ...) live in submodules of this package,
one per capability, imported at the end of this module so that ``Base.metadata`` always holds every table."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from matchmaker.db import Base, UTCDateTime
from matchmaker.search.documents import record_text

JSONList = JSON().with_variant(JSONB(), "postgresql")
Money = Numeric(14, 2)


def utcnow() -> datetime:
    """Timezone-aware now (UTC)."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A stored timestamp as an aware UTC datetime (SQLite hands them back naive; they are stored in UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class ImportBatch(Base):
    """One uploaded file: where records came from."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # achievements | demands
    filename: Mapped[str] = mapped_column(String(300))
    file_format: Mapped[str] = mapped_column(String(10))
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, server_default=func.now())


class RecordMixin(TimestampMixin):
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Unique within the organisation (see the lists' ``__table_args__``), never across: another organisation's ids
    # must not be probeable through a 409.
    external_id: Mapped[str | None] = mapped_column(String(100), index=True)
    title: Mapped[str] = mapped_column(String(200))
    keywords: Mapped[list[str]] = mapped_column(JSONList, default=list)
    field: Mapped[str] = mapped_column(String(20), index=True)
    region: Mapped[str] = mapped_column(String(10), index=True)
    status: Mapped[str] = mapped_column(String(10), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(40), default="api")
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id", ondelete="SET NULL"))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"), index=True)


class Achievement(RecordMixin, Base):
    """A research achievement offered for transfer (科技成果)."""

    __tablename__ = "achievements"
    __table_args__ = (
        Index("uq_achievements_org_external_id", func.coalesce(text("org_id"), 0), text("external_id"), unique=True),
    )

    summary: Mapped[str] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(200))
    trl: Mapped[int | None] = mapped_column(Integer, index=True)
    transfer_modes: Mapped[list[str]] = mapped_column(JSONList, default=list)
    ip: Mapped[str | None] = mapped_column(String(300))
    price_wan: Mapped[Decimal | None] = mapped_column(Money)

    def embed_text(self) -> str:
        """The text that gets embedded and hashed."""
        return record_text(self.title, self.keywords, self.summary)


class Demand(RecordMixin, Base):
    """An enterprise's technical need (技术需求)."""

    __tablename__ = "demands"
    __table_args__ = (
        Index("uq_demands_org_external_id", func.coalesce(text("org_id"), 0), text("external_id"), unique=True),
    )

    description: Mapped[str] = mapped_column(Text)
    enterprise: Mapped[str | None] = mapped_column(String(200))
    budget_wan: Mapped[Decimal | None] = mapped_column(Money)
    min_trl: Mapped[int | None] = mapped_column(Integer)
    deadline: Mapped[date | None] = mapped_column(Date)
    preferred_modes: Mapped[list[str]] = mapped_column(JSONList, default=list)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    bounty_wan: Mapped[Decimal | None] = mapped_column(Money)
    need_kind: Mapped[str] = mapped_column(String(10), default="技术需求", server_default="技术需求", index=True)

    def embed_text(self) -> str:
        """The text that gets embedded and hashed."""
        return record_text(self.title, self.keywords, self.description)


class RecordChange(Base):
    """Append-only log of record writes; every index follows it to catch up (after a restart, in every worker)."""

    __tablename__ = "record_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)  # achievements | demands
    record_id: Mapped[int] = mapped_column(Integer)
    op: Mapped[str] = mapped_column(String(10))  # upsert | delete
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, server_default=func.now())


class Embedding(Base):
    """Cached document vector of one record for one model, valid while the record's content hash is unchanged."""

    __tablename__ = "embeddings"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    record_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    dimension: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, server_default=func.now())


class RecordGrams(Base):
    """The character bigrams of one record's title, body and external id, for the lists' text search
    (services.text_search); full-text indexed by the database (FTS5 on SQLite, GIN on PostgreSQL)."""

    __tablename__ = "record_grams"
    __table_args__ = (UniqueConstraint("kind", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # achievements | demands
    record_id: Mapped[int] = mapped_column(Integer)
    grams: Mapped[str] = mapped_column(Text, default="")


class MatchingRun(Base):
    """One run of the matching list (供需对接清单) over the open needs."""

    __tablename__ = "matching_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(10), default="queued")  # queued | running | done | failed
    # "matching" while queued or running, NULL once finished: the unique constraint lets one run at a time hold it.
    active: Mapped[str | None] = mapped_column(String(20), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # executions started (a restart resumes: +1)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last sign of life of its executor
    filters: Mapped[dict[str, Any]] = mapped_column(JSONList, default=dict)
    k: Mapped[int] = mapped_column(Integer)
    constraints: Mapped[str] = mapped_column(String(10), default="flag")
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    proposed: Mapped[int] = mapped_column(Integer, default=0)
    kept: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Match(TimestampMixin, Base):
    """A need–achievement pairing proposed by a run and followed by the managers."""

    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("demand_id", "achievement_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"), index=True)
    achievement_id: Mapped[int] = mapped_column(ForeignKey("achievements.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("matching_runs.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="proposed", index=True)
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSONList, default=dict)
    reject_reason: Mapped[str | None] = mapped_column(String(30))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    notes: Mapped[list[dict[str, Any]]] = mapped_column(JSONList, default=list)
    disclosed: Mapped[bool] = mapped_column(Boolean, default=False)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, server_default=func.now())


class Organisation(Base):
    """An enterprise, a university or institute, or a transfer centre."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # enterprise | institution | centre
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, server_default=func.now())


class User(Base):
    """A person with one role: admin, manager (技术经理人), enterprise or institution member."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, server_default=func.now())


class ApiToken(Base):
    """A bearer token (login session or personal API token); only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))  # session | personal
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MatchEvent(Base):
    """One move of a pairing through the workflow (its history)."""

    __tablename__ = "match_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, server_default=func.now())


class AuditEntry(Base):
    """Who changed what, when: every change to records, pairings, users and tokens."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    entity: Mapped[str] = mapped_column(String(20), index=True)
    entity_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(20))
    changes: Mapped[dict[str, Any]] = mapped_column(JSONList, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, server_default=func.now())


from matchmaker.models import challenges as challenges  # noqa: E402,F401  (揭榜挂帅 tables)
from matchmaker.models import concepts as _concepts  # noqa: E402,F401  (the thesaurus table)
from matchmaker.models import dedup as dedup  # noqa: E402,F401  (duplicate and stale listings)
from matchmaker.models import events as _events  # noqa: E402, F401  (registers the event tables)
from matchmaker.models import jobs as jobs  # noqa: E402  (the chunks of durable jobs)
from matchmaker.models import landing as landing  # noqa: E402  (contracts and landings)
from matchmaker.models.web import MatchInterest, SavedView  # noqa: E402, F401 - the web workspace
