"""Stale listings: needs past their deadline or not updated for months, achievements not updated for a year.

A periodic job (``refresh``) flags them (``stale_flags``), which prompts their enterprise or institution to confirm
(touch the record) or close it; managers see the list. A flag nobody answers within the grace period closes the
record (a need becomes ``closed``, an achievement ``archived``; nothing is deleted). A record that is confirmed or
changed loses its flag. ``StaleJob`` runs ``refresh`` in a background thread of every app process, like the index
follower; the job is idempotent, so several processes may run it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from matchmaker import db
from matchmaker.config import Settings
from matchmaker.errors import NotFound
from matchmaker.kinds import SPECS
from matchmaker.models import Achievement, Demand, as_utc, utcnow
from matchmaker.models.dedup import StaleFlag
from matchmaker.services.access import Principal, may_write, require_staff, require_writer
from matchmaker.services.audit import audit
from matchmaker.services.duplicates import check_kind
from matchmaker.services.records import log_change

log = logging.getLogger("matchmaker.staleness")
LIVE = {kind: spec.live_status for kind, spec in SPECS.items()}
CLOSED = {"achievements": "archived", "demands": "closed"}


@dataclass(frozen=True)
class StalePolicy:
    """When a record is stale and how long its owner has to answer."""

    need_after: timedelta = timedelta(days=183)
    achievement_after: timedelta = timedelta(days=365)
    grace: timedelta = timedelta(days=30)

    @classmethod
    def from_settings(cls, settings: Settings) -> StalePolicy:
        """The policy the settings describe."""
        return cls(
            need_after=timedelta(days=settings.stale_need_after_days),
            achievement_after=timedelta(days=settings.stale_achievement_after_days),
            grace=timedelta(days=settings.stale_grace_days),
        )


def _stale_condition(kind: str, policy: StalePolicy, now: datetime) -> Any:
    if kind == "demands":
        return or_(Demand.updated_at < now - policy.need_after, Demand.deadline < now.date())
    return Achievement.updated_at < now - policy.achievement_after


def _reason(kind: str, record: Any, now: datetime) -> str:
    if kind == "demands" and record.deadline is not None and record.deadline < now.date():
        return "deadline"
    return "not_updated"


@dataclass
class RefreshResult:
    """What one pass of the stale job did, per list."""

    flagged: int = 0
    cleared: int = 0
    closed: int = 0


def refresh(session: Session, policy: StalePolicy, now: datetime | None = None) -> dict[str, RefreshResult]:
    """Flag newly stale records, clear flags of confirmed or closed ones, close those past the grace period."""
    now = now or utcnow()
    out: dict[str, RefreshResult] = {}
    for kind in ("demands", "achievements"):
        result = out.setdefault(kind, RefreshResult())
        model: Any = SPECS[kind].model
        stale = {
            r.id: r
            for r in session.scalars(
                select(model).where(model.status == LIVE[kind], _stale_condition(kind, policy, now))
            )
        }
        flags = {f.record_id: f for f in session.scalars(select(StaleFlag).where(StaleFlag.kind == kind))}
        gone = [rid for rid, f in flags.items() if f.closed_at is None and rid not in stale]
        if gone:  # confirmed, edited, closed or deleted since: the prompt is answered
            session.execute(delete(StaleFlag).where(StaleFlag.kind == kind, StaleFlag.record_id.in_(gone)))
            result.cleared = len(gone)
        for rid, record in stale.items():
            flag = flags.get(rid)
            if flag is None or flag.closed_at is not None:  # a record reopened after an automatic close: anew
                if flag is not None:
                    session.delete(flag)
                    session.flush()
                session.add(StaleFlag(kind=kind, record_id=rid, reason=_reason(kind, record, now), flagged_at=now))
                audit(session, SPECS[kind].noun, rid, "stale", {"reason": _reason(kind, record, now)})
                result.flagged += 1
            elif as_utc(flag.flagged_at) + policy.grace <= now:
                record.status = CLOSED[kind]
                flag.closed_at = now
                log_change(session, SPECS[kind].kind, rid, "upsert")
                audit(session, SPECS[kind].noun, rid, "auto_close", {"status": [LIVE[kind], CLOSED[kind]]})
                result.closed += 1
        session.flush()
    return out


def _closes_at(flag: StaleFlag, policy: StalePolicy) -> datetime:
    return as_utc(flag.flagged_at) + policy.grace


def list_stale(
    session: Session, kind: str, policy: StalePolicy, principal: Principal | None = None, *, limit: int = 200
) -> list[dict[str, Any]]:
    """Flagged records still open: managers see all; an enterprise or institution its own (the prompt)."""
    check_kind(kind)
    model: Any = SPECS[kind].model
    stmt = (
        select(model, StaleFlag)
        .join(StaleFlag, and_(StaleFlag.kind == kind, StaleFlag.record_id == model.id))
        .where(StaleFlag.closed_at.is_(None), model.status == LIVE[kind])
        .order_by(StaleFlag.flagged_at, model.id)
        .limit(limit)
    )
    if principal is not None and not principal.is_staff:
        if principal.org_id is None or SPECS[kind].writer != principal.role:
            return []
        stmt = stmt.where(model.org_id == principal.org_id)
    return [
        {
            "kind": kind,
            "id": record.id,
            "external_id": record.external_id,
            "title": record.title,
            "owner": record.owner if kind == "achievements" else record.enterprise,
            "updated_at": as_utc(record.updated_at),
            "deadline": getattr(record, "deadline", None),
            "reason": flag.reason,
            "flagged_at": as_utc(flag.flagged_at),
            "closes_at": _closes_at(flag, policy),
        }
        for record, flag in session.execute(stmt)
    ]


def _owned(session: Session, kind: str, record_id: int, principal: Principal | None) -> Any:
    check_kind(kind)
    require_writer(principal, kind)  # 403 before any lookup: an enterprise never answers for an achievement
    record: Any = session.get(SPECS[kind].model, record_id)
    if record is None or not may_write(principal, kind, record.org_id):
        raise NotFound(f"{SPECS[kind].noun} {record_id} not found")
    return record


def confirm(session: Session, kind: str, record_id: int, principal: Principal | None = None) -> datetime:
    """The owner says the record is still current: touch it and drop its flag."""
    record = _owned(session, kind, record_id, principal)
    now = utcnow()
    session.execute(update(SPECS[kind].model).where(SPECS[kind].model.id == record_id).values(updated_at=now))
    session.execute(delete(StaleFlag).where(StaleFlag.kind == kind, StaleFlag.record_id == record_id))
    audit(session, SPECS[kind].noun, record_id, "confirm", {"updated_at": now})
    session.flush()
    session.expire(record)
    return now


def close(session: Session, kind: str, record_id: int, principal: Principal | None = None) -> str:
    """The owner closes the record (a need: closed; an achievement: archived). Never deleted."""
    record = _owned(session, kind, record_id, principal)
    before = record.status
    record.status = CLOSED[kind]
    session.execute(delete(StaleFlag).where(StaleFlag.kind == kind, StaleFlag.record_id == record_id))
    log_change(session, SPECS[kind].kind, record_id, "upsert")
    audit(session, SPECS[kind].noun, record_id, "close", {"status": [before, record.status]})
    session.flush()
    return record.status


def stale_ids(session: Session, kind: str) -> set[int]:
    """Ids of the records flagged stale and not closed (matching runs may skip them)."""
    return set(
        session.scalars(select(StaleFlag.record_id).where(StaleFlag.kind == kind, StaleFlag.closed_at.is_(None)))
    )


def run_now(session: Session, policy: StalePolicy, principal: Principal | None) -> dict[str, RefreshResult]:
    """One pass of the job at a manager's request."""
    require_staff(principal, "run the stale-listing check")
    return refresh(session, policy)


class StaleJob:
    """Runs ``refresh`` every ``interval`` seconds in a daemon thread (first pass right after start)."""

    def __init__(self, session_factory: sessionmaker[Session], policy: StalePolicy, interval: float) -> None:
        self.session_factory = session_factory
        self.policy = policy
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0

    def start(self) -> None:
        """Start the thread."""
        self._thread = threading.Thread(target=self._loop, name="matchmaker-stale-listings", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (waits for a running pass)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run_once(self) -> dict[str, RefreshResult]:
        """One pass in its own unit of work."""
        with db.unit_of_work(self.session_factory) as session:
            return refresh(session, self.policy)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                result = self.run_once()
                self.passes += 1
                if any(r.flagged or r.closed for r in result.values()):
                    log.info("stale listings: %s", {k: v.__dict__ for k, v in result.items()})
            except IntegrityError:  # another process flagged the same record first: the next pass agrees
                log.info("stale listings: another process ran the same pass")
            except Exception:  # keep running; the next pass retries (a database restart, say)
                log.exception("stale-listing pass failed")
            self._stop.wait(self.interval)
