"""The concept thesaurus managers teach the matcher: list, add, change, remove, learn from accepted pairings."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from matchmaker.api.deps import PrincipalDep, SessionDep
from matchmaker.schemas.common import Id
from matchmaker.schemas.concepts import (
    ConceptLearnResult,
    ConceptLinkCreate,
    ConceptLinkList,
    ConceptLinkRead,
    ConceptLinkUpdate,
    ConceptListParams,
)
from matchmaker.services import concepts as svc

router = APIRouter(tags=["thesaurus"])


@router.get("/concepts", response_model=ConceptLinkList, summary="List thesaurus links")
def list_concepts(
    params: Annotated[ConceptListParams, Query()], session: SessionDep, principal: PrincipalDep
) -> ConceptLinkList:
    """Links of the thesaurus, newest first (every signed-in user may read what explains their rankings)."""
    items, total = svc.list_links(
        session, q=params.q, relation=params.relation, origin=params.origin, limit=params.limit, offset=params.offset
    )
    return ConceptLinkList(items=items, total=total)


@router.post("/concepts", response_model=ConceptLinkRead, status_code=status.HTTP_201_CREATED, summary="Add a link")
def create_concept(body: ConceptLinkCreate, session: SessionDep, principal: PrincipalDep) -> ConceptLinkRead:
    """Add a link (managers and admins); rankings use it as soon as the call returns."""
    return svc.create_link(session, body, principal)


@router.patch("/concepts/{link_id}", response_model=ConceptLinkRead, summary="Change a link")
def update_concept(
    link_id: Id, body: ConceptLinkUpdate, session: SessionDep, principal: PrincipalDep
) -> ConceptLinkRead:
    """Change a link's terms, relation, weight or chain (managers and admins)."""
    return svc.update_link(session, link_id, body, principal)


@router.delete("/concepts/{link_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a link")
def delete_concept(link_id: Id, session: SessionDep, principal: PrincipalDep) -> Response:
    """Remove a link (managers and admins)."""
    svc.delete_link(session, link_id, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/concepts/learn", response_model=ConceptLearnResult, summary="Learn links from accepted pairings")
def learn_concepts(
    session: SessionDep,
    principal: PrincipalDep,
    min_support: Annotated[int, Query(ge=1, le=100, description="fewest accepted pairings showing a pair")] = 1,
) -> ConceptLearnResult:
    """Add 症状→技术 links between the keywords of needs and achievements that managers paired (see the service)."""
    items = svc.learn_from_pairings(session, principal, min_support=min_support)
    return ConceptLearnResult(added=len(items), items=items)
