"""Managers' work on many pairings at once, and their saved views of the review queue.

Bulk changes apply the workflow of :mod:`matchmaker.services.workflow` to every selected pairing, all or nothing:
every move is checked first, and when one is illegal nothing is changed and the error lists each refused pairing with
the moves its status allows (the API's 409 for one pairing, for many).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.domain import MOVES, REJECT_REASONS
from matchmaker.errors import Conflict, NotFound, ValidationFailed, field_error
from matchmaker.models import Match
from matchmaker.models.web import SavedView
from matchmaker.services.access import Principal, require_staff
from matchmaker.services.workflow import update_match

MAX_BULK = 500
MAX_VIEWS = 30


def bulk_update(
    session: Session, match_ids: Sequence[int], changes: dict[str, Any], principal: Principal | None
) -> int:
    """Apply the same change to every pairing; nothing is changed unless every one of them may take it."""
    require_staff(principal, "change pairings")
    ids = sorted(set(match_ids))
    if not ids:
        raise ValidationFailed("select at least one pairing", fields=[field_error("ids", "nothing selected")])
    if len(ids) > MAX_BULK:
        raise ValidationFailed(f"at most {MAX_BULK} pairings at once", fields=[field_error("ids", "too many")])
    status = changes.get("status")
    if status == "rejected" and changes.get("reject_reason") not in REJECT_REASONS:
        raise ValidationFailed(
            f"rejecting needs reject_reason, one of {', '.join(REJECT_REASONS)}",
            fields=[field_error("reject_reason", f"one of {', '.join(REJECT_REASONS)}")],
        )
    found = {m.id: m.status for m in session.scalars(select(Match).where(Match.id.in_(ids)))}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"match {missing[0]} not found")
    if status is not None:
        refused: list[dict[str, Any]] = [
            {"id": i, "status": found[i], "allowed": list(MOVES[found[i]])}
            for i in ids
            if found[i] != status and status not in MOVES[found[i]]
        ]
        if refused:
            raise Conflict(
                f"{len(refused)} of {len(ids)} pairings cannot move to {status}; nothing was changed",
                fields=[
                    field_error(str(r["id"]), f"{r['status']} → allowed: {', '.join(r['allowed']) or 'none (final)'}")
                    for r in refused
                ],
                refused=refused,
            )
    for match_id in ids:
        update_match(session, match_id, changes, principal)
    return len(ids)


def _canonical(query: str) -> str:
    return urlencode([(k, v) for k, v in parse_qsl(query) if k not in ("page", "csrf_token") and v])


def list_views(session: Session, principal: Principal) -> list[SavedView]:
    """The caller's saved views, by name."""
    stmt = select(SavedView).where(SavedView.user_id == principal.user_id).order_by(SavedView.name)
    return list(session.scalars(stmt))


def save_view(session: Session, principal: Principal, name: str, query: str) -> SavedView:
    """Save (or replace) a named view of the queue for the caller."""
    require_staff(principal, "save views of the review queue")
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationFailed("a view needs a name of 1–100 characters", fields=[field_error("name", "1–100 chars")])
    view = session.scalar(select(SavedView).where(SavedView.user_id == principal.user_id, SavedView.name == name))
    if view is None:
        if len(list_views(session, principal)) >= MAX_VIEWS:
            raise ValidationFailed(f"at most {MAX_VIEWS} saved views", fields=[field_error("name", "too many views")])
        view = SavedView(user_id=principal.user_id, name=name, query=_canonical(query))
        session.add(view)
    else:
        view.query = _canonical(query)
    session.flush()
    return view


def delete_view(session: Session, principal: Principal, view_id: int) -> None:
    """Delete one of the caller's views (another user's answers 404)."""
    view = session.get(SavedView, view_id)
    if view is None or view.user_id != principal.user_id:
        raise NotFound(f"view {view_id} not found")
    session.delete(view)
    session.flush()


def staff_users(session: Session) -> list[dict[str, Any]]:
    """The managers and admins pairings may be assigned to."""
    from matchmaker.models import User

    stmt = select(User.id, User.email).where(User.role.in_(("manager", "admin")), User.active.is_(True))
    return [{"id": uid, "email": email} for uid, email in session.execute(stmt.order_by(User.email))]


def user_emails(session: Session, user_ids: Sequence[int | None]) -> dict[int, str]:
    """Emails of the users named in a pairing's history and notes."""
    from matchmaker.models import User

    ids = sorted({i for i in user_ids if i is not None})
    if not ids:
        return {}
    return {uid: email for uid, email in session.execute(select(User.id, User.email).where(User.id.in_(ids)))}


def interests(session: Session, match_ids: Sequence[int]) -> dict[int, list[str]]:
    """Which sides asked to be put in touch ("希望对接"), per pairing."""
    from matchmaker.models.web import MatchInterest

    found: dict[int, list[str]] = {}
    if match_ids:
        stmt = select(MatchInterest.match_id, MatchInterest.side).where(MatchInterest.match_id.in_(list(match_ids)))
        for match_id, side in session.execute(stmt.order_by(MatchInterest.id)):
            found.setdefault(match_id, []).append(side)
    return found


def list_runs(session: Session, principal: Principal | None, limit: int = 20) -> list[Any]:
    """The latest matching runs (managers and admins)."""
    from matchmaker.models import MatchingRun

    require_staff(principal, "see matching runs")
    return list(session.scalars(select(MatchingRun).order_by(MatchingRun.id.desc()).limit(limit)))
