"""揭榜挂帅 pages: the challenges one may see, and a challenge page with its indicators, the proposals one may see,
and for managers the ranked proposals and the consortium suggestions. The same services as /api/v1/challenges."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from matchmaker.api.deps import SessionDep
from matchmaker.errors import Forbidden
from matchmaker.services import challenge_proposals, challenge_review, challenge_suggestions, challenges
from matchmaker.web.deps import WebPrincipalDep, page_router
from matchmaker.web.templating import render

router = page_router()


@router.get("/challenges")
def challenge_list(request: Request, session: SessionDep, principal: WebPrincipalDep) -> Response:
    """The challenges the caller may see, latest deadline first."""
    items, total = challenges.list_challenges(session, principal, limit=200)
    return render(request, "challenges.html", {"items": items, "total": total})


@router.get("/challenges/{challenge_id}")
def challenge_page(request: Request, session: SessionDep, principal: WebPrincipalDep, challenge_id: int) -> Response:
    """One challenge: indicators, eligibility, proposals; for managers the ranking and the suggested consortia."""
    challenge = challenges.read(session, challenge_id, principal)
    try:
        proposals: list[dict[str, Any]] | None = challenge_proposals.list_for(session, challenge_id, principal)
    except Forbidden:
        proposals = None  # the issuer before the deadline, an expert before review
    context: dict[str, Any] = {"c": challenge, "proposals": proposals, "ranking": None, "consortia": None}
    if principal.is_staff:
        context["ranking"] = challenge_review.ranking(session, challenge_id, principal)
        search = request.app.state.search
        if search is not None and challenge["indicators"]:
            context["consortia"] = challenge_suggestions.consortia(session, search, challenge_id, principal)
    return render(request, "challenge.html", context)
