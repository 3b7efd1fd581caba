"""Cross-encoder rerank with a tiny cross-encoder built locally (offline, no hub)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from matchmaker.search.embedding import EmbedderError
from matchmaker.search.ranking import Ranked
from matchmaker.search.rerank import CrossEncoderReranker
from tests.search.tiny_st_model import save_tiny_tokenizer


def build_tiny_cross_encoder(folder: Path) -> Path:
    """A one-layer BERT sequence classifier (one logit) with a WordPiece tokenizer, saved as a CrossEncoder."""
    import torch
    from sentence_transformers import CrossEncoder
    from transformers import BertConfig, BertForSequenceClassification

    hf = folder / "hf"
    vocab = save_tiny_tokenizer(hf, 64)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=1,
    )
    BertForSequenceClassification(config).save_pretrained(hf)
    out = folder / "ce"
    CrossEncoder(str(hf), num_labels=1, max_length=64, device="cpu").save(str(out))
    return out


@pytest.fixture(scope="module")
def reranker(tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: None) -> CrossEncoderReranker:
    return CrossEncoderReranker(build_tiny_cross_encoder(tmp_path_factory.mktemp("ce")), top_n=3, weight=0.5)


@pytest.fixture(scope="module")
def monkeypatch_module() -> object:
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")
    yield
    mp.undo()


def _ranked(i: int, score: float) -> Ranked:
    return Ranked(
        id=i, score=score, relevance=score, components={"semantic": score}, checks=[], shared_terms=(), sentence=""
    )


def test_scores_are_probabilities(reranker: CrossEncoderReranker) -> None:
    scores = reranker.score("冷链 cold chain", ["相变蓄冷材料用于冷链物流", "焊接裂纹", "solar panel"])
    assert scores.shape == (3,)
    assert np.all((scores > 0) & (scores < 1))
    assert reranker.score("x", []).shape == (0,)


def test_rerank_adds_a_component_to_the_head_only(reranker: CrossEncoderReranker) -> None:
    ranked = [_ranked(i, 1.0 - i / 10) for i in range(5)]
    texts = {i: t for i, t in enumerate(["冷链", "焊接", "电池", "发酵罐", "太阳能"])}
    out = reranker.rerank("冷链物流", ranked, texts, k=5)
    assert {r.id for r in out[:3]} == {0, 1, 2}
    assert all("rerank" in r.components for r in out[:3])
    assert [r.id for r in out[3:]] == [3, 4]
    assert all(0 < r.components["rerank"] <= 0.5 for r in out[:3])


def test_missing_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EmbedderError, match="does not exist"):
        CrossEncoderReranker(tmp_path / "nothing")
