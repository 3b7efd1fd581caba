"""Text normalisation for Chinese and English technical text.

Everything that compares text (embedding, BM25, enumeration matching, language detection) goes through these
functions so that full-width characters, Traditional characters and letter case never make two equal texts differ.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from functools import lru_cache
from typing import Literal

Language = Literal["zh-Hans", "zh-Hant", "en", "mixed"]

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9\-+.]*")
_SPACES = re.compile(r"\s+")
# A token worth indexing contains a letter, a digit or a CJK character (punctuation-only tokens are dropped).
_WORDLIKE = re.compile(r"[0-9A-Za-z\u3400-\u4dbf\u4e00-\u9fff]")

_jieba_lock = threading.Lock()
_CHINESE_STOPWORDS = """的 了 和 与 及 或 等 在 是 为 对 于 以 将 把 被 由 其 该 这 那 有 也 并 而 中 上 下 个 之 可 能
    我们 我 你 他 她 它 一种 一个 进行 通过 采用 实现 具有 可以 以及 用于 基于 相关 主要 目前 需要 问题 技术 方法 系统
    装置 提供 要求 部分 情况 时候 方面 工作 使用 达到 不同 较 很 更 最 已 已经 没有 不 无 如何 什么"""


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    # scikit-learn's English list (318 words) is well kept; ours covers the Chinese function words.
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(_CHINESE_STOPWORDS.split()) | frozenset(ENGLISH_STOP_WORDS)


def normalize_text(text: str) -> str:
    """NFKC-normalise (full-width letters, digits and spaces become ASCII) and collapse whitespace."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip()


@lru_cache(maxsize=1)
def _t2s() -> object:
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=2)
def _s2t(config: str) -> object:
    import opencc

    return opencc.OpenCC(config)


def to_traditional(text: str) -> tuple[str, str]:
    """Traditional forms of a text: character-level (s2t) and with Taiwan phrasing (s2twp: 数据库 → 資料庫)."""
    return str(_s2t("s2t").convert(text)), str(_s2t("s2twp").convert(text))  # type: ignore[attr-defined]


def to_simplified(text: str) -> str:
    """Convert Traditional characters to Simplified (OpenCC t2s); Simplified and English text pass unchanged."""
    return str(_t2s().convert(text))  # type: ignore[attr-defined]


def detect_language(text: str) -> Language:
    """Classify a text as zh-Hans, zh-Hant, en or mixed.

    A Latin word counts as much as one Chinese character; a text is Chinese when Chinese characters hold at least
    75% of that weight, English when they hold at most 20%, mixed otherwise (technical Chinese often carries a few
    English terms such as RISC-V or SoC without being mixed). Chinese text is Traditional
    when converting it to Simplified changes at least 3% of its CJK characters (and at least two of them).
    """
    text = normalize_text(text)
    cjk = _CJK.findall(text)
    latin = _LATIN_WORD.findall(text)
    cjk_weight, latin_weight = float(len(cjk)), float(len(latin))
    family = _family(cjk_weight, latin_weight)
    if family != "zh":
        return family
    han = "".join(cjk)
    changed = sum(1 for a, b in zip(han, to_simplified(han), strict=False) if a != b)
    if changed >= 2 and changed / len(han) >= 0.03:
        return "zh-Hant"
    return "zh-Hans"


def _family(cjk_weight: float, latin_weight: float) -> Literal["zh", "en", "mixed"]:
    total = cjk_weight + latin_weight
    if total == 0:
        return "en"
    share = cjk_weight / total
    if share <= 0.2:
        return "en"
    return "mixed" if share < 0.75 else "zh"


_ASCII_WORD = re.compile(rb"[A-Za-z][A-Za-z0-9\-+.]*")


@lru_cache(maxsize=100_000)
def script_family(text: str) -> Literal["zh", "en", "mixed"]:
    """Chinese (Simplified or Traditional), English or mixed, with :func:`detect_language`'s weights and thresholds,
    read fast from the first 400 characters: every non-ASCII character counts as a Chinese one (it agrees with
    :func:`detect_language` on all 819 sample and evaluation records). The matcher asks it for every candidate of a
    query, so it must cost microseconds (about 4 µs uncached; cached: the same records are candidates of many
    queries)."""
    head = text[:400]
    ascii_part = head.encode("ascii", "ignore")
    return _family(float(len(head) - len(ascii_part)), float(len(_ASCII_WORD.findall(ascii_part))))


def reset_text_locks() -> None:
    """A forked child's new tokenizer lock (the parent's could have been held by another thread at the fork)."""
    global _jieba_lock
    _jieba_lock = threading.Lock()


def _jieba() -> object:
    import jieba

    with _jieba_lock:
        if not getattr(jieba, "_matchmaker_ready", False):
            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            jieba._matchmaker_ready = True
    return jieba


def canonical(text: str) -> str:
    """The form used for lexical comparison: NFKC, Simplified, lower-case."""
    return to_simplified(normalize_text(text)).lower()


def tokenize(text: str) -> list[str]:
    """Segment text into lexical tokens for BM25 and term matching.

    Chinese is segmented with jieba's search mode (long words are also split into their shorter dictionary words,
    so 相变蓄冷材料 matches 相变 and 蓄冷); Traditional is converted to Simplified first; English is lower-cased;
    stop words and punctuation are dropped.
    """
    jieba = _jieba()
    stopwords = _stopwords()
    tokens: list[str] = []
    for tok in jieba.cut_for_search(canonical(text)):  # type: ignore[attr-defined]
        tok = tok.strip()
        if tok and tok not in stopwords and _WORDLIKE.search(tok):
            tokens.append(tok)
    return tokens


_NUMBERISH = re.compile(r"^[0-9.,，%‰+\-×x/:~～]+[a-z%‰]{0,2}$")
_FRAGMENT_HEAD = frozenset("余多几每各第该本此其约近共")
GENERIC_ZH_IDF = 7.0
"""Chinese words below this IDF in jieba's general-purpose table are everyday words (同时 4.0, 能力 4.9, 分钟 6.7)."""
COMMON_EN_ZIPF = 4.5
"""English words above this Zipf frequency are everyday words (time 6.3, customer 4.6); technical ones lie below."""


@lru_cache(maxsize=1)
def _general_idf() -> dict[str, float]:
    # jieba ships the IDF of a large general-purpose corpus next to its TF-IDF keyword extractor.
    from importlib import resources

    idf: dict[str, float] = {}
    with resources.files("jieba").joinpath("analyse/idf.txt").open(encoding="utf-8") as fh:
        for line in fh:
            word, _, value = line.rstrip("\n").partition(" ")
            if value:
                idf[word] = float(value)
    return idf


def _is_acronym_or_code(surface: str) -> bool:
    """NVH, ARM, 09MnNiDR, T-Box: written with capitals beyond the first letter, or letters mixed with digits."""
    letters = [ch for ch in surface if ch.isalpha()]
    capitals = sum(1 for ch in letters[1:] if ch.isupper())
    return capitals >= 1 or (bool(letters) and any(ch.isdigit() for ch in surface))


def is_meaningful_term(token: str, surface: str | None = None) -> bool:
    """Whether a token is worth showing as shared evidence between two texts.

    Left out: lone CJK characters, numbers and measurements (35%, 15, 40s), fragments that jieba cut from a
    quantity (余个 from 100余个), everyday Chinese words (jieba's general IDF below :data:`GENERIC_ZH_IDF`) and
    everyday English words (Zipf frequency above :data:`COMMON_EN_ZIPF`, from ``wordfreq``) unless written as an
    acronym or a grade (NVH, ARM, 09MnNiDR). ``surface`` is the term as the text wrote it (for the acronym test).
    BM25 still uses every token; this only decides what an explanation shows.
    """
    token = token.strip()
    if not token or _NUMBERISH.match(token.lower()):
        return False
    if _CJK.search(token):
        if len(token) < 2 or token[0] in _FRAGMENT_HEAD:
            return False
        idf = _general_idf().get(token)
        return idf is None or idf >= GENERIC_ZH_IDF
    if len(token) < 3 and not (surface and len(token) >= 2 and surface.isupper()):
        return False
    if token.isdigit():
        return False
    if surface is not None and _is_acronym_or_code(surface):
        return True
    from wordfreq import zipf_frequency

    return zipf_frequency(token, "en") < COMMON_EN_ZIPF


def surface_form(term: str, *texts: str) -> str:
    """The term as the first of ``texts`` that contains it wrote it (09MnNiDR, NVH), else the term itself."""
    for text in texts:
        if not text:
            continue
        found = re.search(re.escape(term), normalize_text(text), flags=re.IGNORECASE)
        if found:
            return found.group(0)
    return term


# Full-width ASCII letters and digits (Ａ-Ｚ, ａ-ｚ, ０-９) and the ideographic space become ASCII; Chinese punctuation
# such as ，。（） is kept as written (NFKC would turn it into ASCII punctuation, which is wrong for stored text).
_WIDTH_TABLE = {
    **{cp: cp - 0xFEE0 for cp in range(0xFF10, 0xFF1A)},
    **{cp: cp - 0xFEE0 for cp in range(0xFF21, 0xFF3B)},
    **{cp: cp - 0xFEE0 for cp in range(0xFF41, 0xFF5B)},
    0x3000: 0x20,
}


def normalize_width(text: str) -> str:
    """Turn full-width letters, digits and spaces into ASCII, keeping Chinese punctuation; strip the ends."""
    return text.translate(_WIDTH_TABLE).strip()
