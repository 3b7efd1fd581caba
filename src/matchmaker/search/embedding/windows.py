"""Windowing and pooling shared by the backends: long texts are split into overlapping windows that fit a model's
input, encoded, and pooled back into one vector per text; and the concatenation of several embedders."""

from __future__ import annotations

import logging
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from matchmaker.search import text as textmod
from matchmaker.search.embedding import Embedder, EmbedderError

logger = logging.getLogger("matchmaker.search.embedding")

# Sentence ends: CJK full stop always; ! ? ; always (NFKC has already turned the full-width forms into ASCII, and
# Chinese puts no space after them); "." only before whitespace or a CJK character, so 3.5 and v1.2 stay whole.
_SENTENCE_END = re.compile(r"(?<=[。!?;])|(?<=\.)(?=\s|[\u3400-\u4dbf\u4e00-\u9fff])")
# Where an over-long sentence may be cut: after a comma or enumeration mark, a colon or a space.
_SOFT_BREAK = re.compile(r"[,、:\s]")


def split_windows(text: str, *, window: int, overlap: int, length: Callable[[str], int] = len) -> list[str]:
    """Split a text into overlapping windows that each fit a model's input.

    ``length`` measures a piece of text in the unit of ``window`` and ``overlap`` (characters by default, tokens for
    sentence-transformers models). A text whose normalised form fits in one window is returned as that single window,
    so short texts are encoded exactly as the model would encode them anyway.

    Longer texts are cut into units at line breaks and sentence ends (。 ! ? ; and "." before a space). A unit longer
    than the window is cut further into fragments of at most ``overlap`` (at a comma, enumeration comma, colon or
    space in the second half of the fragment where there is one, otherwise at the length limit), so that even a text
    without punctuation gets overlapping windows. Units are then packed greedily into windows of at most ``window``;
    each new window starts with the trailing units of the previous one whose total length is at most ``overlap``, so
    a statement that straddles a boundary is seen whole by at least one window where it fits in the overlap.

    Nothing is dropped: every character of the normalised text lies in at least one window.
    """
    if overlap >= window:
        raise ValueError(f"overlap ({overlap}) must be smaller than window ({window})")
    whole = textmod.normalize_text(text)
    if not whole or length(whole) <= window:
        return [whole] if whole else []

    units: list[tuple[str, int]] = []
    lines = [line for line in (textmod.normalize_text(raw) for raw in text.splitlines()) if line]
    for i, line in enumerate(lines):
        sentences = [s for s in _SENTENCE_END.split(line) if s]
        if i < len(lines) - 1:
            sentences[-1] += " "  # keep the line break as a space, as normalize_text does
        for sentence in sentences:
            size = length(sentence)
            if size <= window:
                units.append((sentence, size))
            else:
                units.extend((f, length(f)) for f in _fragments(sentence, max(overlap, 1), length))

    windows: list[str] = []
    current: list[tuple[str, int]] = []
    size = 0
    for unit in units:
        if current and size + unit[1] > window:
            windows.append("".join(u for u, _ in current).strip())
            kept: list[tuple[str, int]] = []
            kept_size = 0
            for u in reversed(current):
                if kept_size + u[1] > overlap or kept_size + u[1] + unit[1] > window:
                    break
                kept.insert(0, u)
                kept_size += u[1]
            current, size = kept, kept_size
        current.append(unit)
        size += unit[1]
    windows.append("".join(u for u, _ in current).strip())
    return [w for w in windows if w]


def _fragments(sentence: str, limit: int, length: Callable[[str], int]) -> list[str]:
    """Cut one over-long sentence into consecutive pieces of at most ``limit`` length units."""
    pieces: list[str] = []
    rest = sentence
    while rest:
        if length(rest) <= limit:
            pieces.append(rest)
            break
        # Largest prefix that fits: start from ``limit`` characters and shrink in proportion until it fits (one or
        # two rounds; a single round for character lengths).
        cut = min(len(rest), limit)
        while cut > 1 and (measured := length(rest[:cut])) > limit:
            cut = max(1, min(cut - 1, cut * limit // measured))
        # Prefer a soft break in the second half of the piece; do not split a Latin word when avoidable.
        breaks = [m.end() for m in _SOFT_BREAK.finditer(rest, cut // 2, cut)]
        if breaks:
            cut = breaks[-1]
        pieces.append(rest[:cut])
        rest = rest[cut:]
    return pieces


def _pool(vectors: np.ndarray, weights: np.ndarray, owners: np.ndarray, n: int) -> np.ndarray:
    """Length-weighted mean of each text's window vectors, L2-renormalised; one row per text."""
    pooled = np.zeros((n, vectors.shape[1]), dtype=np.float64)
    np.add.at(pooled, owners, vectors.astype(np.float64) * weights[:, None])
    return _normalize_rows(pooled)


def _normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """L2-normalise rows into a new C-contiguous float32 array."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    if matrix.size and not np.all(norms > 0):
        raise EmbedderError("the model returned a zero vector")
    return np.ascontiguousarray(matrix / np.where(norms > 0, norms, 1.0), dtype=np.float32)


class WindowedEmbedder(ABC):
    """Shared pipeline: normalise, window, encode windows in batches under a lock, pool per text."""

    window: int
    overlap: int

    def __init__(self, *, base_name: str, batch_size: int, to_simplified: bool) -> None:
        self._name = base_name + ("+t2s" if to_simplified else "")
        self._batch_size = batch_size
        self._to_simplified = to_simplified
        self._lock = threading.Lock()
        self._model: Any = None

    @property
    def name(self) -> str:
        """Stable identifier of the vectors this embedder produces."""
        return self._name

    @property
    @abstractmethod
    def dimension(self) -> int:
        """Length of each vector."""

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Encode search queries."""
        return self._encode(texts, query=True)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Encode documents."""
        return self._encode(texts, query=False)

    @abstractmethod
    def _load(self) -> Any:
        """Load and return the model (called once, under the lock)."""

    @abstractmethod
    def _encode_windows(self, model: Any, windows: list[str], *, query: bool) -> np.ndarray:
        """Encode texts that each fit the model's input (called under the lock)."""

    def _length(self, text: str) -> int:
        """Size of a text in the unit of ``window``."""
        return len(text)

    def _loaded(self) -> Any:
        """The model, loading it on first use; the caller holds the lock."""
        if self._model is None:
            started = time.perf_counter()
            self._model = self._load()
            logger.info("loaded embedder %s in %.2f s", self._name, time.perf_counter() - started)
        return self._model

    def _encode(self, texts: Sequence[str], *, query: bool) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("encode_queries/encode_documents take a sequence of texts, not a single str")
        if len(texts) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:  # load first: an st: model's window and token counter are known only once it is loaded
            model = self._loaded()
        windows: list[str] = []
        owners: list[int] = []
        for i, raw in enumerate(texts):
            if self._to_simplified:
                raw = textmod.to_simplified(raw)
            parts = split_windows(raw, window=self.window, overlap=self.overlap, length=self._length)
            if not parts:
                raise EmbedderError(f"text {i} is empty after normalisation; drop empty texts before encoding")
            windows.extend(parts)
            owners.extend([i] * len(parts))
        encoded: list[np.ndarray] = []
        for start in range(0, len(windows), self._batch_size):
            with self._lock:  # per batch, not per call: see the module docstring
                encoded.append(self._encode_windows(model, windows[start : start + self._batch_size], query=query))
        vectors = np.concatenate(encoded, axis=0)
        if len(windows) == len(texts):  # no text was split: rows are already the answer
            return _normalize_rows(vectors)
        weights = np.array([self._length(w) for w in windows], dtype=np.float64)
        return _pool(vectors, weights, np.array(owners), len(texts))


class ConcatEmbedder:
    """Concatenation of several embedders with equal weight, renormalised."""

    def __init__(self, parts: Sequence[Embedder]) -> None:
        self._parts = list(parts)
        self.name = f"concat({','.join(p.name for p in self._parts)})"

    @property
    def dimension(self) -> int:
        """Sum of the parts' dimensions."""
        return sum(p.dimension for p in self._parts)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Encode search queries with every part."""
        return _normalize_rows(np.hstack([p.encode_queries(texts) for p in self._parts]))

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Encode documents with every part."""
        return _normalize_rows(np.hstack([p.encode_documents(texts) for p in self._parts]))
