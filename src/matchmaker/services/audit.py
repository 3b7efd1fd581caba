"""The audit log: every change to records, pairings, users and tokens, with who made it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from matchmaker.models import AuditEntry


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def actor_of(session: Session) -> int | None:
    """The user on whose behalf this unit of work runs (set by the API's authentication; None from the CLI)."""
    actor = session.info.get("actor_id")
    return int(actor) if actor is not None else None


def audit(session: Session, entity: str, entity_id: int, action: str, changes: dict[str, Any]) -> None:
    """Append one entry; `changes` maps field → new value, or field → [old, new] for updates."""
    plain = {k: ([_plain(x) for x in v] if isinstance(v, list | tuple) else _plain(v)) for k, v in changes.items()}
    session.add(
        AuditEntry(actor_id=actor_of(session), entity=entity, entity_id=entity_id, action=action, changes=plain)
    )
