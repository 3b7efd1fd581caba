"""揭榜挂帅: challenges, their moves, experts, rubric, proposals, reviews and the ranking."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from matchmaker.api.deps import PrincipalDep, SessionDep
from matchmaker.schemas import Chain
from matchmaker.schemas.challenges import (
    ChallengeCreate,
    ChallengePage,
    ChallengeRead,
    ChallengeStats,
    ChallengeUpdate,
    ConsortiumPage,
    CriterionIn,
    ExpertAssign,
    ExpertDeclaration,
    ExpertList,
    HistoryRead,
    Move,
    ProposalCreate,
    ProposalPage,
    ProposalRead,
    ProposalUpdate,
    RankingRead,
    ScoreIn,
    ScoreRead,
    Stage,
    SuggestionPage,
)
from matchmaker.schemas.common import MAX_DB_INT, Id
from matchmaker.services import challenge_flow as flow
from matchmaker.services import challenge_proposals as proposals
from matchmaker.services import challenge_review as review
from matchmaker.services import challenge_stats as stats
from matchmaker.services import challenge_suggestions as suggestions
from matchmaker.services import challenges as svc

router = APIRouter(prefix="/challenges", tags=["challenges 揭榜挂帅"])


@router.get("", response_model=ChallengePage, summary="List challenges")
def list_challenges(
    session: SessionDep,
    principal: PrincipalDep,
    stage: Annotated[list[Stage] | None, Query(description="draft, vetting, published, ...")] = None,
    field: Chain | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_DB_INT)] = 0,
) -> dict[str, Any]:
    """The challenges the caller may see, latest deadline first."""
    items, total = svc.list_challenges(
        session, principal, stages=tuple(stage or ()), field=field, limit=limit, offset=offset
    )
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@router.get("/stats", response_model=ChallengeStats, summary="揭榜挂帅 figures")
def challenge_stats(session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Challenges by stage, bounty published and awarded, proposals per challenge, cross-region consortia (staff)."""
    return stats.compute(session, principal)


@router.post("", response_model=ChallengeRead, status_code=201, summary="Create a challenge")
def create_challenge(body: ChallengeCreate, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """A draft challenge, written directly or built from needs (enterprises issue for their own organisation)."""
    challenge_id = svc.create(session, body, principal)
    return svc.read(session, challenge_id, principal)


@router.get("/{challenge_id}", response_model=ChallengeRead, summary="Get a challenge")
def get_challenge(challenge_id: Id, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """One challenge with its indicators, rubric and the moves allowed from its stage."""
    return svc.read(session, challenge_id, principal)


@router.patch("/{challenge_id}", response_model=ChallengeRead, summary="Edit a challenge")
def update_challenge(
    challenge_id: Id, body: ChallengeUpdate, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Edit while a draft (issuer or staff) or in 专家论证 (staff); 409 afterwards."""
    svc.update(session, challenge_id, body, principal)
    return svc.read(session, challenge_id, principal)


@router.post("/{challenge_id}/moves", response_model=ChallengeRead, summary="Move a challenge")
def move_challenge(challenge_id: Id, body: Move, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Managers move a challenge through its life cycle; illegal moves answer 409 with the allowed ones."""
    flow.move(session, challenge_id, body, principal)
    return svc.read(session, challenge_id, principal)


@router.get("/{challenge_id}/history", response_model=HistoryRead, summary="History of a challenge")
def challenge_history(challenge_id: Id, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Every move: from, to, reason, who and when."""
    return {"items": flow.history(session, challenge_id, principal)}


@router.put("/{challenge_id}/rubric", response_model=ChallengeRead, summary="Set the scoring rubric")
def set_rubric(
    challenge_id: Id, body: list[CriterionIn], session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Managers replace the rubric (criteria with weights) until review starts."""
    review.replace_rubric(session, challenge_id, body, principal)
    return svc.read(session, challenge_id, principal)


@router.get("/{challenge_id}/experts", response_model=ExpertList, summary="List a challenge's experts")
def list_experts(challenge_id: Id, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """The assigned experts with their conflicts and 专家论证 opinions (staff)."""
    return {"items": review.experts(session, challenge_id, principal)}


@router.post("/{challenge_id}/experts", response_model=ExpertList, status_code=201, summary="Assign an expert")
def assign_expert(challenge_id: Id, body: ExpertAssign, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Managers assign an expert to the challenge."""
    review.assign(session, challenge_id, body, principal)
    return {"items": review.experts(session, challenge_id, principal)}


@router.put("/{challenge_id}/experts/me", status_code=204, response_class=Response, summary="Declare as an expert")
def declare(challenge_id: Id, body: ExpertDeclaration, session: SessionDep, principal: PrincipalDep) -> None:
    """An assigned expert declares conflicts of interest and gives the 专家论证 opinion."""
    review.declare(session, challenge_id, body, principal)


@router.get("/{challenge_id}/proposals", response_model=ProposalPage, summary="List proposals")
def list_proposals(challenge_id: Id, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Applicants their own; the issuer after the deadline; experts during review; staff all."""
    items = proposals.list_for(session, challenge_id, principal)
    return {"items": items, "total": len(items)}


@router.post("/{challenge_id}/proposals", response_model=ProposalRead, status_code=201, summary="Apply (揭榜申报)")
def create_proposal(
    challenge_id: Id, body: ProposalCreate, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Institution members apply, alone or leading a consortium, before the deadline."""
    proposal_id = proposals.create(session, challenge_id, body, principal)
    return proposals.read(session, challenge_id, proposal_id, principal)


@router.get("/{challenge_id}/proposals/{proposal_id}", response_model=ProposalRead, summary="Get a proposal")
def get_proposal(challenge_id: Id, proposal_id: Id, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """One proposal as the caller may see it."""
    return proposals.read(session, challenge_id, proposal_id, principal)


@router.patch("/{challenge_id}/proposals/{proposal_id}", response_model=ProposalRead, summary="Edit a proposal")
def update_proposal(
    challenge_id: Id, proposal_id: Id, body: ProposalUpdate, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """The applicant edits until the deadline; 409 once frozen."""
    proposals.update(session, challenge_id, proposal_id, body, principal)
    return proposals.read(session, challenge_id, proposal_id, principal)


@router.delete(
    "/{challenge_id}/proposals/{proposal_id}", status_code=204, response_class=Response, summary="Withdraw a proposal"
)
def withdraw_proposal(challenge_id: Id, proposal_id: Id, session: SessionDep, principal: PrincipalDep) -> None:
    """The applicant withdraws before the deadline."""
    proposals.withdraw(session, challenge_id, proposal_id, principal)


@router.put("/{challenge_id}/proposals/{proposal_id}/review", response_model=ScoreRead, summary="Score a proposal")
def score_proposal(
    challenge_id: Id, proposal_id: Id, body: ScoreIn, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    """An assigned expert scores every rubric criterion (0–100); conflicts of interest answer 403."""
    return review.score(session, challenge_id, proposal_id, body, principal)


@router.get("/{challenge_id}/proposals/{proposal_id}/review", response_model=ScoreRead, summary="My score")
def my_score(challenge_id: Id, proposal_id: Id, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """The calling expert's own score of the proposal."""
    return review.my_score(session, challenge_id, proposal_id, principal)


@router.get("/{challenge_id}/ranking", response_model=RankingRead, summary="Ranking of proposals")
def ranking(challenge_id: Id, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Proposals by the experts' mean weighted score, with the spread between experts (staff)."""
    return {"items": review.ranking(session, challenge_id, principal)}


@router.get("/{challenge_id}/suggestions", response_model=SuggestionPage, summary="Institutions to invite")
def suggest_institutions(
    challenge_id: Id,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> dict[str, Any]:
    """The institutions most likely to solve the challenge, with their best achievements and explanations (staff)."""
    return suggestions.institutions(session, request.app.state.search, challenge_id, principal, limit=limit)


@router.get("/{challenge_id}/consortia", response_model=ConsortiumPage, summary="Consortium suggestions")
def suggest_consortia(
    challenge_id: Id,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    alternatives: Annotated[int, Query(ge=1, le=5)] = 3,
) -> dict[str, Any]:
    """Teams of 2–3 institutions covering every indicator best (OR-Tools CP-SAT), with the evidence per member."""
    return suggestions.consortia(session, request.app.state.search, challenge_id, principal, alternatives=alternatives)
