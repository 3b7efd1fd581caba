"""Optional cross-encoder rerank: a sentence-transformers CrossEncoder re-scores the best candidates.

A cross-encoder reads the need and the achievement together, so it judges "does this solve that" better than two
independent embeddings, at a cost of one model pass per pair; it is therefore applied to the top `top_n` candidates
of the ranking stage only. Its output is squashed with a sigmoid to [0, 1] and added with weight `weight` as the
component "rerank"; constraint penalties stay in the score, so the constraint policy still holds after reranking.
Models load from a local path only (HF_HUB_OFFLINE), never from a hub.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from matchmaker.search.embedding import EmbedderError
from matchmaker.search.ranking import Ranked


class CrossEncoderReranker:
    """Re-scores (query, document) pairs with a local sentence-transformers CrossEncoder."""

    def __init__(
        self,
        path: str | Path,
        *,
        device: str = "cpu",
        batch_size: int = 16,
        max_length: int = 512,
        top_n: int = 20,
        weight: float = 0.5,
    ) -> None:
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise EmbedderError(f"reranker model folder {folder} does not exist (models are loaded locally only)")
        from sentence_transformers import CrossEncoder

        self.model: Any = CrossEncoder(str(folder), device=device, max_length=max_length, local_files_only=True)
        self.name = f"cross-encoder:{folder.name}"
        self.batch_size = batch_size
        self.top_n = top_n
        self.weight = weight
        self._lock = threading.Lock()

    def score(self, query: str, documents: Sequence[str]) -> np.ndarray:
        """Relevance probability of each document for the query, in [0, 1]."""
        if not documents:
            return np.zeros(0, dtype=np.float32)
        pairs = [(query, doc) for doc in documents]
        with self._lock:  # torch modules are not guaranteed thread-safe for concurrent forward passes
            logits = np.asarray(
                self.model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False, activation_fn=None),
                dtype=np.float32,
            ).reshape(len(pairs), -1)
        return (1.0 / (1.0 + np.exp(-logits[:, 0]))).astype(np.float32)

    def rerank(self, query: str, ranked: list[Ranked], texts: dict[int, str], k: int) -> list[Ranked]:
        """Add the cross-encoder component to the top candidates, re-sort them and return the best k."""
        head, tail = ranked[: self.top_n], ranked[self.top_n :]
        probabilities = self.score(query, [texts[r.id] for r in head])
        rescored = []
        for r, p in zip(head, probabilities, strict=True):
            contribution = self.weight * float(p)
            components = {**r.components, "rerank": contribution}
            rescored.append(
                replace(r, score=r.score + contribution, relevance=r.relevance + contribution, components=components)
            )
        rescored.sort(key=lambda r: (-r.score, r.id))
        # Candidates below the reranked head keep their order; they never had the bonus, so they stay below it.
        return (rescored + tail)[:k]
