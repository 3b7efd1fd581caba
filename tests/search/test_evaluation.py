"""Offline evaluation: loading a split, per-need metrics worked out by hand, baselines and the full ranking."""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from matchmaker.search.embedding import Embedder
from matchmaker.search.evaluation import (
    Config,
    Evaluator,
    compare,
    evaluate,
    format_table,
    load_split,
    score_need,
    tune_weights,
    violates,
)
from matchmaker.search.ranking import NeedFacts, OfferFacts, Weights

DIM = 256


class BigramEmbedder:
    """Deterministic stand-in for a model: character bigrams hashed (crc32) into a normalised count vector."""

    def __init__(self, name: str = "bigram") -> None:
        self.name = name
        self.dimension = DIM
        self.calls = 0

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            for a, b in zip(text, text[1:], strict=False):
                out[row, zlib.crc32((a + b).encode()) % DIM] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)


# A need for a cold-chain storage material; A-1 repeats the need's own words but is immature (trl 4 < 6) and only
# for sale (the need wants a licence): the violator a text-only ranking puts first.
NEED_TEXT = "冷链运输箱温度波动大，需要相变蓄冷材料保持2到8度"
ACHIEVEMENTS = [
    {
        "external_id": "A-1",
        "title": "冷链箱",
        "summary": NEED_TEXT,
        "keywords": [],
        "field": "新材料",
        "region": "北京",
        "trl": 4,
        "transfer_modes": ["转让"],
        "price_wan": 50,
    },
    {
        "external_id": "A-2",
        "title": "相变蓄冷材料",
        "summary": "2到8度医药冷链相变蓄冷材料，保冷72小时",
        "keywords": ["相变蓄冷"],
        "field": "新材料",
        "region": "河北",
        "trl": 7,
        "transfer_modes": ["许可"],
        "price_wan": 80,
    },
    {
        "external_id": "A-3",
        "title": "Phase-change cold storage panel",
        "summary": "PCM panel for cold chain boxes",
        "keywords": ["PCM"],
        "field": "新材料",
        "region": "北京",
        "trl": 8,
        "transfer_modes": ["许可", "转让"],
        "price_wan": None,
    },
    {
        "external_id": "A-4",
        "title": "锂电池回收",
        "summary": "废旧锂电池湿法回收工艺",
        "keywords": [],
        "field": "新能源",
        "region": "天津",
        "trl": 6,
        "transfer_modes": ["技术服务"],
        "price_wan": 300,
    },
]
DEMANDS = [
    {
        "external_id": "D-1",
        "title": "冷链箱",
        "description": NEED_TEXT,
        "keywords": [],
        "field": "新材料",
        "region": "天津",
        "budget_wan": 100,
        "min_trl": 6,
        "deadline": "2027-06-30",
        "preferred_modes": ["许可"],
        "confidential": False,
        "bounty_wan": None,
        "eval_tags": ["constraint", "hard-negative"],
    },
    {
        "external_id": "D-2",
        "title": "電池回收",
        "description": "廢舊鋰電池如何回收再利用",
        "keywords": [],
        "field": "新能源",
        "region": "天津",
        "budget_wan": None,
        "min_trl": None,
        "deadline": None,
        "preferred_modes": [],
        "confidential": False,
        "bounty_wan": None,
        "eval_tags": ["hans-hant"],
    },
]
QRELS = [("D-1", "A-2", 3), ("D-1", "A-3", 2), ("D-1", "A-4", 0), ("D-1", "A-1", 1), ("D-2", "A-4", 3)]


def write_split(root: Path, qrels: Sequence[tuple[str, str, int]] = QRELS) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, rows in (("achievements.jsonl", ACHIEVEMENTS), ("demands.jsonl", DEMANDS)):
        (root / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    lines = ["demand_external_id\tachievement_external_id\tgrade", *(f"{d}\t{a}\t{g}" for d, a, g in qrels)]
    (root / "qrels.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def split_dir(tmp_path: Path) -> Path:
    return write_split(tmp_path / "tiny")


def factory(embedders: list[BigramEmbedder]):  # type: ignore[no-untyped-def]
    def build(spec: str, to_simplified: bool) -> Embedder:
        embedder = BigramEmbedder(f"bigram-{spec}" + ("+t2s" if to_simplified else ""))
        embedders.append(embedder)
        return embedder

    return build


def test_load_split_numbers_records_and_keeps_external_ids(split_dir: Path) -> None:
    split = load_split(split_dir)
    assert split.name == "tiny"
    assert [d.id for d in split.achievements] == [1, 2, 3, 4]
    assert [d.id for d in split.needs] == [1, 2]
    assert split.achievement_ids == ("A-1", "A-2", "A-3", "A-4")
    assert split.need_ids == ("D-1", "D-2")
    assert split.qrels == {"D-1": {"A-2": 3, "A-3": 2, "A-1": 1}, "D-2": {"A-4": 3}}  # grade 0 = unlisted
    need = split.needs[0].facts
    assert isinstance(need, NeedFacts)
    assert need.min_trl == 6
    assert need.preferred_modes == {"许可"}
    assert need.budget_wan == 100.0
    assert split.offers["A-3"] == OfferFacts(field="新材料", region="北京", trl=8, modes=frozenset({"许可", "转让"}))
    assert split.achievements[1].text == "相变蓄冷材料\n相变蓄冷\n2到8度医药冷链相变蓄冷材料，保冷72小时"
    slices = split.slices
    assert slices["constraint"] == [0]
    assert slices["hans-hant"] == [1]
    assert slices["lang:zh-Hans"] == [0]
    assert slices["lang:zh-Hant"] == [1]


def test_the_evaluation_builds_documents_as_the_service_does(split_dir: Path) -> None:
    """One home for documents: a split line embeds the same text as a database record with the same fields."""
    from matchmaker.models import Achievement, Demand

    split = load_split(split_dir)
    for doc, row in zip(split.achievements, ACHIEVEMENTS, strict=True):
        record = Achievement(title=row["title"], keywords=row.get("keywords"), summary=row["summary"])
        assert doc.text == record.embed_text()
    for doc, row in zip(split.needs, DEMANDS, strict=True):
        need = Demand(title=row["title"], keywords=row.get("keywords"), description=row["description"])
        assert doc.text == need.embed_text()


def test_load_split_rejects_unknown_ids(tmp_path: Path) -> None:
    bad = write_split(tmp_path / "bad", [*QRELS, ("D-1", "A-9", 2)])
    with pytest.raises(ValueError, match="unknown id"):
        load_split(bad)


def test_violates() -> None:
    need = NeedFacts(field="新材料", region="天津", min_trl=6, preferred_modes=frozenset({"许可"}))
    ok = OfferFacts(field="新材料", region="北京", trl=6, modes=frozenset({"许可", "转让"}))
    assert not violates(need, ok)
    assert violates(need, OfferFacts(field="新材料", region="北京", trl=5, modes=frozenset({"许可"})))
    assert violates(need, OfferFacts(field="新材料", region="北京", trl=7, modes=frozenset({"转让"})))
    assert not violates(need, OfferFacts(field="新材料", region="北京", trl=None, modes=frozenset({"许可"})))
    assert not violates(NeedFacts(field="新材料", region="天津"), OfferFacts(field="x", region="x", trl=1))


def test_score_need_by_hand(split_dir: Path) -> None:
    split = load_split(split_dir)
    # D-1 judged A-2: 3, A-3: 2, A-1: 1. Ranking has gains 2^g - 1 = 1, 7, 0, 3:
    #   DCG  = 1 + 7/log2(3) + 3/log2(5)        = 1 + 4.41651 + 1.29203 = 6.70854
    #   IDCG = 7 + 3/log2(3) + 1/log2(4)        = 7 + 1.89279 + 0.5     = 9.39279   -> nDCG@10 = 0.71422
    # relevant (grade >= 2) = {A-2, A-3}, both returned -> recall 1; first relevant at rank 2 -> RR 0.5;
    # A-1 (trl 4 < 6, no 许可) is first while A-2 satisfies both constraints -> constraint accuracy 0.
    result = score_need(split, 0, ["A-1", "A-2", "A-4", "A-3"])
    m = result.metrics
    assert m["ndcg@10"] == pytest.approx((1 + 7 / math.log2(3) + 3 / math.log2(5)) / (7 + 3 / math.log2(3) + 0.5))
    assert m["ndcg@10"] == pytest.approx(0.71422, abs=1e-5)
    assert m["recall@10"] == 1.0
    assert m["mrr"] == 0.5
    assert m["constraint_accuracy"] == 0.0
    assert result.violators == (True, False, True, False)  # no 许可
    # gains 7, 1 -> (7 + 0.63093) / 9.39279 = 0.81242; recall 1/2; RR 1; satisfying first -> accuracy 1.
    m = score_need(split, 0, ["A-2", "A-1"]).metrics
    assert m["ndcg@10"] == pytest.approx((7 + 1 / math.log2(3)) / (7 + 3 / math.log2(3) + 0.5))
    assert (m["recall@10"], m["mrr"], m["constraint_accuracy"]) == (0.5, 1.0, 1.0)
    # D-2 states no constraint: constraint accuracy is undefined, not a free 1.
    m = score_need(split, 1, ["A-1", "A-4"]).metrics
    assert m["constraint_accuracy"] is None
    assert m["ndcg@10"] == pytest.approx(7 / math.log2(3) / 7)
    assert m["mrr"] == 0.5


def test_constraint_accuracy_is_undefined_without_a_satisfying_relevant_achievement(tmp_path: Path) -> None:
    split = load_split(write_split(tmp_path / "s", [("D-1", "A-1", 3), ("D-1", "A-4", 2), ("D-2", "A-4", 3)]))
    assert score_need(split, 0, ["A-1"]).metrics["constraint_accuracy"] is None


def test_baselines_and_full_ranking_run_and_embed_once(split_dir: Path) -> None:
    split = load_split(split_dir)
    embedders: list[BigramEmbedder] = []
    strong = Weights(penalty=2.0)
    configs = [
        Config("bm25"),
        Config("dense", embedder="fake"),
        Config("full", embedder="fake", weights=strong),
        Config("full", embedder="fake", weights=Weights(penalty=0.0, first_margin=0.0), name="no-penalty"),
        Config("dense", embedder="fake", to_simplified=True),
    ]
    reports = compare(split, configs, embedder_factory=factory(embedders))
    # one embedder per (spec, to_simplified), each called once for documents and once for queries
    assert [e.name for e in embedders] == ["bigram-fake", "bigram-fake+t2s"]
    assert [e.calls for e in embedders] == [2, 2]
    bm25, dense, full, no_penalty, _ = reports
    assert [r.config.label for r in reports] == ["bm25", "dense:fake", "full:fake", "no-penalty", "dense:fake+t2s"]

    # dense: A-1 holds the need's own text (cosine 1), so the violator comes first
    assert dense.needs[0].ranking[0] == "A-1"
    assert dense.needs[0].metrics["constraint_accuracy"] == 0.0
    # full with a large penalty: both violations (trl, mode) cost 4 > any cosine gap, A-2 takes the lead
    assert full.needs[0].ranking[0] == "A-2"
    assert full.needs[0].violators[0] is False
    assert full.mean("constraint_accuracy") == 1.0
    assert no_penalty.needs[0].ranking[0] == "A-1"
    # bm25 returns only achievements sharing a token; every ranking has at most k results
    assert set(bm25.needs[1].ranking) <= {"A-4"}
    assert all(len(n.ranking) <= 10 for r in reports for n in r.needs)
    # slice means follow the per-need values
    assert full.mean("constraint_accuracy", "constraint") == 1.0
    assert math.isnan(full.mean("constraint_accuracy", "hans-hant"))
    assert full.summary["constraint_accuracy"].n == 1


def test_report_to_dict_and_table(split_dir: Path) -> None:
    split = load_split(split_dir)
    reports = compare(split, [Config("bm25"), Config("full", embedder="fake")], embedder_factory=factory([]))
    data = json.loads(json.dumps(reports[1].to_dict()))
    assert data["config"]["weights"]["penalty"] == Weights().penalty
    assert data["overall"]["ndcg@10"]["n"] == 2
    assert data["slices"]["hans-hant"]["constraint_accuracy"] == {"mean": None, "n": 0}
    assert [n["need"] for n in data["needs"]] == ["D-1", "D-2"]
    assert "ranking" in data["needs"][0]
    table = format_table(reports)
    lines = table.splitlines()
    assert lines[0].startswith("configuration")
    assert "nDCG@10 (n=2)" in lines[0]
    assert "hans-hant (n=1)" in lines[0]
    assert lines[2].startswith("bm25")
    assert lines[3].startswith("full:fake")


def test_evaluate_single_config_and_validation(split_dir: Path) -> None:
    split = load_split(split_dir)
    report = evaluate(split, Config("dense", embedder="fake"), embedder_factory=factory([]))
    assert report.split == "tiny"
    assert len(report.needs) == 2
    with pytest.raises(ValueError, match="needs an embedder"):
        Config("full")


def test_tune_weights_only_reranks(split_dir: Path) -> None:
    split = load_split(split_dir)
    embedders: list[BigramEmbedder] = []
    evaluator = Evaluator(split, embedder_factory=factory(embedders))
    start = Config("full", embedder="fake", weights=Weights(penalty=0.0))
    best, steps = tune_weights(evaluator, start, grid={"penalty": (0.0, 2.0), "pool": (30, 60)}, joint={})
    # the penalty is what moves A-2 above the violator; the pool cannot matter with 4 achievements
    assert best.weights.penalty == 2.0
    assert best.pool == 60
    assert [s.parameter for s in steps] == ["penalty"]
    assert evaluator.evaluate(best).mean("ndcg@10") > evaluator.evaluate(start).mean("ndcg@10")
    assert [e.calls for e in embedders] == [2]
