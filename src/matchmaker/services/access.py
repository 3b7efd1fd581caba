"""Who may see and do what. One place for every rule; services apply them, routers never decide.

* admin and manager (技术经理人): everything.
* enterprise member: creates and edits its organisation's needs; sees only those needs and the ranked achievements
  for them; reads the published (active) supply list.
* institution member: creates and edits its organisation's achievements; sees its own achievements (any status),
  the published supply list, the open needs and the needs that fit its achievements.
* expert (专家, 揭榜挂帅 review): reads the published supply list and the open needs like an institution member,
  writes neither, and sees only the challenges a manager assigned to them (services/challenges.py).
* a confidential need shows its text to institutions but not the enterprise's name, until a manager discloses it
  for one pairing (then the institution of that pairing's achievement sees it).
* another organisation's record that one may not see answers 404, never 403, so existence does not leak; 403 is
  kept for what a role may never do, decided before any record is looked up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, false, or_, select
from sqlalchemy.orm import Session

from matchmaker.errors import Forbidden
from matchmaker.models import Achievement, Demand, Match

ROLES: tuple[str, ...] = ("admin", "manager", "enterprise", "institution", "expert")
ORG_KIND_OF_ROLE = {
    "admin": "centre",
    "manager": "centre",
    "enterprise": "enterprise",
    "institution": "institution",
    "expert": "institution",  # 专家 of the 专家库; their organisation decides conflicts of interest
}
WRITES: dict[str, str] = {"achievements": "institution", "demands": "enterprise"}  # the non-staff role writing a list
HIDDEN_ENTERPRISE = "（保密需求）"


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
        return self.role in ("admin", "manager")


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
    if principal is not None and not principal.is_staff and WRITES[kind] != principal.role:
        raise Forbidden(f"a {principal.role} member may not change {kind}")


def scope_read(stmt: Select[Any], kind: str, principal: Principal | None) -> Select[Any]:
    """Restrict a SELECT of a list to the records the caller may see."""
    if principal is None or principal.is_staff:
        return stmt
    if kind == "achievements":
        if principal.role == "institution":
            return stmt.where(or_(Achievement.org_id == principal.org_id, Achievement.status == "active"))
        return stmt.where(Achievement.status == "active")
    if principal.role == "enterprise":
        return stmt.where(Demand.org_id == principal.org_id) if principal.org_id is not None else stmt.where(false())
    return stmt.where(Demand.status == "open")


def can_read(principal: Principal | None, record: Achievement | Demand) -> bool:
    """Whether the caller may see this record."""
    if principal is None or principal.is_staff:
        return True
    if isinstance(record, Achievement):
        return record.status == "active" or (principal.role == "institution" and record.org_id == principal.org_id)
    if principal.role == "enterprise":
        return record.org_id is not None and record.org_id == principal.org_id
    return record.status == "open"


def can_write(principal: Principal | None, record: Achievement | Demand) -> bool:
    """Whether the caller may change or delete this record."""
    return may_write(principal, "achievements" if isinstance(record, Achievement) else "demands", record.org_id)


def may_write(principal: Principal | None, kind: str, org_id: int | None) -> bool:
    """Whether the caller may change or delete a record of this list belonging to organisation ``org_id``."""
    if principal is None or principal.is_staff:
        return True
    return WRITES[kind] == principal.role and org_id is not None and org_id == principal.org_id


def owner_org(principal: Principal | None) -> int | None:
    """The organisation new records of a non-staff caller belong to (staff: decided by the record's data)."""
    if principal is None or principal.is_staff:
        return None
    return principal.org_id


def disclosed_demands(session: Session, principal: Principal | None, demand_ids: list[int]) -> set[int]:
    """Confidential needs whose enterprise a manager disclosed to this institution (for one of its pairings)."""
    if principal is None or principal.is_staff or principal.role != "institution" or not demand_ids:
        return set(demand_ids)
    stmt = (
        select(Match.demand_id)
        .join(Achievement, Match.achievement_id == Achievement.id)
        .where(Match.disclosed.is_(True), Achievement.org_id == principal.org_id, Match.demand_id.in_(demand_ids))
    )
    return set(session.scalars(stmt))


def hides_enterprise(principal: Principal | None, demand: Demand | Row[Any], disclosed: set[int]) -> bool:
    """Whether the enterprise's identity must be hidden from this caller (a need, or a row with its id and
    ``confidential``)."""
    if principal is None or principal.is_staff or principal.role == "enterprise":
        return False
    return bool(demand.confidential) and demand.id not in disclosed


def present_demand(values: dict[str, Any], hide: bool) -> dict[str, Any]:
    """A need's fields with the enterprise's identity removed when it must be hidden."""
    if not hide:
        return values
    return {**values, "enterprise": None, "enterprise_hidden": True}
