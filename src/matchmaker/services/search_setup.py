"""The search service of a process, configured from its settings (embedder, index, weights, optional reranker)."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session, sessionmaker

from matchmaker.config import Settings
from matchmaker.search.bands import DEFAULT_BANDS
from matchmaker.search.ranking import Weights
from matchmaker.search.rerank import CrossEncoderReranker
from matchmaker.services.indexing import SearchService


def build_search_service(
    settings: Settings, session_factory: sessionmaker[Session], *, sync_interval: float | None = None
) -> SearchService:
    """A search service configured from settings (embedder, index, weights, optional reranker); not started."""
    from matchmaker.search.embedding import create_embedder
    from matchmaker.search.index import set_faiss_threads

    set_faiss_threads(settings.faiss_threads)
    embedder = create_embedder(
        settings.embedder,
        device=settings.embedder_device,
        batch_size=settings.embed_batch_size,
        to_simplified=settings.embed_to_simplified,
    )
    reranker = None
    if settings.reranker is not None:
        reranker = CrossEncoderReranker(
            settings.reranker,
            device=settings.embedder_device,
            top_n=settings.reranker_top_n,
            weight=settings.reranker_weight,
        )
    return SearchService(
        session_factory,
        embedder,
        index_dir=settings.index_dir,
        weights=Weights.from_dict(settings.ranking_weights),
        index_kind=settings.index_kind,
        hnsw_threshold=settings.hnsw_threshold,
        hnsw_ef_search=settings.hnsw_ef_search,
        sync_interval=sync_interval or settings.sync_interval_s,
        use_thesaurus=settings.thesaurus,
        bands=replace(DEFAULT_BANDS, **settings.band_thresholds) if settings.band_thresholds else None,
        snapshot_interval=settings.snapshot_interval_s,
        reranker=reranker,
    )
