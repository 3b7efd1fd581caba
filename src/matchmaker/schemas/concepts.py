"""Schemas of the concept thesaurus (同义词 / 上下位 / 症状→技术 / 方向相反): links, pages of links, learned links."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from matchmaker.schemas.common import UtcDateTime
from matchmaker.search.text import normalize_width

ConceptRelation = Annotated[
    str, Field(pattern="^(synonym|broader|symptom|opposite)$", description="synonym, broader, symptom or opposite")
]
ConceptTerm = Annotated[str, BeforeValidator(lambda v: normalize_width(v) if isinstance(v, str) else v)]


class ConceptLinkCreate(BaseModel):
    """A new link of the thesaurus (同义词 synonym / 上下位 broader / 症状→技术 symptom / 方向相反 opposite)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"source": "冷却时间长", "relation": "symptom", "target": "随形冷却"}]},
    )

    source: ConceptTerm = Field(min_length=1, max_length=100, description="the need-side term (symptom, narrower)")
    relation: ConceptRelation
    target: ConceptTerm = Field(min_length=1, max_length=100, description="the achievement-side term (technology)")
    weight: float = Field(default=1.0, gt=0, le=1, description="strength of the link, (0, 1]")
    field: str | None = Field(default=None, description="the industrial chain it was written for")


class ConceptLinkUpdate(BaseModel):
    """Changes to a link; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    source: ConceptTerm | None = Field(default=None, min_length=1, max_length=100)
    relation: ConceptRelation | None = None
    target: ConceptTerm | None = Field(default=None, min_length=1, max_length=100)
    weight: float | None = Field(default=None, gt=0, le=1)
    field: str | None = None


class ConceptLinkRead(BaseModel):
    """A link of the thesaurus as stored, with the Chinese name of its relation and where it came from."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    source: str
    relation: str
    relation_label: str
    target: str
    weight: float
    field: str | None
    origin: str = Field(description="starter (shipped), manager (written here) or learned (from accepted pairings)")
    created_by: int | None
    created_at: UtcDateTime
    updated_at: UtcDateTime


class ConceptLinkList(BaseModel):
    """A page of thesaurus links."""

    items: list[ConceptLinkRead]
    total: int


class ConceptLearnResult(BaseModel):
    """Links learned from accepted pairings (new ones only)."""

    added: int
    items: list[ConceptLinkRead]


class ConceptListParams(BaseModel):
    """Filters and page of the thesaurus list; an unknown parameter answers 422."""

    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(default=None, max_length=100, description="a term in the source or the target")
    relation: str | None = Field(default=None, pattern="^(synonym|broader|symptom|opposite)$")
    origin: str | None = Field(default=None, pattern="^(starter|manager|learned)$")
    limit: int = Field(default=100, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=2**63 - 1)
