"""The managers' dashboard: the figures of services.stats (the API's /stats) drawn with Apache ECharts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import Request, Response

from matchmaker.api.deps import SessionDep
from matchmaker.models import utcnow
from matchmaker.services import stats
from matchmaker.web.deps import WebPrincipalDep, page_router
from matchmaker.web.i18n import Translator, request_lang
from matchmaker.web.templating import render

router = page_router()
PERIODS = (7, 30, 90, 365)


def _charts(figures: dict[str, Any], t: Translator) -> dict[str, Any]:
    """The figures shaped for the charts, with labels in the user's language."""
    flows = figures["region_flows"]
    nodes: list[str] = []
    links = []
    for flow, count in flows.items():
        src, dst = flow.split("→")
        a, b = t("dash.supply_node", region=src), t("dash.demand_node", region=dst)
        nodes += [n for n in (a, b) if n not in nodes]
        links.append({"source": a, "target": b, "value": count})
    stage = t
    return {
        "funnel": [{"name": stage("status." + f["stage"]), "value": f["count"]} for f in figures["funnel"]],
        "sankey": {"nodes": [{"name": n} for n in nodes], "links": links},
        "chains": {"names": list(figures["by_chain"]), "values": list(figures["by_chain"].values())},
        "stages": {
            "names": [stage("status." + s) for s in figures["time_in_stage"]],
            "values": [v["median_hours"] for v in figures["time_in_stage"].values()],
        },
        "managers": {
            "names": [m["email"] or str(m["user_id"]) for m in figures["per_manager"]],
            "series": [
                {"name": stage("status." + s), "values": [m["by_status"].get(s, 0) for m in figures["per_manager"]]}
                for s in figures["by_status"]
            ],
        },
        "bands": {
            "names": [b["band"] for b in figures["decisions_by_score_band"]],
            "accepted": [b["accepted"] for b in figures["decisions_by_score_band"]],
            "rejected": [b["rejected"] for b in figures["decisions_by_score_band"]],
        },
        "labels": {
            "accepted": t("dash.accepted"),
            "rejected": t("dash.rejected"),
            "hours": t("dash.hours"),
            "pairings": t("dash.pairings"),
        },
    }


@router.get("/dashboard")
def dashboard(request: Request, session: SessionDep, principal: WebPrincipalDep, days: int | None = 90) -> Response:
    """Funnel, region flows, chains, time in stage, per manager, decisions by score band, for a period."""
    since = utcnow() - timedelta(days=days) if days else None
    figures = stats.compute(session, principal, since=since)
    t = Translator(request_lang(request))
    context = {"figures": figures, "charts": _charts(figures, t), "days": days, "periods": PERIODS}
    return render(request, "dashboard.html", context)
