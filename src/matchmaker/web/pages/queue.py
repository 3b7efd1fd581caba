"""The managers' review queue: the pairings as a table or a board by stage, filtered, sorted, paginated on the
server, saved views, and bulk moves / rejections / assignment (all or nothing, through services.review)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import Form, Query, Request, Response
from pydantic import BaseModel

from matchmaker.api.deps import SessionDep
from matchmaker.domain import CHAINS, MATCH_STATUSES, REGIONS, REJECT_REASONS
from matchmaker.errors import Conflict, MatchmakerError
from matchmaker.models import utcnow
from matchmaker.services import review, workflow
from matchmaker.services.access import Principal, require_staff
from matchmaker.services.stats import SCORE_BANDS
from matchmaker.web.deps import WebPrincipalDep, page_router, redirect
from matchmaker.web.templating import render

router = page_router()
PAGE_SIZE = 50
BOARD_CARDS = 12
STAGES = tuple(s for s in MATCH_STATUSES if s != "rejected")
BANDS = [(low, high) for low, high in zip(SCORE_BANDS, SCORE_BANDS[1:], strict=False)]
LEGACY_NAMES = {"chain": "field"}
"""Query parameters renamed since views were saved (the need's chain is its ``field`` everywhere)."""
PRESET_VIEWS = (("view.my_open", "assignee=me&status=open"), ("view.new_this_week", "since=7"))


class QueueFilters(BaseModel):
    """The queue's query parameters."""

    status: list[str] = []
    field: list[str] = []  # the need's industrial chain (its `field`, as in GET /api/v1/matches)
    src: str = ""  # the achievement's region (a region flow: src → dst)
    dst: str = ""  # the need's region
    assignee: str = ""  # a user id, or "me"
    run: int | None = None
    band: int | None = None
    need: int | None = None
    achievement: int | None = None
    since: int | None = None  # days
    sort: str = ""
    page: int = 1
    layout: str = "table"

    def params(self) -> dict[str, Any]:
        """The filters as query parameters (for links that change one of them)."""
        return {k: v for k, v in self.model_dump().items() if v not in (None, "", [], 1) or k == "page"}


def _query(f: QueueFilters, principal: Principal) -> workflow.MatchQuery:
    statuses = tuple(workflow.OPEN_STATUSES if "open" in f.status else f.status)
    assignee = principal.user_id if f.assignee == "me" else (int(f.assignee) if f.assignee.isdigit() else None)
    band = BANDS[f.band] if f.band is not None and 0 <= f.band < len(BANDS) else None
    return workflow.MatchQuery(
        statuses=statuses,
        assignee_id=assignee,
        fields=tuple(c for c in f.field if c),
        regions=(f.dst,) if f.dst else (),
        achievement_regions=(f.src,) if f.src else (),
        run_id=f.run,
        demand_id=f.need,
        achievement_id=f.achievement,
        score_min=band[0] if band and band[0] != float("-inf") else None,
        score_max=band[1] if band and band[1] != float("inf") else None,
        created_since=utcnow() - timedelta(days=f.since) if f.since else None,
        sort=f.sort or None,
        limit=PAGE_SIZE,
        offset=(max(f.page, 1) - 1) * PAGE_SIZE,
    )


def _band_label(low: float, high: float) -> str:
    if low == float("-inf"):
        return f"<{high:g}"
    if high == float("inf"):
        return f"≥{low:g}"
    return f"{low:g}–{high:g}"


def _page(session: Any, principal: Principal, f: QueueFilters, **extra: Any) -> dict[str, Any]:
    require_staff(principal, "review pairings")
    query = _query(f, principal)
    context: dict[str, Any] = {
        "f": f,
        "params": f.params(),
        "chains": CHAINS,
        "regions": REGIONS,
        "stages": STAGES,
        "statuses": MATCH_STATUSES,
        "reasons": REJECT_REASONS,
        "bands": [_band_label(lo, hi) for lo, hi in BANDS],
        "sorts": list(workflow.SORTS),
        "managers": review.staff_users(session),
        "views": review.list_views(session, principal),
        "presets": PRESET_VIEWS,
        **extra,
    }
    if f.layout == "board":
        counts = workflow.count_by_status(session, query, principal)
        columns = []
        for stage in STAGES if not query.statuses else [s for s in STAGES if s in query.statuses]:
            query.statuses, query.limit, query.offset = (stage,), BOARD_CARDS, 0
            items = workflow.page_matches(session, query, principal) if counts.get(stage) else []
            columns.append({"stage": stage, "items": items, "total": counts.get(stage, 0)})
        context["columns"] = columns
    else:
        items, total = workflow.list_matches(session, query, principal)
        pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
        context.update(items=items, total=total, page=max(f.page, 1), pages=pages)
        context["interests"] = review.interests(session, [m["id"] for m in items])
    return context


@router.get("/queue")
def queue(
    request: Request,
    session: SessionDep,
    principal: WebPrincipalDep,
    f: Annotated[QueueFilters, Query()],
    done: int | None = None,
) -> Response:
    """The review queue (a table, or a board by stage)."""
    if LEGACY_NAMES.keys() & request.query_params.keys():  # a view saved before the rename: the same filters
        renamed = [(LEGACY_NAMES.get(k, k), v) for k, v in request.query_params.multi_items()]
        return redirect(f"/queue?{urlencode(renamed)}", request)
    return render(request, "queue.html", _page(session, principal, f, done=done))


@router.post("/queue/bulk")
def bulk(
    request: Request,
    session: SessionDep,
    principal: WebPrincipalDep,
    action: Annotated[str, Form()],
    ids: Annotated[list[int], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    status: Annotated[str, Form()] = "",
    reject_reason: Annotated[str, Form()] = "",
    assignee_id: Annotated[str, Form()] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """Move, reject or assign the selected pairings, all or nothing."""
    changes: dict[str, Any] = {"note": note.strip() or None}
    if action == "move":
        changes["status"] = status or None
    elif action == "reject":
        changes.update(status="rejected", reject_reason=reject_reason or None)
    elif action == "assign":
        changes["assignee_id"] = int(assignee_id) if assignee_id.isdigit() else None
    try:
        count = review.bulk_update(session, ids, changes, principal)
    except MatchmakerError as exc:
        f = _filters_of(back)
        context = _page(session, principal, f, bulk_error=exc, selected=set(ids), action=action)
        context["refused"] = exc.extra.get("refused", []) if isinstance(exc, Conflict) else []
        return render(request, "queue.html", context, status_code=exc.status_code)
    target = "/queue" + (f"?{back}&done={count}" if back else f"?done={count}")
    return redirect(target, request)


def _filters_of(query: str) -> QueueFilters:
    values = parse_qs(query)
    multi = {"status", "field"}
    values = {LEGACY_NAMES.get(k, k): v for k, v in values.items()}
    data = {k: (v if k in multi else v[0]) for k, v in values.items() if k in QueueFilters.model_fields}
    return QueueFilters.model_validate(data)


@router.post("/queue/views")
def save_view(
    request: Request,
    session: SessionDep,
    principal: WebPrincipalDep,
    name: Annotated[str, Form(max_length=100)],
    query: Annotated[str, Form()] = "",
) -> Response:
    """Save the current filters under a name."""
    review.save_view(session, principal, name, query)
    return redirect(f"/queue?{query}" if query else "/queue", request)


@router.post("/queue/views/{view_id}/delete")
def delete_view(request: Request, session: SessionDep, principal: WebPrincipalDep, view_id: int) -> Response:
    """Forget a saved view."""
    review.delete_view(session, principal, view_id)
    return redirect("/queue", request)
