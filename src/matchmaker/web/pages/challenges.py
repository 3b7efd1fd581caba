"""揭榜挂帅 pages: the challenges one may see, and a challenge page with its indicators, the proposals one may see,
and for managers the experts, the ranked proposals, the decision and the consortium suggestions; for an assigned
expert the declaration (conflicts of interest, 专家论证). The same services as /api/v1/challenges; the forms' writes
are in challenge_actions and proposals."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from sqlalchemy.orm import Session

from matchmaker.api.deps import SessionDep
from matchmaker.errors import Forbidden
from matchmaker.services import challenge_flow, challenge_proposals, challenge_review, challenge_suggestions, challenges
from matchmaker.services.access import Principal
from matchmaker.services.review import user_emails
from matchmaker.web.deps import WebPrincipalDep, page_router
from matchmaker.web.templating import render

router = page_router()


@router.get("/challenges")
def challenge_list(request: Request, session: SessionDep, principal: WebPrincipalDep) -> Response:
    """The challenges the caller may see, latest deadline first."""
    items, total = challenges.list_challenges(session, principal, limit=200)
    return render(request, "challenges.html", {"items": items, "total": total})


def page_context(request: Request, session: Session, principal: Principal, challenge_id: int) -> dict[str, Any]:
    """What the challenge page shows this caller (the proposal, review and decision forms' data included)."""
    challenge = challenges.read(session, challenge_id, principal)
    try:
        proposals: list[dict[str, Any]] | None = challenge_proposals.list_for(session, challenge_id, principal)
    except Forbidden:
        proposals = None  # the issuer before the deadline, an expert before review
    context: dict[str, Any] = {
        "c": challenge,
        "proposals": proposals,
        "ranking": None,
        "consortia": None,
        "experts": None,
        "assignment": None,
        "history": challenge_flow.history(session, challenge_id, principal),
        "may_apply": principal.role == "institution"
        and challenge["stage"] == "published"
        and not challenge["deadline_passed"]
        and not proposals,
        "errors": {},
        "v": {},
    }
    if principal.is_staff:
        context["ranking"] = challenge_review.ranking(session, challenge_id, principal)
        context["experts"] = challenge_review.experts(session, challenge_id, principal)
        assigned = {e["user_id"] for e in context["experts"]}
        context["candidates"] = [
            u for u in challenge_review.expert_users(session, principal) if u["id"] not in assigned
        ]
        search = request.app.state.search
        if search is not None and challenge["indicators"]:
            context["consortia"] = challenge_suggestions.consortia(session, search, challenge_id, principal)
    elif principal.role == "expert":
        context["assignment"] = challenge_proposals.assignment(session, challenge_id, principal.user_id)
    context["emails"] = user_emails(session, [e["actor_id"] for e in context["history"]]) if principal.is_staff else {}
    return context


@router.get("/challenges/{challenge_id}")
def challenge_page(request: Request, session: SessionDep, principal: WebPrincipalDep, challenge_id: int) -> Response:
    """One challenge: indicators, eligibility, proposals; for managers the experts, the ranking, the decision and
    the suggested consortia; for an assigned expert the declaration."""
    return render(request, "challenge.html", page_context(request, session, principal, challenge_id))
