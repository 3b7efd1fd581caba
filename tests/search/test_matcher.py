"""The matcher (search/matcher.py): dense ∪ BM25 candidates under one filter, every candidate scored with its true
cosine, the query's own record left out, pairings always judged from the need's side, batches equal to single
queries, bands from the calibrated thresholds, and query caches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pytest

from matchmaker.search.constraints import NeedFacts, OfferFacts
from matchmaker.search.documents import Doc
from matchmaker.search.filters import Filter, RecordAttrs
from matchmaker.search.matcher import CROSS_LINGUAL_OFFSET, Matcher, Query
from tests.search.test_evaluation import BigramEmbedder

TODAY = date(2026, 12, 1)
REGIONS = ("北京", "河北", "天津", "其他")
TOPICS = ("相变蓄冷材料冷链运输箱", "低温焊缝开裂韧性焊材", "晶圆表面缺陷视觉检测", "锂电池极片涂布缺陷")
FILLER = ("工艺稳定", "成本较低", "适合量产", "已有示范线", "效率提升明显", "寿命长")


def _offer_doc(i: int) -> Doc:
    topic, region = TOPICS[i % len(TOPICS)], REGIONS[i % len(REGIONS)]
    text = f"{topic}{i}号\n{topic}\n{topic}，{FILLER[i % len(FILLER)]}，{FILLER[(i + 1) % len(FILLER)]}。"
    trl = 3 + i % 7
    modes = frozenset({"许可"} if i % 2 else {"转让"})
    return Doc(
        i,
        text,
        RecordAttrs(field="新材料", region=region, status="active", trl=trl, modes=modes),
        OfferFacts(field="新材料", region=region, trl=trl, modes=modes),
    )


def _need_doc(i: int, min_trl: int) -> Doc:
    text = f"需求{i}\n{TOPICS[i % len(TOPICS)]}\n企业需要{TOPICS[i % len(TOPICS)]}，要求成熟度不低于{min_trl}。"
    return Doc(
        i,
        text,
        RecordAttrs(field="新材料", region="天津", status="open", trl=min_trl, modes=frozenset({"许可"})),
        NeedFacts(field="新材料", region="天津", min_trl=min_trl, preferred_modes=frozenset({"许可"})),
    )


@pytest.fixture
def matcher() -> Matcher:
    embedder = BigramEmbedder()
    m = Matcher(embedder, index_kind="flat", pool=4)
    offers = [_offer_doc(i) for i in range(1, 41)]
    m.lists["achievements"].upsert(offers, embedder.encode_documents([d.text for d in offers]))
    needs = [_need_doc(i, min_trl) for i, min_trl in ((101, 9), (102, 2))]
    m.lists["demands"].upsert(needs, embedder.encode_documents([d.text for d in needs]))
    return m


NEED = Query("冷链运输箱温度波动，需要相变蓄冷材料", NeedFacts(field="新材料", region="天津", min_trl=6))


def test_every_candidate_is_scored_with_its_true_cosine(matcher: Matcher) -> None:
    pool = matcher.pool_size(2)
    vectors = matcher.query_vectors([NEED.text])
    (dense,) = matcher.dense_candidates(vectors, "achievements", pool, None)
    tokens = matcher.query_tokens(NEED.text)
    lexical, known = matcher.lexical_candidates(tokens, "achievements", pool, None, [i for i, _ in dense])
    union = {i for i, _ in dense} | {i for i, _ in lexical}
    assert union - {i for i, _ in dense}  # BM25 brought candidates the dense pool did not hold
    ranked = matcher.rank_candidates(NEED, tokens, vectors[0], "achievements", dense, lexical, 40, "flag", TODAY, known)
    assert {r.id for r in ranked} == union
    found, stored = matcher.lists["achievements"].index.vectors(sorted(union))
    cosine = dict(zip(found, (stored @ vectors[0]).tolist(), strict=True))
    for r in ranked:  # dense or BM25-only, each pairing's semantic component is the real cosine (weight 1.0)
        assert r.components["semantic"] == pytest.approx(cosine[r.id], abs=1e-5)
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)


def test_the_filter_holds_for_both_retrievers(matcher: Matcher) -> None:
    weld = Query("低温焊缝开裂，需要韧性焊材", NeedFacts(field="新材料", region="天津"))
    flt = Filter(regions=("河北",), exclude_ids=(5, 9))  # the welding records are in 河北 (ids 1, 5, 9, ...)
    ranked = matcher.match(weld, "achievements", k=20, flt=flt, today=TODAY)
    docs = matcher.lists["achievements"].docs
    assert len(ranked) == 8  # 10 welding records in 河北, less the two excluded
    assert {docs[r.id].attrs.region for r in ranked} == {"河北"}
    assert not {5, 9} & {r.id for r in ranked}
    # the lexical pass alone respects it too
    hits, _ = matcher.lexical_candidates(matcher.query_tokens(weld.text), "achievements", 20, flt)
    assert len(hits) == 8
    assert all(docs[i].attrs.region == "河北" for i, _ in hits)
    assert not {5, 9} & {i for i, _ in hits}


def test_the_querys_own_record_is_never_its_own_pairing(matcher: Matcher) -> None:
    own = matcher.lists["achievements"].docs[1]
    ranked = matcher.match(Query(own.text, own.facts, own_id=1), "achievements", k=5, today=TODAY)
    assert 1 not in [r.id for r in ranked]


def test_needs_ranked_for_an_achievement_are_judged_on_the_needs_constraints(matcher: Matcher) -> None:
    offer = matcher.lists["achievements"].docs[1]  # TRL 4, offers a licence
    assert isinstance(offer.facts, OfferFacts)
    ranked = {r.id: r for r in matcher.match(Query(offer.text, offer.facts), "demands", k=2, today=TODAY)}
    assert ranked[101].violations == ["trl"]  # the need asks for 9
    assert ranked[102].violations == []
    # a free text has no facts: nothing it could break
    free = matcher.match(Query(offer.text), "demands", k=2, today=TODAY)
    assert {r.id for r in free} == {101, 102}


def test_a_batch_ranks_exactly_as_single_queries(matcher: Matcher) -> None:
    queries = [NEED, Query("晶圆表面缺陷检测"), Query("焊缝低温开裂", NeedFacts(field="高端装备", region="北京"))]
    batch = matcher.match_many(queries, "achievements", k=5, today=TODAY)
    single = [matcher.match(q, "achievements", k=5, today=TODAY) for q in queries]
    assert [[(r.id, r.score) for r in rs] for rs in batch] == [[(r.id, r.score) for r in rs] for rs in single]


def test_bands_come_from_the_matchers_thresholds(matcher: Matcher) -> None:
    ranked = matcher.match(NEED, "achievements", k=10, today=TODAY)
    assert [r.band for r in ranked] == [matcher.bands.of(r.score) for r in ranked]


def test_removed_records_leave_both_retrievers(matcher: Matcher) -> None:
    best = matcher.match(NEED, "achievements", k=1, today=TODAY)[0].id
    matcher.lists["achievements"].remove([best, 10_000])  # an unknown id is ignored
    assert best not in [r.id for r in matcher.match(NEED, "achievements", k=40, today=TODAY)]
    assert len(matcher.lists["achievements"]) == 39


def test_query_vectors_and_tokens_are_cached_until_cleared(matcher: Matcher) -> None:
    embedder = matcher.embedder
    assert isinstance(embedder, BigramEmbedder)
    first = matcher.query_vectors([NEED.text])
    calls = embedder.calls
    np.testing.assert_array_equal(matcher.query_vectors([NEED.text]), first)
    assert embedder.calls == calls
    assert matcher.query_tokens(NEED.text) is matcher.query_tokens(NEED.text)
    matcher.clear_caches()
    matcher.query_vectors([NEED.text])
    assert embedder.calls == calls + 1


# The fusion: a Chinese–English pairing's cosine is lifted by the measured cross-language gap.

CROSS_QUERY = "Inspection drones lose their video link near substations"
ENGLISH = "Anti-jamming video data link for drones"
CHINESE = "无人机跳频抗干扰图传数据链"
MIXED = "无人机 anti-jamming 数据链 video link for drones"


class FixedEmbedder:
    """Every document the same vector, so only the languages differ between the candidates."""

    name = "fixed"
    dimension = 4

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.tile(np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32), (len(texts), 1))

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        vector = np.array([0.6, 0.8, 0.0, 0.0], dtype=np.float32)
        return np.tile(vector, (len(texts), 1))


def _ranked(query_text: str) -> dict[int, float]:
    embedder = FixedEmbedder()
    matcher = Matcher(embedder, index_kind="flat")
    facts = OfferFacts(field="航空航天", region="北京", trl=6)
    attrs = RecordAttrs(field="航空航天", region="北京", status="active", trl=6, modes=frozenset())
    docs = [Doc(i, text, attrs, facts) for i, text in ((1, ENGLISH), (2, CHINESE), (3, MIXED))]
    matcher.lists["achievements"].upsert(docs, embedder.encode_documents([d.text for d in docs]))
    need = Query(query_text, NeedFacts(field="航空航天", region="天津"))
    ranked = matcher.match(need, "achievements", k=3, today=date(2026, 12, 2))
    return {r.id: r.components["semantic"] for r in ranked}


def test_a_cross_language_pairing_gets_the_offset() -> None:
    semantic = _ranked(CROSS_QUERY)
    assert semantic[1] == pytest.approx(0.6, abs=1e-6)  # English need, English achievement: the cosine itself
    assert semantic[2] == pytest.approx(0.6 + CROSS_LINGUAL_OFFSET, abs=1e-6)  # English need, Chinese achievement
    assert semantic[3] == pytest.approx(0.6, abs=1e-6)  # a mixed text is not lifted


def test_the_offset_applies_either_way_round() -> None:
    semantic = _ranked("巡检无人机在变电站附近图传中断")
    assert semantic[1] == pytest.approx(0.6 + CROSS_LINGUAL_OFFSET, abs=1e-6)
    assert semantic[2] == pytest.approx(0.6, abs=1e-6)
