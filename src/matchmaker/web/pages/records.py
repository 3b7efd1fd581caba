"""我的需求 (enterprise members) and 我的成果 (institution members), and the same pages over every record for
managers: lists with search, filters and pagination; create and edit forms with each field's error beside it;
close / archive; a record's suggestions with "希望对接"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Form, Request, Response
from pydantic import Field

from matchmaker.api.deps import SessionDep
from matchmaker.domain import CHAINS, REGIONS, TRANSFER_MODES, NeedKind
from matchmaker.errors import Conflict, MatchmakerError, ValidationFailed
from matchmaker.kinds import ACHIEVEMENTS as ACHIEVEMENT_SPEC
from matchmaker.kinds import DEMANDS, KindSpec
from matchmaker.schemas.queries import RecordFilterParams
from matchmaker.search.bands import BAND_NAMES_EN
from matchmaker.services import interest, matching
from matchmaker.services import records as svc
from matchmaker.services.access import Principal, require_role
from matchmaker.web.deps import WebPrincipalDep, page_router, redirect
from matchmaker.web.forms import service_errors, validate
from matchmaker.web.i18n import Translator, request_lang
from matchmaker.web.templating import render

router = page_router()
PAGE_SIZE = 20
MAX_PAGE = 100_000
SUGGESTIONS = 10


@dataclass(frozen=True)
class Kind:
    """One list as the pages show it."""

    spec: KindSpec
    base: str
    noun: str  # catalogue prefix: need | ach
    closed: str  # the status "close" / "archive" sets


NEEDS = Kind(DEMANDS, "/my/needs", "need", "closed")
ACHIEVEMENTS = Kind(ACHIEVEMENT_SPEC, "/my/achievements", "ach", "archived")
FIELDS = {
    "need": ("title", "description", "keywords", "field", "enterprise", "region", "min_trl", "preferred_modes",
             "budget_wan", "deadline", "confidential", "bounty_wan", "external_id", "status"),
    "ach": ("title", "summary", "keywords", "field", "owner", "region", "trl", "transfer_modes", "ip", "price_wan",
            "external_id", "status"),
}  # fmt: skip
LISTS = {"keywords", "preferred_modes", "transfer_modes"}


def _allow(principal: Principal, kind: Kind) -> None:
    require_role(principal, (kind.spec.writer,), f"work on {kind.spec.kind}")


def _form_values(record: Any, kind: Kind) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in FIELDS[kind.noun]:
        value = getattr(record, name, None)
        if name == "keywords":
            value = "、".join(value or [])
        values[name] = "" if value is None else value
    return values


def _form_context(kind: Kind, values: dict[str, Any], errors: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "v": values,
        "errors": errors,
        "chains": CHAINS,
        "regions": REGIONS,
        "modes": TRANSFER_MODES,
        "statuses": kind.spec.statuses,
        **extra,
    }


async def _submitted(request: Request, kind: Kind) -> dict[str, Any]:
    form = await request.form()
    data: dict[str, Any] = {}
    for name in FIELDS[kind.noun]:
        if name in ("preferred_modes", "transfer_modes"):
            data[name] = [str(v) for v in form.getlist(name)]
        elif name == "confidential":
            data[name] = form.get(name) == "true"
        else:
            value = form.get(name)
            data[name] = str(value) if value is not None else ""
    return data


class ListFilters(RecordFilterParams):
    """A list page's query string: the API's own list filters (one meaning, :func:`services.records.list_query`)
    and the page."""

    page: int = Field(default=1, ge=1, le=MAX_PAGE)


MULTI = ("field", "region", "status")  # the filters that take several values, as in the API


@router.get("/my/needs")
def my_needs(request: Request, session: SessionDep, principal: WebPrincipalDep) -> Response:
    """The organisation's needs (managers: every need), filtered like the API's list."""
    return _list(request, session, principal, NEEDS)


@router.get("/my/achievements")
def my_achievements(request: Request, session: SessionDep, principal: WebPrincipalDep) -> Response:
    """The organisation's achievements, drafts and published (managers: every achievement), filtered like the
    API's list."""
    return _list(request, session, principal, ACHIEVEMENTS)


def _list(request: Request, session: Any, principal: Principal, kind: Kind) -> Response:
    _allow(principal, kind)
    t = Translator(request_lang(request))
    raw: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if value.strip():  # an empty choice ("全部") filters nothing
            if key in MULTI:
                raw.setdefault(key, []).append(value)
            else:
                raw[key] = value
    parsed, errors = validate(ListFilters, raw, t)
    items: list[Any] = []
    total, page = 0, 1
    if isinstance(parsed, ListFilters):
        page = parsed.page
        try:
            query = svc.list_query(kind.spec, parsed)
        except ValidationFailed as exc:
            errors = service_errors(exc, t)
        else:
            query.sort, query.limit, query.offset = "-updated_at", PAGE_SIZE, (page - 1) * PAGE_SIZE
            if not principal.is_staff:
                query.extra["org_id"] = principal.org_id
            items, total = svc.list_records(session, kind.spec, query, principal)
    context = {
        "kind": kind,
        "items": items,
        "total": total,
        "page": page,
        "pages": max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        "params": {k: v for k, v in raw.items() if k != "page"},
        "need_kinds": [k.value for k in NeedKind],
        **_form_context(kind, {}, errors),
    }
    partial = request.headers.get("hx-request") and not request.headers.get("hx-history-restore-request")
    response = render(request, "_record_results.html" if partial else "my_list.html", context)
    response.headers["Vary"] = "HX-Request"
    return response


def _new(kind: Kind) -> Any:
    async def new_form(request: Request, principal: WebPrincipalDep) -> Response:
        _allow(principal, kind)
        values = {name: "" for name in FIELDS[kind.noun]}
        values["status"] = "open" if kind is NEEDS else "draft"
        return render(request, "record_form.html", _form_context(kind, values, {}, record=None))

    return new_form


def _create(kind: Kind) -> Any:
    async def create(request: Request, session: SessionDep, principal: WebPrincipalDep) -> Response:
        _allow(principal, kind)
        t = Translator(request_lang(request))
        values = await _submitted(request, kind)
        data, errors = validate(kind.spec.create, values, t)
        if data is not None:
            try:
                record = svc.create_record(session, kind.spec, data, source="web", principal=principal)
                return redirect(f"{kind.base}/{record.id}", request)
            except MatchmakerError as exc:
                errors = service_errors(exc, t)
        context = _form_context(kind, values, errors, record=None)
        return render(request, "record_form.html", context, status_code=422)

    return create


def _edit(kind: Kind) -> Any:
    def edit_form(request: Request, session: SessionDep, principal: WebPrincipalDep, record_id: int) -> Response:
        _allow(principal, kind)
        record = svc.get_record(session, kind.spec, record_id, principal, write=True)
        return render(request, "record_form.html", _form_context(kind, _form_values(record, kind), {}, record=record))

    return edit_form


def _update(kind: Kind) -> Any:
    async def update(request: Request, session: SessionDep, principal: WebPrincipalDep, record_id: int) -> Response:
        _allow(principal, kind)
        t = Translator(request_lang(request))
        record = svc.get_record(session, kind.spec, record_id, principal, write=True)
        values = await _submitted(request, kind)
        data, errors = validate(kind.spec.create, values, t)  # the whole record, validated as on creation
        if data is not None:
            try:
                patch = kind.spec.update.model_validate(data.model_dump())
                svc.update_record(session, kind.spec, record_id, patch, principal)
                return redirect(f"{kind.base}/{record_id}", request)
            except MatchmakerError as exc:
                errors = service_errors(exc, t)
        context = _form_context(kind, values, errors, record=record)
        return render(request, "record_form.html", context, status_code=422)

    return update


def _close(kind: Kind) -> Any:
    def close(request: Request, session: SessionDep, principal: WebPrincipalDep, record_id: int) -> Response:
        _allow(principal, kind)
        patch = kind.spec.update.model_validate({"status": kind.closed})
        svc.update_record(session, kind.spec, record_id, patch, principal)
        return redirect(f"{kind.base}/{record_id}", request)

    return close


def _detail(kind: Kind) -> Any:
    def detail(request: Request, session: SessionDep, principal: WebPrincipalDep, record_id: int) -> Response:
        _allow(principal, kind)
        record = svc.get_record(session, kind.spec, record_id, principal, write=True)
        suggestions: list[dict[str, Any]] = []
        pending = False
        search = request.app.state.search
        if search is not None:
            try:
                suggestions = matching.match_record(
                    session, search, kind.spec.kind, record_id, k=SUGGESTIONS, principal=principal
                )
            except Conflict:
                pending = True  # not embedded yet: the page says so and offers a reload
        pairs = [_pair(kind, record_id, s) for s in suggestions]
        asked = interest.interested(session, principal, pairs) if not principal.is_staff else set()
        for s, pair in zip(suggestions, pairs, strict=True):
            s["asked"] = pair in asked
            s["pair"] = pair
            s["band_key"] = BAND_NAMES_EN.get(s.get("band", ""))  # 强 → strong: the badge's class and label
        # "暂无合适成果" / "暂无合适需求" when no suggestion reaches the 可能 band: the API's own verdict.
        no_good = matching.verdict(suggestions, kind.spec.other_kind) if suggestions else None
        context = {"kind": kind, "r": record, "suggestions": suggestions, "pending": pending, "no_good": no_good}
        return render(request, "record_detail.html", context)

    return detail


def _pair(kind: Kind, record_id: int, suggestion: dict[str, Any]) -> tuple[int, int]:
    if kind is NEEDS:
        return record_id, int(suggestion["achievement"]["id"])
    return int(suggestion["demand"]["id"]), record_id


for _kind in (NEEDS, ACHIEVEMENTS):
    router.add_api_route(f"{_kind.base}/new", _new(_kind), methods=["GET"])
    router.add_api_route(f"{_kind.base}/new", _create(_kind), methods=["POST"])
    router.add_api_route(f"{_kind.base}/{{record_id}}", _detail(_kind), methods=["GET"])
    router.add_api_route(f"{_kind.base}/{{record_id}}/edit", _edit(_kind), methods=["GET"])
    router.add_api_route(f"{_kind.base}/{{record_id}}/edit", _update(_kind), methods=["POST"])
    router.add_api_route(f"{_kind.base}/{{record_id}}/close", _close(_kind), methods=["POST"])


@router.post("/interest")
def express_interest(
    request: Request,
    session: SessionDep,
    principal: WebPrincipalDep,
    demand_id: Annotated[int, Form()],
    achievement_id: Annotated[int, Form()],
    back: Annotated[str, Form()] = "/",
) -> Response:
    """ "希望对接" on a suggestion: recorded on the pairing, which managers then see as requested."""
    interest.express_interest(session, request.app.state.search, principal, demand_id, achievement_id)
    target = back if back.startswith("/") and not back.startswith("//") else "/"
    return redirect(target + ("&" if "?" in target else "?") + "asked=1", request)
