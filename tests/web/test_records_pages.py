"""The list pages (科技成果 / 技术需求, 我的成果 / 我的需求): the API's own filters, the same records as the API for
the same query, htmx partial results, a bad filter shown beside its field, members kept to their organisation."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from matchmaker.web.pages import records
from matchmaker.web.templating import query_with
from tests.factories import achievement, demand
from tests.web.conftest import web_sign_in

OFFERS = (
    {"external_id": "LF-1", "field": "新材料", "region": "北京", "trl": 7, "title": "相变蓄冷材料"},
    {"external_id": "LF-2", "field": "新能源", "region": "河北", "trl": 4, "title": "钠离子电池正极材料"},
    {"external_id": "LF-3", "field": "新材料", "region": "天津", "trl": 9, "title": "高强焊丝"},
    {"external_id": "LF-4", "field": "信创", "region": "北京", "trl": 5, "title": "慢SQL改写工具"},
)


def _shown(html: str, base: str) -> list[int]:
    """The record ids a list page links to, in order."""
    return list(dict.fromkeys(int(i) for i in re.findall(rf'href="{base}/(\d+)"', html)))


@pytest.fixture
def offers(client: TestClient) -> dict[str, int]:
    """Four achievements across chains, regions and TRLs; LF-4 left as a draft."""
    ids = {}
    for offer in OFFERS:
        status = "draft" if offer["external_id"] == "LF-4" else "active"
        created = client.post("/api/v1/achievements", json=achievement(**offer, status=status))
        assert created.status_code == 201, created.text
        ids[str(offer["external_id"])] = created.json()["id"]
    return ids


@pytest.mark.parametrize(
    "query",
    [
        "field=新材料",
        "region=北京",
        "field=新材料&region=天津",
        "trl_min=5",
        "trl_min=5&trl_max=7",
        "status=draft",
        "status=active&region=北京",
        "q=LF-2",
        "q=焊丝",
        "external_id=LF-3",
    ],
)
def test_achievement_filters_show_what_the_api_lists(
    client: TestClient, web_client: TestClient, web_account: Callable[..., str], offers: dict[str, int], query: str
) -> None:
    web_sign_in(web_client, web_account("manager"))
    api = client.get(f"/api/v1/achievements?{query}&sort=-updated_at&limit=200")
    assert api.status_code == 200, api.text
    expected = [item["id"] for item in api.json()["items"]]
    assert expected, "each case selects something"
    assert len(expected) < len(offers), "each case leaves something out"
    page = web_client.get(f"/my/achievements?{query}")
    assert page.status_code == 200
    assert _shown(page.text, "/my/achievements") == expected


def test_empty_choices_filter_nothing_and_the_filters_stay_selected(
    web_client: TestClient, web_account: Callable[..., str], offers: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    web_sign_in(web_client, web_account("manager"))
    everything = web_client.get("/my/achievements?q=&field=&region=&trl_min=&status=")
    assert sorted(_shown(everything.text, "/my/achievements")) == sorted(offers.values())
    monkeypatch.setattr(records, "PAGE_SIZE", 1)
    page = web_client.get("/my/achievements?field=新材料&trl_min=5").text
    assert re.search(r"<option selected>新材料</option>", page)
    assert re.search(r'id="f-trl-min".*?<option selected>5</option>', page, re.S)
    next_page = query_with({"field": ["新材料"], "trl_min": "5"}, page=2).replace("&", "&amp;")
    assert f'href="/my/achievements?{next_page}" rel="next"' in page  # the pager keeps the filters


def test_an_htmx_request_gets_the_results_alone(
    web_client: TestClient, web_account: Callable[..., str], offers: dict[str, int]
) -> None:
    web_sign_in(web_client, web_account("manager"))
    partial = web_client.get("/my/achievements?region=河北", headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert "<html" not in partial.text
    assert 'id="results"' in partial.text
    assert _shown(partial.text, "/my/achievements") == [offers["LF-2"]]
    assert "HX-Request" in partial.headers["vary"]
    restore = web_client.get("/my/achievements", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restore.text  # htmx's history restore wants the whole page


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [("trl_min=8&trl_max=3", "trl_min", "trl_min"), ("trl_min=12", "trl_min", "9"), ("region=火星", "region", "")],
)
def test_a_bad_filter_is_shown_beside_its_field(
    web_client: TestClient, web_account: Callable[..., str], query: str, field: str, message: str
) -> None:
    web_sign_in(web_client, web_account("manager"))
    page = web_client.get(f"/my/achievements?{query}")
    assert page.status_code == 200
    error = re.search(rf'<small class="field-error" id="{field}-error" role="alert">([^<]+)</small>', page.text)
    assert error is not None, page.text
    assert message in error.group(1)
    assert 'id="filter-error"' in page.text


def test_members_filter_only_their_own_records(
    client: TestClient, web_client: TestClient, web_account: Callable[..., str]
) -> None:
    web_sign_in(web_client, web_account("enterprise", org="津南医药物流有限公司"))
    ours = client.post("/api/v1/demands", json=demand(external_id="OWN-1")).json()["id"]  # names the member's org
    theirs = client.post("/api/v1/demands", json=demand(external_id="OTHER-1", enterprise="滨海化工")).json()["id"]
    page = web_client.get("/my/needs?field=生物医药&need_kind=技术需求")
    assert page.status_code == 200
    assert _shown(page.text, "/my/needs") == [ours]
    assert theirs != ours
    assert 'id="f-need-kind"' in page.text
