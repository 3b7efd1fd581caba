"""The challenge page's forms: managers assign experts, set the scoring rubric and move the challenge (publish,
close, review, the award decision with its reason, 验收 with every indicator's result); an assigned expert declares
conflicts of interest and gives the 专家论证 opinion. The rules are services.challenge_flow's and
services.challenge_review's; a refusal re-renders the challenge page with each problem beside its field."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from matchmaker.api.deps import SessionDep
from matchmaker.errors import MatchmakerError
from matchmaker.schemas.challenges import ChallengeUpdate, ExpertAssign, ExpertDeclaration, Move
from matchmaker.services import challenge_flow as flow
from matchmaker.services import challenge_review as review
from matchmaker.services import challenges
from matchmaker.services.access import Principal, require_staff
from matchmaker.web.deps import WebPrincipalDep, page_router, redirect
from matchmaker.web.forms import form_errors, placed, rows, validate
from matchmaker.web.i18n import Translator, request_lang
from matchmaker.web.pages.challenges import page_context
from matchmaker.web.templating import render

router = page_router()
SEPARATORS = re.compile(r"[、,，;；\n]+")
CRITERION = ("name", "weight", "description")
MAX_CRITERIA = 20


def _names(text: str) -> list[str]:
    """Organisation names typed one per line or separated by 、 or commas."""
    return [n.strip() for n in SEPARATORS.split(text) if n.strip()]


def _refused(
    request: Request,
    session: Session,
    principal: Principal,
    challenge_id: int,
    errors: dict[str, str],
    values: dict[str, Any],
    shown: set[str],
) -> Response:
    """The challenge page again, with the form's values and each problem beside its field."""
    session.rollback()
    context = page_context(request, session, principal, challenge_id)
    context |= {"errors": placed(errors, shown), "v": values}
    return render(request, "challenge.html", context, status_code=422)


def _apply(
    request: Request,
    session: Session,
    principal: Principal,
    challenge_id: int,
    model: type[BaseModel],
    body: dict[str, Any],
    write: Any,
    shown: set[str],
) -> Response:
    """Validate ``body`` with the API's schema, hand it to the service, and show the page (again, when refused)."""
    t = Translator(request_lang(request))
    data, errors = validate(model, body, t, nested=True)
    if data is not None:
        try:
            write(session, challenge_id, data, principal)
            return redirect(f"/challenges/{challenge_id}", request)
        except MatchmakerError as exc:
            errors = form_errors(exc, t, shown)
    return _refused(request, session, principal, challenge_id, errors, body, shown)


@router.post("/challenges/{challenge_id}/experts")
async def assign_expert(
    request: Request, session: SessionDep, principal: WebPrincipalDep, challenge_id: int
) -> Response:
    """Managers assign an expert, with the organisations the expert must not score."""
    require_staff(principal, "assign experts")
    form = await request.form()
    body = {"user_id": str(form.get("user_id") or "") or None, "conflicts": _names(str(form.get("conflicts") or ""))}
    shown = {"user_id", "conflicts"}
    return _apply(request, session, principal, challenge_id, ExpertAssign, body, review.assign, shown)


@router.post("/challenges/{challenge_id}/declaration")
async def declare(request: Request, session: SessionDep, principal: WebPrincipalDep, challenge_id: int) -> Response:
    """An assigned expert declares conflicts of interest and, during 专家论证, whether the challenge is well posed."""
    review.require_expert(principal)
    form = await request.form()
    opinion = str(form.get("vetting_ok") or "")
    body: dict[str, Any] = {"conflicts": _names(str(form.get("conflicts") or ""))}
    if opinion in ("true", "false"):
        body["vetting_ok"] = opinion == "true"
    if str(form.get("vetting_comment") or "").strip():
        body["vetting_comment"] = str(form.get("vetting_comment"))
    shown = {"conflicts", "vetting_ok", "vetting_comment"}
    return _apply(request, session, principal, challenge_id, ExpertDeclaration, body, review.declare, shown)


@router.post("/challenges/{challenge_id}/moves")
async def move(request: Request, session: SessionDep, principal: WebPrincipalDep, challenge_id: int) -> Response:
    """Managers move the challenge: 揭榜成功 names the winner and the reason, 验收 every indicator's result."""
    require_staff(principal, "move challenges")
    form = await request.form()
    to = str(form.get("to") or "")
    body: dict[str, Any] = {"to": to or None, "reason": str(form.get("reason") or "").strip() or None}
    if to == "awarded":
        body["proposal_id"] = str(form.get("proposal_id") or "") or None
    shown = {"to", "reason", "proposal_id", "results"}
    if to == "accepted":
        indicators = challenges.read(session, challenge_id, principal)["indicators"]
        body["results"] = [
            {
                "indicator_id": indicator["id"],
                "measured_value": str(form.get(f"results[{n}].measured_value") or "").strip() or None,
                "met": form.get(f"results[{n}].met") == "true",
            }
            for n, indicator in enumerate(indicators)
        ]
        shown |= {f"results[{n}].measured_value" for n in range(len(indicators))}
    return _apply(request, session, principal, challenge_id, Move, body, flow.move, shown)


@router.post("/challenges/{challenge_id}/rubric")
async def set_rubric(request: Request, session: SessionDep, principal: WebPrincipalDep, challenge_id: int) -> Response:
    """Managers replace the scoring rubric (criteria with weights) until review starts."""
    require_staff(principal, "set the rubric")
    form = await request.form()
    criteria = rows(form, "rubric", CRITERION, ("name",), MAX_CRITERIA)  # a criterion without a name is removed
    body = {"rubric": [{**c, "weight": c["weight"] or None, "description": c["description"] or None} for c in criteria]}
    shown = {"rubric"} | {f"rubric[{n}].{k}" for n in range(len(criteria) + 1) for k in CRITERION}

    def write(session: Session, challenge_id: int, data: Any, principal: Principal) -> None:
        review.replace_rubric(session, challenge_id, data.rubric, principal)

    return _apply(request, session, principal, challenge_id, ChallengeUpdate, body, write, shown)
