"""sentence-transformers models from a local folder or the local Hugging Face cache, never downloaded: spec
``st:<path-or-hub-id>[?query_prompt=...&document_prompt=...]``."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import numpy as np

from matchmaker.search.embedding import ST_PREFIX, Embedder, EmbedderError
from matchmaker.search.embedding.windows import WindowedEmbedder

_ST_PARAMS = ("query_prompt", "document_prompt")
# sentence-transformers models count real tokens (their tokenizers differ: byte-level BPE can spend several tokens on
# one CJK character). The margin covers pieces that merge or split differently once sentences are joined.
_ST_MARGIN = 4
_ST_DEFAULT_MAX_TOKENS = 512


class SentenceTransformerEmbedder(WindowedEmbedder):
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
        base = ST_PREFIX + ref + (f"?{urlencode(explicit)}" if explicit else "")
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


def create_st(spec: str, *, device: str, batch_size: int, to_simplified: bool) -> Embedder:
    ref, _, query = spec[len(ST_PREFIX) :].partition("?")
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
    return SentenceTransformerEmbedder(
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
