"""Duplicate detection core: shingles, features, candidates from each block, groups, and the labelled sets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from matchmaker.search.duplicates import (
    DEFAULT_MODEL,
    DuplicateDetector,
    DupRecord,
    dedup_text,
    duplicate_groups,
    numbers_in,
    shingle_hashes,
)
from matchmaker.search.text import to_traditional

EVAL = Path(__file__).resolve().parents[2] / "data" / "eval"

PCM = (
    "相变蓄冷材料及冷链运输箱温控技术",
    "以石蜡/膨胀石墨复合相变材料为核心，潜热≥220 J/g，保温箱在35℃环境下保持2～8℃达120小时，已在3家医药冷链企业应用。",
)
WELD = (
    "焊缝激光视觉跟踪传感器",
    "基于线结构光的焊缝跟踪传感器，跟踪精度±0.15mm，采样频率200Hz，在强弧光、飞溅环境下稳定工作，检出率>95%。",
)
WELD_SIBLING = (
    "焊接机器人离线编程与路径规划软件",
    "基于三维模型自动生成焊接机器人轨迹，离线编程效率提高4倍，支持6种品牌机器人，已用于12条焊接产线。",
)


def unit(seed: int, dim: int = 16) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def near(v: np.ndarray, seed: int, scale: float = 0.2) -> np.ndarray:
    w = v + scale * unit(seed, len(v))
    return (w / np.linalg.norm(w)).astype(np.float32)


def test_canonical_text_drops_script_width_and_punctuation() -> None:
    assert dedup_text("資料庫，ＡＢＣ １２３！") == "资料库abc123"  # character-level: phrasing stays
    assert np.array_equal(shingle_hashes(to_traditional(PCM[1])[0]), shingle_hashes(PCM[1]))


def test_shingles_are_distinct_and_deterministic() -> None:
    first = shingle_hashes("焊缝跟踪焊缝跟踪")
    assert first.dtype == np.uint32
    assert len(first) == len(set(first.tolist())) == 4  # 焊缝跟 缝跟踪 跟踪焊 踪焊缝
    assert np.array_equal(first, shingle_hashes("焊缝跟踪焊缝跟踪"))
    assert len(shingle_hashes("")) == 0
    assert len(shingle_hashes("ab")) == 1  # shorter than one n-gram: padded


def test_numbers_keep_figures_and_ignore_trailing_zeros() -> None:
    assert numbers_in("潜热≥220 J/g，2.50 mm，１２０小时") == {"220", "2.5", "120"}


def test_traditional_copy_is_found_and_a_sibling_of_the_same_lab_is_not() -> None:
    v_pcm, v_weld, v_sib = unit(1), unit(2), unit(3)
    detector = DuplicateDetector()
    detector.add(
        [
            DupRecord(1, *PCM, owner="京华大学", field="新材料", vector=v_pcm),
            DupRecord(2, *WELD, owner="津门大学", field="高端装备", vector=v_weld),
            DupRecord(3, *WELD_SIBLING, owner="津门大学", field="高端装备", vector=near(v_weld, 9, 0.9)),
        ]
    )
    trad = [to_traditional(x)[1] for x in PCM]
    copy = DupRecord(10, *trad, owner=to_traditional("京华大学")[1], field="新材料", vector=near(v_pcm, 4))
    found = detector.check(copy)
    assert [(p.a, p.b) for p in found] == [(1, 10)]
    assert found[0].probability >= DEFAULT_MODEL.threshold
    assert found[0].duplicate
    assert found[0].features["jaccard"] > 0.8
    assert found[0].features["numbers"] == 1.0
    assert detector.check(DupRecord(11, *WELD_SIBLING, owner="津门大学", field="高端装备", vector=v_sib)) != []
    assert all(p.b != 2 for p in detector.check(DupRecord(12, *WELD_SIBLING, owner="津门大学", vector=v_sib)))


def test_english_copy_is_found_by_meaning_and_figures() -> None:
    v = unit(5)
    detector = DuplicateDetector()
    detector.add([DupRecord(1, *PCM, field="新材料", vector=v), DupRecord(2, *WELD, field="高端装备", vector=unit(6))])
    english = DupRecord(
        3,
        "Phase-change cold storage material and temperature-controlled cold-chain box",
        "Paraffin / expanded graphite composite, latent heat ≥220 J/g; the box keeps 2~8℃ for 120 hours at 35℃; "
        "used by 3 pharmaceutical cold-chain companies.",
        field="新材料",
        vector=near(v, 7, 0.6),  # a cross-language cosine (0.64–0.77 on the labelled sets)
    )
    without_vector = DupRecord(4, english.title, english.body, field="新材料")
    assert [p.b for p in detector.check(english)] == [3]
    assert detector.check(without_vector) == []  # no characters in common: only the embedding finds it


def test_scan_groups_and_all_candidates() -> None:
    v1, v2 = unit(11), unit(12)
    edited = PCM[1].replace("已在3家医药冷链企业应用。", "")
    records = [
        DupRecord(1, *PCM, vector=v1),
        DupRecord(2, PCM[0] + "（升级版）", edited, vector=near(v1, 13, 0.1)),
        DupRecord(3, *[to_traditional(x)[0] for x in PCM], vector=near(v1, 14, 0.1)),
        DupRecord(4, *WELD, vector=v2),
        DupRecord(5, *WELD_SIBLING, vector=near(v2, 15, 1.2)),
    ]
    detector = DuplicateDetector()
    detector.add(records)
    pairs = detector.scan()
    assert {(p.a, p.b) for p in pairs} == {(1, 2), (1, 3), (2, 3)}
    assert duplicate_groups(pairs) == [[1, 2, 3]]
    assert len(detector.scan(all_candidates=True)) >= len(pairs)
    assert {(p.a, p.b) for p in detector.check(records[0])} == {(1, 2), (1, 3)}  # never paired with itself
    with pytest.raises(ValueError, match="already added"):
        detector.add([records[0]])


def test_groups_are_connected_components() -> None:
    assert duplicate_groups([(5, 6), (1, 2), (2, 9), (7, 6)]) == [[1, 2, 9], [5, 6, 7]]
    assert duplicate_groups([]) == []


@pytest.mark.parametrize("split", ["dev", "test"])
def test_labelled_sets_are_well_formed(split: str) -> None:
    data = json.loads((EVAL / f"duplicates-{split}.json").read_text(encoding="utf-8"))
    ids = {r["id"]: r for r in data["records"]}
    assert len(ids) == len(data["records"])
    hows = {p["how"] for p in data["duplicates"]}
    assert {"edit", "traditional", "english"} <= hows
    for pair in data["duplicates"]:
        assert ids[pair["a"]]["kind"] == ids[pair["b"]]["kind"]
    owners = [r["owner"] for r in data["records"] if r["kind"] == "achievements" and "-" not in r["id"]]
    assert len(owners) > len(set(owners))  # several achievements of one lab: the hard non-duplicates


def labelled_records(dim: int = 16) -> list[DupRecord]:
    """Both labelled sets (achievements and needs, every kind of copy), each copy's vector near its original's."""
    records: list[DupRecord] = []
    for split in ("dev", "test"):
        data = json.loads((EVAL / f"duplicates-{split}.json").read_text(encoding="utf-8"))
        original = {p["b"]: p["a"] for p in data["duplicates"]}
        vectors: dict[str, np.ndarray] = {}
        for r in data["records"]:
            seed = len(records) + 1
            source = original.get(r["id"])
            vectors[r["id"]] = near(vectors[source], seed, 0.5) if source in vectors else unit(seed, dim)
            vector = vectors[r["id"]] if seed % 7 else None  # some records not embedded yet
            records.append(
                DupRecord(seed, r["title"], r["body"], r.get("owner"), r.get("external_id"), r.get("field"), vector)
            )
    return records


def test_scan_finds_exactly_what_checking_every_record_finds() -> None:
    """The reference path — each record queried through datasketch's MinHashLSH and the embedding index, and scored
    one pair at a time — and the vectorised scan (bands bucketed by sorting, pairs scored in bulk) give the same
    candidate pairs with the same probabilities."""
    records = labelled_records()
    detector = DuplicateDetector()
    detector.add(records)
    scanned = {(p.a, p.b): p.probability for p in detector.scan(all_candidates=True)}
    reference = {(p.a, p.b): p.probability for r in records for p in detector.check(r, all_candidates=True)}
    assert len(reference) > 300  # LSH, embedding and external-id candidates
    assert scanned.keys() == reference.keys()
    # float32 cosines summed in another order (einsum over many pairs, dot for one) differ in the last bit
    assert all(abs(scanned[k] - reference[k]) < 1e-6 for k in reference)
    duplicates = {(p.a, p.b) for p in detector.scan()}
    assert duplicates == {k for k, p in reference.items() if p >= DEFAULT_MODEL.threshold}
    assert len(duplicates) >= 100


def test_workers_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Records prepared in two worker processes (and FAISS on two threads) give exactly the pairs of one process."""
    records = labelled_records()
    alone = DuplicateDetector()
    alone.add(records)
    monkeypatch.setattr("matchmaker.search.dedup_signatures.PARALLEL_FROM", 10)
    monkeypatch.setattr("matchmaker.search.dedup_signatures.CHUNK", 100)
    parallel = DuplicateDetector(workers=2)
    parallel.add(records)
    assert [(p.a, p.b, p.probability) for p in parallel.scan(all_candidates=True)] == [
        (p.a, p.b, p.probability) for p in alone.scan(all_candidates=True)
    ]


def test_records_added_after_a_check_are_found_by_the_next() -> None:
    """The MinHashLSH is filled by the first check and takes the records added later at the next one."""
    detector = DuplicateDetector()
    detector.add([DupRecord(1, *PCM, owner="京华大学", field="新材料", vector=unit(21))])
    copy = DupRecord(10, *[to_traditional(x)[1] for x in WELD], owner="津门大学", field="高端装备")  # no vector: LSH
    assert detector.check(copy) == []
    detector.add([DupRecord(2, *WELD, owner="津门大学", field="高端装备", vector=unit(22))])
    assert [(p.a, p.b) for p in detector.check(copy)] == [(2, 10)]
    assert detector.check(copy)[0].features["cosine"] == 0.0  # found by characters alone
