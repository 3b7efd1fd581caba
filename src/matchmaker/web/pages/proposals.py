"""揭榜申报 in the workspace: an institution's proposal form (alone or leading a consortium; edit and withdraw until
the deadline), one proposal's page, and an expert's score of it. The rules are services.challenge_proposals' and
services.challenge_review's, as for /api/v1/challenges/{id}/proposals."""

from __future__ import annotations

from typing import Any, get_args

from fastapi import Request, Response
from sqlalchemy.orm import Session

from matchmaker.api.deps import SessionDep
from matchmaker.domain import REGIONS
from matchmaker.errors import MatchmakerError, NotFound
from matchmaker.kinds import ACHIEVEMENTS
from matchmaker.schemas.challenges import MemberKind, ProposalCreate, ProposalUpdate, ScoreIn
from matchmaker.services import challenge_proposals as proposals
from matchmaker.services import challenge_review as review
from matchmaker.services import challenges
from matchmaker.services import records as records_svc
from matchmaker.services.access import Principal
from matchmaker.services.review import user_emails
from matchmaker.web.deps import WebPrincipalDep, page_router, redirect
from matchmaker.web.forms import form_errors, placed, rows, validate
from matchmaker.web.i18n import Translator, request_lang
from matchmaker.web.templating import render

router = page_router()
MEMBER_KINDS: tuple[str, ...] = get_args(MemberKind)
PARTNER_ROWS = 2  # empty partner rows the form offers (more with 添加参与单位)
SCHEDULE_ROWS = 2
MAX_ROWS = 30
PARTNER = ("name", "kind", "region")
MILESTONE = ("month", "milestone")
TEXT_FIELDS = ("lead_kind", "lead_region", "team", "approach", "budget_wan")


def _own_achievements(session: Session, principal: Principal) -> list[Any]:
    query = records_svc.ListQuery(sort="-updated_at", limit=200, extra={"org_id": principal.org_id})
    return records_svc.list_records(session, ACHIEVEMENTS, query, principal)[0]


def _blank(challenge: dict[str, Any]) -> dict[str, Any]:
    return {
        "lead_kind": MEMBER_KINDS[0],
        "lead_region": "",
        "team": "",
        "approach": "",
        "budget_wan": "",
        "partners": [],
        "schedule": [],
        "achievement_ids": [],
        "promises": ["" for _ in challenge["indicators"]],
    }


def _values_of(proposal: dict[str, Any], challenge: dict[str, Any]) -> dict[str, Any]:
    promised = {p["indicator_id"]: p["value"] for p in proposal["promises"]}
    lead = proposal["members"][0]
    return {
        "lead_kind": lead["kind"],
        "lead_region": lead["region"],
        "team": proposal["team"],
        "approach": proposal["approach"],
        "budget_wan": f"{proposal['budget_wan']:g}",
        "partners": [{k: m[k] for k in PARTNER} for m in proposal["members"][1:]],
        "schedule": [{"month": str(s["month"]), "milestone": s["milestone"]} for s in proposal["schedule"]],
        "achievement_ids": [str(i) for i in proposal["achievement_ids"]],
        "promises": [f"{promised[i['id']]:g}" if i["id"] in promised else "" for i in challenge["indicators"]],
    }


async def _submitted(request: Request, challenge: dict[str, Any]) -> dict[str, Any]:
    form = await request.form()
    values: dict[str, Any] = {name: str(form.get(name) or "").strip() for name in TEXT_FIELDS}
    values["partners"] = rows(form, "partners", PARTNER, ("name",), MAX_ROWS)
    values["schedule"] = rows(form, "schedule", MILESTONE, MILESTONE, MAX_ROWS)
    values["achievement_ids"] = [str(v) for v in form.getlist("achievement_ids")]
    values["promises"] = [
        str(form.get(f"promises[{n}].value") or "").strip() for n in range(len(challenge["indicators"]))
    ]
    return values


def _body(values: dict[str, Any], challenge: dict[str, Any]) -> dict[str, Any]:
    """The API's request body from the form's strings (the schema validates and converts them)."""
    return {
        **{name: values[name] for name in TEXT_FIELDS},
        "budget_wan": values["budget_wan"] or None,
        "partners": values["partners"],
        "schedule": values["schedule"],
        "achievement_ids": values["achievement_ids"],
        "promises": [
            {"indicator_id": i["id"], "value": v or None}
            for i, v in zip(challenge["indicators"], values["promises"], strict=True)
        ],
    }


def _shown(values: dict[str, Any], challenge: dict[str, Any]) -> set[str]:
    """Every field name the form shows an error beside."""
    shown = {*TEXT_FIELDS, "partners", "schedule", "achievement_ids", "promises"}
    shown |= {f"partners[{n}].{k}" for n in range(len(values["partners"]) + PARTNER_ROWS) for k in PARTNER}
    shown |= {f"schedule[{n}].{k}" for n in range(len(values["schedule"]) + SCHEDULE_ROWS) for k in MILESTONE}
    return shown | {f"promises[{n}].value" for n in range(len(challenge["indicators"]))}


def _form_name(name: str) -> str:
    """The service names consortium members as members[n] (the lead first); the form as lead_* and partners[n-1]."""
    if name.startswith("members[0]."):
        return "lead_" + name.split(".", 1)[1]
    if name.startswith("members["):
        index, rest = name.removeprefix("members[").split("].", 1)
        return f"partners[{int(index) - 1}].{rest}"
    return name


def _form_page(
    request: Request,
    session: Session,
    principal: Principal,
    challenge: dict[str, Any],
    values: dict[str, Any],
    errors: dict[str, str],
    proposal_id: int | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "c": challenge,
        "v": values,
        "errors": errors,
        "proposal_id": proposal_id,
        "kinds": MEMBER_KINDS,
        "regions": REGIONS,
        "achievements": _own_achievements(session, principal),
        "partner_rows": len(values["partners"]) + PARTNER_ROWS,
        "schedule_rows": len(values["schedule"]) + SCHEDULE_ROWS,
    }
    return render(request, "proposal_form.html", context, status_code=status_code)


async def _save(
    request: Request, session: Session, principal: Principal, challenge_id: int, proposal_id: int | None
) -> Response:
    proposals.require_applicant(principal)
    t = Translator(request_lang(request))
    challenge = challenges.read(session, challenge_id, principal)
    if proposal_id is not None:
        proposals.read(session, challenge_id, proposal_id, principal)  # 404 unless it is the caller's own
    values = await _submitted(request, challenge)
    data, errors = validate(ProposalCreate, _body(values, challenge), t, nested=True)
    if data is not None:
        try:
            if proposal_id is None:
                proposal_id = proposals.create(session, challenge_id, data, principal)  # type: ignore[arg-type]
            else:
                patch = ProposalUpdate.model_validate(data.model_dump())
                proposals.update(session, challenge_id, proposal_id, patch, principal)
            return redirect(f"/challenges/{challenge_id}/proposals/{proposal_id}", request)
        except MatchmakerError as exc:
            session.rollback()
            errors = form_errors(exc, t, _shown(values, challenge), _form_name)
    errors = placed(errors, _shown(values, challenge))
    return _form_page(request, session, principal, challenge, values, errors, proposal_id, status_code=422)


@router.get("/challenges/{challenge_id}/proposals/new")
def new_proposal(request: Request, session: SessionDep, principal: WebPrincipalDep, challenge_id: int) -> Response:
    """The 揭榜申报 form of a published challenge (institution members)."""
    proposals.require_applicant(principal)
    challenge = challenges.read(session, challenge_id, principal)
    return _form_page(request, session, principal, challenge, _blank(challenge), {})


@router.post("/challenges/{challenge_id}/proposals/new")
async def create_proposal(
    request: Request, session: SessionDep, principal: WebPrincipalDep, challenge_id: int
) -> Response:
    """Apply; each field's problem is shown beside it."""
    return await _save(request, session, principal, challenge_id, None)


@router.get("/challenges/{challenge_id}/proposals/{proposal_id}/edit")
def edit_proposal(
    request: Request, session: SessionDep, principal: WebPrincipalDep, challenge_id: int, proposal_id: int
) -> Response:
    """The applicant's form over its own proposal."""
    proposals.require_applicant(principal)
    challenge = challenges.read(session, challenge_id, principal)
    proposal = proposals.read(session, challenge_id, proposal_id, principal)
    values = _values_of(proposal, challenge)
    return _form_page(request, session, principal, challenge, values, {}, proposal_id)


@router.post("/challenges/{challenge_id}/proposals/{proposal_id}/edit")
async def update_proposal(
    request: Request, session: SessionDep, principal: WebPrincipalDep, challenge_id: int, proposal_id: int
) -> Response:
    """Change one's own proposal until the deadline."""
    return await _save(request, session, principal, challenge_id, proposal_id)


@router.post("/challenges/{challenge_id}/proposals/{proposal_id}/withdraw")
def withdraw_proposal(
    request: Request, session: SessionDep, principal: WebPrincipalDep, challenge_id: int, proposal_id: int
) -> Response:
    """Withdraw one's own proposal before the deadline."""
    proposals.withdraw(session, challenge_id, proposal_id, principal)
    return redirect(f"/challenges/{challenge_id}/proposals/{proposal_id}", request)


@router.get("/challenges/{challenge_id}/proposal-row")
def proposal_row(
    request: Request,
    session: SessionDep,
    principal: WebPrincipalDep,
    challenge_id: int,
    group: str = "partners",
    n: int = 0,
) -> Response:
    """One more empty partner or milestone row of the form (an HTMX fragment)."""
    proposals.require_applicant(principal)
    challenges.get_visible(session, challenge_id, principal)
    if group not in ("partners", "schedule") or not 0 <= n < MAX_ROWS:
        raise NotFound(f"no row {group}[{n}]")
    context = {
        "group": group,
        "n": n,
        "row": {},
        "errors": {},
        "kinds": MEMBER_KINDS,
        "regions": REGIONS,
        "oob": n + 1 < MAX_ROWS,  # the 添加 button comes back counting on, until the last row
        "challenge_id": challenge_id,
    }
    return render(request, "_proposal_row.html", context)


# ----------------------------------------------------------------------------------------------- proposal page
def _proposal_context(session: Session, principal: Principal, challenge_id: int, proposal_id: int) -> dict[str, Any]:
    challenge = challenges.read(session, challenge_id, principal)
    proposal = proposals.read(session, challenge_id, proposal_id, principal)
    promised = {p["indicator_id"]: p["value"] for p in proposal["promises"]}
    linked: list[Any] = []
    for achievement_id in proposal["achievement_ids"]:
        if proposal["applicant_hidden"]:
            linked.append(None)  # their owners would name the masked applicant
            continue
        try:
            linked.append(records_svc.get_record(session, ACHIEVEMENTS, achievement_id, principal))
        except NotFound:
            linked.append(None)  # not visible to this reader: shown by number only
    mine: dict[str, Any] | None = None
    per_expert: list[dict[str, Any]] = []
    if principal.role == "expert":
        try:
            mine = review.my_score(session, challenge_id, proposal_id, principal)
        except NotFound:
            mine = None
    elif principal.is_staff:
        ranked = review.ranking(session, challenge_id, principal)
        per_expert = next((r["per_expert"] for r in ranked if r["proposal_id"] == proposal_id), [])
    return {
        "c": challenge,
        "p": proposal,
        "promised": promised,
        "linked": list(zip(proposal["achievement_ids"], linked, strict=True)),
        "mine": mine,
        "per_expert": per_expert,
        "emails": user_emails(session, [s["expert_id"] for s in per_expert]),
    }


@router.get("/challenges/{challenge_id}/proposals/{proposal_id}")
def proposal_page(
    request: Request, session: SessionDep, principal: WebPrincipalDep, challenge_id: int, proposal_id: int
) -> Response:
    """One proposal as the caller may see it; an assigned expert's score form during review."""
    context = _proposal_context(session, principal, challenge_id, proposal_id)
    return render(request, "proposal.html", {**context, "errors": {}, "scores": None})


@router.post("/challenges/{challenge_id}/proposals/{proposal_id}/review")
async def score_proposal(
    request: Request, session: SessionDep, principal: WebPrincipalDep, challenge_id: int, proposal_id: int
) -> Response:
    """An assigned expert scores every rubric criterion (0–100); a conflict of interest is refused."""
    review.require_expert(principal)
    t = Translator(request_lang(request))
    form = await request.form()
    challenge = challenges.read(session, challenge_id, principal)
    scores = {str(c["id"]): str(form.get(f"scores[{c['id']}]") or "").strip() for c in challenge["rubric"]}
    shown = {f"scores[{c['id']}]" for c in challenge["rubric"]} | {"comment"}
    body = {"scores": {k: v or None for k, v in scores.items()}, "comment": str(form.get("comment") or "") or None}
    data, errors = validate(ScoreIn, body, t, nested=True)
    if data is not None:
        try:
            review.score(session, challenge_id, proposal_id, data, principal)  # type: ignore[arg-type]
            return redirect(f"/challenges/{challenge_id}/proposals/{proposal_id}?scored=1", request)
        except MatchmakerError as exc:
            session.rollback()
            errors = form_errors(exc, t, shown)
    context = _proposal_context(session, principal, challenge_id, proposal_id)
    context |= {"errors": placed(errors, shown), "scores": scores, "comment": body["comment"]}
    return render(request, "proposal.html", context, status_code=422)
