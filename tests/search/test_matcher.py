"""The matcher's fusion: a Chinese–English pairing's cosine is lifted by the measured cross-language gap."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pytest

from matchmaker.search.filters import RecordAttrs
from matchmaker.search.matcher import CROSS_LINGUAL_OFFSET, Doc, Matcher, Query
from matchmaker.search.ranking import NeedFacts, OfferFacts

QUERY = "Inspection drones lose their video link near substations"
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
    semantic = _ranked(QUERY)
    assert semantic[1] == pytest.approx(0.6, abs=1e-6)  # English need, English achievement: the cosine itself
    assert semantic[2] == pytest.approx(0.6 + CROSS_LINGUAL_OFFSET, abs=1e-6)  # English need, Chinese achievement
    assert semantic[3] == pytest.approx(0.6, abs=1e-6)  # a mixed text is not lifted


def test_the_offset_applies_either_way_round() -> None:
    semantic = _ranked("巡检无人机在变电站附近图传中断")
    assert semantic[1] == pytest.approx(0.6 + CROSS_LINGUAL_OFFSET, abs=1e-6)
    assert semantic[2] == pytest.approx(0.6, abs=1e-6)
