"""Confidence bands, clean shared terms, unstated constraints and the shown order of scores."""

from __future__ import annotations

import math
from datetime import date

import pytest

from matchmaker.search.bands import DEFAULT_BANDS, Bands, band_precision, calibrate
from matchmaker.search.ranking import Candidate, NeedFacts, OfferFacts, Weights, rank, select_shared_terms
from matchmaker.search.text import is_meaningful_term, surface_form, tokenize

TODAY = date(2026, 11, 23)


def test_calibration_picks_the_lowest_thresholds_reaching_each_bands_precision() -> None:
    pairs = [(0.9, True)] * 8 + [(0.85, False)] * 2 + [(0.7, True)] + [(0.7, False)] * 2
    pairs += [(0.65, True)] * 2 + [(0.65, False)] * 5 + [(0.3, False)] * 20
    bands = calibrate(pairs, strong_precision=0.8, possible_precision=0.3, min_count=5)
    assert bands == Bands(strong=0.85, possible=0.65)
    report = band_precision(pairs, bands)
    assert report["强"] == {"n": 10, "precision": 0.8}
    assert report["可能"] == {"n": 10, "precision": 0.3}
    assert report["弱"]["precision"] == 0.0
    with pytest.raises(ValueError, match="no score threshold"):
        calibrate([(0.5, False)] * 10)


def test_bands_of_scores() -> None:
    assert DEFAULT_BANDS.of(DEFAULT_BANDS.strong) == "强"
    assert DEFAULT_BANDS.of(DEFAULT_BANDS.possible) == "可能"
    assert DEFAULT_BANDS.of(0.4) == "弱"
    with pytest.raises(ValueError, match="must not be below"):
        Bands(strong=0.5, possible=0.6)
    assert math.isnan(band_precision([], DEFAULT_BANDS)["强"]["precision"])


@pytest.mark.parametrize("junk", ["余个", "同时", "35%", "15%", "能力", "分钟", "customer", "time", "40s", "120"])
def test_stop_words_numbers_fragments_and_everyday_words_are_not_evidence(junk: str) -> None:
    assert not is_meaningful_term(junk.lower(), junk)


@pytest.mark.parametrize("term", ["随形冷却", "导热凝胶", "09MnNiDR", "NVH", "ARM", "lyophilisation", "16MnDR"])
def test_technical_terms_acronyms_and_grades_are_evidence(term: str) -> None:
    assert is_meaningful_term(term.lower(), term)


def test_shared_terms_are_shown_as_written() -> None:
    need = "低温储罐焊接：主材16MnDR、09MnNiDR，需要改善NVH，同时100余个焊口35%返修"
    offer = "09MnNiDR低温钢焊材，16MnDR适用；NVH优化，同时具备能力"
    terms = select_shared_terms(tokenize(need), tokenize(offer), {}, limit=10, query_text=need)
    assert "09MnNiDR" in terms
    assert "16MnDR" in terms
    assert "NVH" in terms
    assert not {"同时", "余个", "35%", "能力", "09mnnidr"} & set(terms)
    assert surface_form("nvh", "车内NVH性能") == "NVH"


def _candidate(i: int, semantic: float, need: NeedFacts, offer: OfferFacts) -> Candidate:
    return Candidate(id=i, semantic=semantic, lexical=0.0, need=need, offer=offer)


def test_a_free_text_stating_no_mode_breaks_no_mode_constraint() -> None:
    need = NeedFacts(field="新材料", region="天津", preferred_modes=frozenset({"许可"}))
    free_text = OfferFacts(field="其他", region="其他")  # what POST /search ranks the demand list for
    ranked = rank([_candidate(1, 0.6, need, free_text)], k=1, today=TODAY)
    assert ranked[0].violations == []
    assert "⚠" not in ranked[0].sentence
    assert [c["ok"] for c in ranked[0].explanation()["checks"] if c["name"] == "modes"] == [None]


def test_the_shown_order_is_the_shown_score_order_when_a_satisfying_pairing_is_put_first() -> None:
    need = NeedFacts(field="新材料", region="天津", min_trl=7)
    mature = OfferFacts(field="新材料", region="北京", trl=8)
    immature = OfferFacts(field="新材料", region="北京", trl=4)
    candidates = [
        _candidate(1, 0.95, need, immature),
        _candidate(2, 0.93, need, immature),
        _candidate(3, 0.70, need, mature),
        _candidate(4, 0.50, need, mature),
    ]
    ranked = rank(candidates, k=4, weights=Weights(), today=TODAY)
    assert ranked[0].id == 3
    assert ranked[0].first_place
    scores = [r.score for r in ranked]
    assert scores == sorted(scores, reverse=True)
    assert [round(s, 4) for s in scores] == sorted((round(s, 4) for s in scores), reverse=True)
    for r in ranked:
        assert r.score == pytest.approx(sum(r.components.values()))
    assert ranked[1].components["first_place"] < 0
