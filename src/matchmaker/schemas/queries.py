"""Query-parameter models of the list, export and paging routes; an unknown parameter answers 422 (``extra="forbid"``:
a typo must not silently widen a filter). Enumerations accept Traditional spellings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from matchmaker.domain import NeedKind
from matchmaker.schemas.common import MAX_DB_INT, ChainList, Id, RegionList


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PageParams(_Params):
    """Which page of a list."""

    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=MAX_DB_INT)


class RecordFilterParams(_Params):
    """Filters of a list of records (achievements or needs)."""

    field: ChainList = Field(default_factory=list, description="industrial chain(s), e.g. 新材料")
    region: RegionList = Field(default_factory=list, description="region(s): 北京, 天津, 河北, 其他")
    status: list[str] = Field(default_factory=list, description="status(es) of the list")
    trl_min: int | None = Field(default=None, ge=1, le=9)
    trl_max: int | None = Field(default=None, ge=1, le=9)
    external_id: str | None = None
    q: str | None = Field(default=None, max_length=200, description="text in the title or body, e.g. 冷链")
    need_kind: NeedKind | None = Field(default=None, description="needs only: 技术需求 or 应用场景")


class RecordListParams(RecordFilterParams, PageParams):
    """Filters, sort and page of a list of records."""

    sort: str = Field(default="id", description="id, created_at, updated_at, title, ...; prefix - for descending")


class RecordExportParams(RecordFilterParams):
    """Filters and file format of an export of records."""

    format: str = Field(default="csv", description="csv, xlsx or json")
    headers: str = Field(default="en", description="en: canonical field names; zh: Chinese column labels")


class PairingListParams(PageParams):
    """Filters and page of the pairing list."""

    status: list[str] = Field(default_factory=list, description="proposed, shortlisted, contacted, ...")
    assignee: Id | None = None
    field: ChainList = Field(default_factory=list, description="the need's industrial chain")
    region: RegionList = Field(default_factory=list, description="the need's region")
    run: Id | None = None
    need: Id | None = None
    achievement: Id | None = None
    need_kind: NeedKind | None = Field(default=None, description="the need's kind: 技术需求 or 应用场景")


class TableExportParams(_Params):
    """The file format of a table export."""

    format: str = Field(default="xlsx", description="xlsx or csv")


class RunExportParams(TableExportParams):
    """The file format of a matching list, and whether an unfinished run's list may be exported."""

    partial: bool = Field(
        default=False,
        description="Export a run that is not done (its file is named …-partial); without it such a run answers 409.",
    )
