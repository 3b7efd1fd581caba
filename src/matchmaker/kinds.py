"""The two lists — the supply list (科技成果, ``achievements``) and the demand list (技术需求, ``demands``).

One :class:`KindSpec` per list holds everything that differs between them: the ORM model, the API schemas, the Chinese
column labels, the body column, the TRL and transfer-mode columns, the statuses and the live (matchable) one, the
non-staff role that writes the list, the organisation column, the columns shown beside a ranked pairing, and the other
list. Code that needs to know which list a record belongs to asks this module (:data:`SPECS`, :func:`spec_of`) instead
of comparing strings.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from matchmaker.domain import ACHIEVEMENT_LABELS, DEMAND_LABELS, AchievementStatus, DemandStatus
from matchmaker.models import Achievement, Demand
from matchmaker.schemas import (
    AchievementCreate,
    AchievementRead,
    AchievementUpdate,
    DemandCreate,
    DemandRead,
    DemandUpdate,
)
from matchmaker.search.documents import Kind

Record = Achievement | Demand
__all__ = ["ACHIEVEMENTS", "DEMANDS", "KINDS", "SPECS", "Kind", "KindSpec", "Record", "spec_of"]


@dataclass(frozen=True)
class KindSpec:
    """Everything that differs between the supply list and the demand list."""

    kind: Kind
    model: type[Achievement] | type[Demand]
    create: type[BaseModel]
    update: type[BaseModel]
    read: type[BaseModel]
    labels: dict[str, str]
    body: str  # summary | description
    trl_column: str  # trl | min_trl
    modes_column: str  # transfer_modes | preferred_modes
    statuses: tuple[str, ...]
    live_status: str  # the status of records that are published and matched: active | open
    writer: str  # the non-staff role that writes this list: institution | enterprise
    org_column: str  # the column naming the owning organisation: owner | enterprise
    noun: str  # achievement | demand
    item_key: str  # the key of a record beside a ranked pairing: achievement | demand
    other_kind: Kind
    brief_columns: tuple[str, ...]  # the columns shown beside a ranked pairing

    @property
    def other(self) -> KindSpec:
        """The list this one is matched against."""
        return SPECS[self.other_kind]

    @property
    def sheet_name(self) -> str:
        """The worksheet name of an export: 成果清单, 需求清单."""
        return self.labels["title"].removesuffix("名称") + "清单"


ACHIEVEMENTS = KindSpec(
    kind="achievements",
    model=Achievement,
    create=AchievementCreate,
    update=AchievementUpdate,
    read=AchievementRead,
    labels=ACHIEVEMENT_LABELS,
    body="summary",
    trl_column="trl",
    modes_column="transfer_modes",
    statuses=tuple(s.value for s in AchievementStatus),
    live_status=AchievementStatus.active.value,
    writer="institution",
    org_column="owner",
    noun="achievement",
    item_key="achievement",
    other_kind="demands",
    brief_columns=(
        "id", "external_id", "title", "field", "region", "owner", "trl", "transfer_modes", "price_wan", "language",
    ),
)  # fmt: skip
DEMANDS = KindSpec(
    kind="demands",
    model=Demand,
    create=DemandCreate,
    update=DemandUpdate,
    read=DemandRead,
    labels=DEMAND_LABELS,
    body="description",
    trl_column="min_trl",
    modes_column="preferred_modes",
    statuses=tuple(s.value for s in DemandStatus),
    live_status=DemandStatus.open.value,
    writer="enterprise",
    org_column="enterprise",
    noun="demand",
    item_key="demand",
    other_kind="achievements",
    brief_columns=(
        "id", "external_id", "title", "field", "region", "enterprise", "min_trl", "preferred_modes", "budget_wan",
        "deadline", "confidential", "bounty_wan", "language",
    ),
)  # fmt: skip
SPECS: dict[str, KindSpec] = {"achievements": ACHIEVEMENTS, "demands": DEMANDS}
KINDS: tuple[Kind, ...] = ("achievements", "demands")


def spec_of(record: Record) -> KindSpec:
    """The spec of the list a record belongs to."""
    return ACHIEVEMENTS if isinstance(record, Achievement) else DEMANDS
