"""Matching on demand (services/matching.py): who may rank what, the index filter a request becomes, the ranked list
hydrated with briefs as the caller may see them, free-text search bounds and the "no good pairing" verdict."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from matchmaker.errors import Forbidden, NotFound, TooLarge, ValidationFailed
from matchmaker.kinds import ACHIEVEMENTS, DEMANDS
from matchmaker.schemas import AchievementCreate, DemandCreate
from matchmaker.schemas.matching import MAX_QUERY_CHARS, MatchFilters
from matchmaker.search.bands import NO_GOOD_ACHIEVEMENT, NO_GOOD_DEMAND
from matchmaker.services.access import Principal
from matchmaker.services.auth import get_or_create_org
from matchmaker.services.indexing import SearchService
from matchmaker.services.matching import index_filter, match_record, search_text, verdict
from matchmaker.services.records import create_record
from tests.factories import achievement, demand

MANAGER = Principal(user_id=1, role="manager", org_id=None)


OFFERS = {  # external id → overrides of the factory's achievement (a cold-chain material from Beijing)
    "COLD": {},
    "GENE": {
        "title": "基因测序建库试剂盒",
        "summary": "二代测序文库构建，转化效率高。",
        "field": "生物医药",
        "region": "河北",
    },
    "CHIP": {
        "title": "晶圆缺陷检测算法",
        "summary": "深度学习识别晶圆表面缺陷。",
        "field": "集成电路",
        "region": "天津",
    },
}


class World:
    """Committed records, the app's search service and members of the organisations that own them."""

    def __init__(self, client: TestClient) -> None:
        self.factory: sessionmaker[Session] = client.app.state.session_factory  # type: ignore[attr-defined]
        self.search: SearchService = client.app.state.search  # type: ignore[attr-defined]
        with self.factory() as s:
            self.members = {}
            for role in ("enterprise", "institution"):
                org = get_or_create_org(s, f"{role}-{uuid.uuid4().hex[:8]}", role)
                s.flush()
                self.members[role] = Principal(user_id=1, role=role, org_id=org.id)
            self.ids: dict[str, int] = {}
            for ext, overrides in OFFERS.items():
                body = AchievementCreate(**achievement(external_id=ext, keywords=[], **overrides))  # type: ignore[arg-type]
                owner = self.members["institution"] if ext == "COLD" else None
                self.ids[ext] = create_record(s, ACHIEVEMENTS, body, principal=owner).id
            need = DemandCreate(**demand(confidential=True))  # type: ignore[arg-type]
            self.ids["NEED"] = create_record(s, DEMANDS, need, principal=self.members["enterprise"]).id
            s.commit()
        self.search.sync()  # the committed records, as the follower thread would apply them
        assert self.search.ensure_current("achievements", self.ids["COLD"])
        assert self.search.ensure_current("demands", self.ids["NEED"])

    def session(self) -> Session:
        return self.factory()


@pytest.fixture
def world(client: TestClient) -> World:
    return World(client)


def test_index_filter_adds_the_live_status_and_checks_the_readiness_range() -> None:
    flt = index_filter(MatchFilters(field=["新材料"], region=["北京"], modes=["许可"], trl_min=5), "achievements", [7])
    assert (flt.fields, flt.regions, flt.statuses, flt.modes, flt.exclude_ids) == (
        ("新材料",),
        ("北京",),
        ("active",),
        ("许可",),
        (7,),
    )
    assert index_filter(None, "demands").statuses == ("open",)
    with pytest.raises(ValidationFailed) as bad:
        index_filter(MatchFilters(trl_min=8, trl_max=3), "achievements")
    assert bad.value.fields[0]["field"] == "trl_min"


def test_a_need_ranks_achievements_for_its_enterprise_and_staff_only(world: World) -> None:
    with world.session() as s:
        items = match_record(s, world.search, "demands", world.ids["NEED"], k=3, principal=world.members["enterprise"])
        assert [i["rank"] for i in items] == list(range(1, len(items) + 1))
        assert items[0]["achievement"]["external_id"] == "COLD"
        assert items[0]["score"] == items[0]["explanation"]["total"]
        assert items[0]["achievement"]["price_wan"] == 150.0  # a JSON number, not a Decimal
        staff = match_record(s, world.search, "demands", world.ids["NEED"], k=3, principal=MANAGER)
        assert [i["achievement"]["id"] for i in staff] == [i["achievement"]["id"] for i in items]
        other = Principal(user_id=1, role="enterprise", org_id=world.members["enterprise"].org_id + 10_000)  # type: ignore[operator]
        with pytest.raises(NotFound):  # another enterprise's need does not exist for it
            match_record(s, world.search, "demands", world.ids["NEED"], principal=other)
        with pytest.raises(Forbidden):  # an institution never ranks from a need
            match_record(s, world.search, "demands", world.ids["NEED"], principal=world.members["institution"])
        with pytest.raises(ValidationFailed) as k:
            match_record(s, world.search, "demands", world.ids["NEED"], k=0)
        assert k.value.fields[0]["field"] == "k"


def test_the_filters_reach_the_ranked_list(world: World) -> None:
    with world.session() as s:
        only = MatchFilters(field=["生物医药"])
        items = match_record(s, world.search, "demands", world.ids["NEED"], k=3, filters=only)
        assert [i["achievement"]["external_id"] for i in items] == ["GENE"]


def test_an_institution_sees_a_confidential_need_without_its_enterprise(world: World) -> None:
    with world.session() as s:
        institution = world.members["institution"]
        (item,) = match_record(s, world.search, "achievements", world.ids["COLD"], k=1, principal=institution)
        assert item["demand"]["id"] == world.ids["NEED"]
        assert item["demand"]["enterprise"] is None
        assert item["demand"]["enterprise_hidden"] is True
        (staff,) = match_record(s, world.search, "achievements", world.ids["COLD"], k=1, principal=MANAGER)
        assert staff["demand"]["enterprise"] == "津南医药物流有限公司"


def test_free_text_search_bounds_and_roles(world: World) -> None:
    with world.session() as s:
        items = search_text(s, world.search, "晶圆表面缺陷识别", "achievements", k=1)
        assert items[0]["achievement"]["external_id"] == "CHIP"
        with pytest.raises(ValidationFailed) as empty:
            search_text(s, world.search, "   ", "achievements")
        assert empty.value.fields[0]["field"] == "text"
        with pytest.raises(TooLarge) as long:
            search_text(s, world.search, "字" * (MAX_QUERY_CHARS + 1), "achievements")
        assert long.value.fields[0]["field"] == "text"
        with pytest.raises(Forbidden):  # the demand list is searched by institutions and staff
            search_text(s, world.search, "冷链", "demands", principal=world.members["enterprise"])
        (need,) = search_text(s, world.search, "冷链", "demands", k=1, principal=world.members["institution"])
        assert need["demand"]["enterprise_hidden"] is True


def test_verdict_says_so_when_no_pairing_is_good() -> None:
    assert verdict([{"band": "弱"}], "achievements") == NO_GOOD_ACHIEVEMENT
    assert verdict([], "demands") == NO_GOOD_DEMAND
    assert verdict([{"band": "弱"}, {"band": "可能"}], "achievements") is None
