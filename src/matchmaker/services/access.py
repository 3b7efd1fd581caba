"""Who may see and do what. One place for every rule; services apply them, routers never decide.

* admin and manager (技术经理人): everything.
* enterprise member: creates and edits its organisation's needs; sees only those needs and the ranked achievements
  for them; reads the published (active) supply list.
* institution member: creates and edits its organisation's achievements; sees its own achievements (any status),
  the published supply list, the open needs and the needs that fit its achievements.
* a confidential need shows its text to institutions but not the enterprise's name, until a manager discloses it
  for one pairing (then the institution of that pairing's achievement sees it).
* another organisation's record that one may not see answers 404, never 403, so existence does not leak; 403 is
  kept for what a role may never do, decided before any record is looked up.

Masking a confidential enterprise has one mechanism, :class:`Masking` (built by :func:`masking` for the needs a reader
is about to show): every reader — the lists, search, match lists, pairings, exports — asks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, false, or_, select
from sqlalchemy.orm import Session

from matchmaker.errors import Forbidden
from matchmaker.kinds import ACHIEVEMENTS, DEMANDS, SPECS, Record, spec_of
from matchmaker.models import Achievement, Demand, Match

ROLES: tuple[str, ...] = ("admin", "manager", "enterprise", "institution")
STAFF_ROLES: tuple[str, ...] = ("admin", "manager")
ORG_KIND_OF_ROLE = {"admin": "centre", "manager": "centre", "enterprise": "enterprise", "institution": "institution"}


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    user_id: int
    role: str
    org_id: int | None
    email: str = ""
    token_id: int | None = None

    @property
    def is_staff(self) -> bool:
        """Admins and managers see and may change everything."""
        return self.role in STAFF_ROLES

    @property
    def is_admin(self) -> bool:
        """Admins alone manage accounts."""
        return self.role == "admin"


def require_admin(principal: Principal | None, what: str) -> None:
    """403 unless the caller is an admin (None: the CLI, trusted)."""
    if principal is not None and not principal.is_admin:
        raise Forbidden(f"only admins may {what}")


def require_staff(principal: Principal | None, what: str) -> None:
    """403 unless the caller is a manager or admin (None: the CLI, trusted)."""
    if principal is not None and not principal.is_staff:
        raise Forbidden(f"only managers and admins may {what}")


def require_role(principal: Principal | None, roles: tuple[str, ...], what: str) -> None:
    """403 unless the caller has one of `roles` (staff always may)."""
    if principal is not None and not principal.is_staff and principal.role not in roles:
        raise Forbidden(f"a {principal.role} member may not {what}")


def require_writer(principal: Principal | None, kind: str) -> None:
    """403 when the caller's role never writes this list (an enterprise member and achievements, say)."""
    if principal is not None and not principal.is_staff and SPECS[kind].writer != principal.role:
        raise Forbidden(f"a {principal.role} member may not change {kind}")


def scope_read(stmt: Select[Any], kind: str, principal: Principal | None) -> Select[Any]:
    """Restrict a SELECT of a list to the records the caller may see (what :func:`can_read` decides per record)."""
    if principal is None or principal.is_staff:
        return stmt
    spec = SPECS[kind]
    model = spec.model
    if principal.role == spec.writer:  # its own organisation's records, any status (an enterprise: only those)
        own = model.org_id == principal.org_id if principal.org_id is not None else false()
        return stmt.where(or_(own, model.status == spec.live_status)) if spec is ACHIEVEMENTS else stmt.where(own)
    return stmt.where(model.status == spec.live_status)


def can_read(principal: Principal | None, record: Record) -> bool:
    """Whether the caller may see this record."""
    if principal is None or principal.is_staff:
        return True
    spec = spec_of(record)
    own = record.org_id is not None and record.org_id == principal.org_id
    if principal.role == spec.writer:
        return own or (spec is ACHIEVEMENTS and record.status == spec.live_status)
    return record.status == spec.live_status


def can_write(principal: Principal | None, record: Record) -> bool:
    """Whether the caller may change or delete this record."""
    return may_write(principal, spec_of(record).kind, record.org_id)


def may_write(principal: Principal | None, kind: str, org_id: int | None) -> bool:
    """Whether the caller may change or delete a record of this list belonging to organisation ``org_id``."""
    if principal is None or principal.is_staff:
        return True
    return SPECS[kind].writer == principal.role and org_id is not None and org_id == principal.org_id


def owner_org(principal: Principal | None) -> int | None:
    """The organisation new records of a non-staff caller belong to (staff: decided by the record's data)."""
    if principal is None or principal.is_staff:
        return None
    return principal.org_id


MASKED_ENTERPRISE: dict[str, Any] = {"enterprise": None, "enterprise_hidden": True}
"""What a reader shows of a need whose enterprise it may not know: no name, and a flag saying it is hidden."""


@dataclass(frozen=True)
class Masking:
    """Which confidential needs' enterprises one caller may not see, for the needs a reader is about to show.

    A confidential need shows its text to institutions but not the enterprise's name, until a manager discloses it
    for one pairing (then the institution of that pairing's achievement sees it). Staff, the CLI and enterprise
    members (who only ever see their own needs) see every name.
    """

    applies: bool
    disclosed: frozenset[int] = frozenset()

    def hides(self, demand: Demand | Row[Any]) -> bool:
        """Whether this need's enterprise is hidden (a need, or a row with its ``id`` and ``confidential``)."""
        return self.applies and bool(demand.confidential) and demand.id not in self.disclosed

    def apply(self, demand: Demand | Row[Any], values: dict[str, Any]) -> dict[str, Any]:
        """A need's fields as the caller may see them."""
        return {**values, **MASKED_ENTERPRISE} if self.hides(demand) else values


NO_MASKING = Masking(applies=False)


def masking(session: Session, principal: Principal | None, demand_ids: list[int]) -> Masking:
    """The masking of confidential enterprises for this caller and these needs (one query, only for institutions
    and other non-staff callers who may see others' needs)."""
    if principal is None or principal.is_staff or principal.role == DEMANDS.writer:
        return NO_MASKING
    if principal.role != "institution" or not demand_ids:
        return Masking(applies=True)
    stmt = (
        select(Match.demand_id)
        .join(Achievement, Match.achievement_id == Achievement.id)
        .where(Match.disclosed.is_(True), Achievement.org_id == principal.org_id, Match.demand_id.in_(demand_ids))
    )
    return Masking(applies=True, disclosed=frozenset(session.scalars(stmt)))
