"""The concept thesaurus: matching terms, evidence per pairing, expansion, the starter file, its effect on ranking."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from matchmaker.search.concepts import ConceptLink, Thesaurus, contains, headline, load_links
from matchmaker.search.constraints import NeedFacts, OfferFacts
from matchmaker.search.filters import RecordAttrs
from matchmaker.search.matcher import Doc, Matcher, Query
from matchmaker.search.text import canonical
from tests.search.test_evaluation import BigramEmbedder

STARTER = Path(__file__).resolve().parents[2] / "data" / "thesaurus" / "starter.jsonl"
TODAY = date(2026, 11, 23)

MOULD = ConceptLink("冷却时间长", "symptom", "随形冷却")
VISION = ConceptLink("倒瓶", "symptom", "机器视觉")
COLD_CHARGE = ConceptLink("低温充电", "opposite", "液冷")
HEAT = ConceptLink("低温充电", "symptom", "自加热")


def test_latin_terms_match_whole_words_and_chinese_terms_as_substrings() -> None:
    text = canonical("Random crashes of ARM servers；注塑件冷却时间长")
    assert contains(text, "ARM servers")
    assert contains(text, "冷却时间长")
    assert not contains(canonical("a farm of receptacles"), "arm")
    assert contains(canonical("冷卻時間長"), "冷却时间长")  # Traditional text matches the Simplified term


def test_a_symptom_link_gives_evidence_and_a_readable_explanation() -> None:
    thesaurus = Thesaurus([MOULD, VISION])
    concepts = thesaurus.for_need("注塑件一个周期40秒，冷却时间长，占了一大半")
    offer = "随形冷却模具设计与3D打印\n模具；随形冷却\n..."
    evidence = concepts.evidence(canonical(offer), canonical(headline(offer)))
    assert evidence.concept == 1.0
    assert evidence.links == ("冷却时间长 → 随形冷却",)
    unrelated = concepts.evidence(canonical("机器视觉检测"), canonical("机器视觉检测"))
    assert unrelated.concept == 0.0  # 倒瓶 is not in the need: its link does not apply
    assert "随形" in concepts.expansion()


def test_synonyms_and_broader_terms_apply_both_ways_with_their_strength() -> None:
    thesaurus = Thesaurus([ConceptLink("光阻", "synonym", "光刻胶"), ConceptLink("随形冷却", "broader", "模具冷却")])
    assert thesaurus.for_need("光刻胶涂布有条纹").evidence("光阻涂布工艺", "光阻").concept == 1.0
    assert thesaurus.for_need("模具冷却不均").evidence("随形冷却", "随形冷却").concept == 0.5


def test_an_opposite_solution_is_marked_unless_a_positive_link_joins_the_pairing() -> None:
    thesaurus = Thesaurus([COLD_CHARGE, HEAT])
    concepts = thesaurus.for_need("电动物流车冬天低温充电慢")
    cooling = concepts.evidence(canonical("电池包液冷板\n液冷；热管理\n"), canonical("电池包液冷板\n液冷；热管理"))
    assert cooling.opposite == 1.0
    assert cooling.opposites == ("低温充电 ↔ 液冷",)
    heating = "动力电池自加热技术\n自加热\n可与液冷系统共用回路"
    evidence = concepts.evidence(canonical(heating), canonical(headline(heating)))
    assert evidence.opposite == 0.0
    assert evidence.concept == 1.0


def test_the_starter_thesaurus_covers_the_twelve_chains_and_the_issue_examples() -> None:
    links = load_links(STARTER)
    chains = {link.field for link in links}
    assert {"信创", "高端装备", "集成电路", "车联网", "新能源", "航空航天", "新材料"} <= chains
    assert {"汽车及新能源汽车", "生物医药", "中医药", "绿色石化", "轻纺"} <= chains
    thesaurus = Thesaurus(links)
    for need, solution in [
        ("注塑件一个周期40秒，冷却时间长", "随形冷却"),
        ("灌装线倒瓶、缺盖全靠人盯", "机器视觉"),
        ("老厂房一到夏天就跳闸", "需量管理"),
    ]:
        assert any(target == solution for _, target, _ in thesaurus.for_need(need).positive), need


def test_load_links_names_the_line_of_a_bad_group(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"relation": "symptom", "sources": ["a"], "targets": ["b"]}\n{"relation": "kind-of"}\n', "utf-8")
    with pytest.raises(ValueError, match=":2: unknown relation"):
        load_links(path)


def _matcher(thesaurus: Thesaurus) -> Matcher:
    embedder = BigramEmbedder()
    matcher = Matcher(embedder, index_kind="flat", thesaurus=thesaurus)
    texts = {
        1: "电池包轻量化液冷板\n液冷；电池包；快充\n电池包液冷板，快充时电池温升小于8℃，适用于电动物流车。",
        2: "动力电池低温自加热技术\n自加热；低温\n电池在零下20度十分钟升温。",
    }
    docs = [
        Doc(i, text, RecordAttrs(field="汽车及新能源汽车", region="北京", status="active", trl=7, modes=frozenset()),
            OfferFacts(field="汽车及新能源汽车", region="北京", trl=7))
        for i, text in texts.items()
    ]  # fmt: skip
    matcher.lists["achievements"].upsert(docs, embedder.encode_documents([d.text for d in docs]))
    return matcher


def test_the_ranking_puts_the_fitting_solution_above_the_opposite_one_and_explains_why() -> None:
    need = Query(
        "电动物流车冬季低温充电慢\n低温充电；快充\n电动物流车冬天快充充不进去，电池包低温充电慢。",
        NeedFacts(field="汽车及新能源汽车", region="天津"),
    )
    without = _matcher(Thesaurus()).match(need, "achievements", k=2, today=TODAY)
    assert [r.id for r in without] == [1, 2]  # the shared words favour the cooling plate
    ranked = _matcher(Thesaurus([COLD_CHARGE, HEAT])).match(need, "achievements", k=2, today=TODAY)
    assert [r.id for r in ranked] == [2, 1]
    assert "概念关联：低温充电 → 自加热" in ranked[0].sentence
    assert "⚠方向相反：低温充电 ↔ 液冷" in ranked[1].sentence
    assert ranked[1].explanation()["opposites"] == ["低温充电 ↔ 液冷"]
    assert ranked[0].explanation()["components"]["concept"] > 0
    assert np.isclose(ranked[0].score, sum(ranked[0].components.values()))
