"""The matcher: both lists' vector and lexical indexes, candidate generation, fusion and ranking.

It holds plain data (no ORM): the service feeds it documents built from the database, the evaluation feeds it
documents read from files. Retrieval for one query:

1. dense: the query vector against the target list's FAISS index, with the filter applied inside FAISS
   (ID selector), top `pool` candidates;
2. lexical: BM25 over segmented text, top `pool` candidates that pass the same filter;
3. the union is scored by the ranking stage (semantic, lexical and the need's facts), best k returned; the semantic
   evidence of a Chinese–English pairing is first lifted by :data:`CROSS_LINGUAL_OFFSET`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import numpy as np

from matchmaker.search.bands import DEFAULT_BANDS, Bands
from matchmaker.search.concepts import NO_EVIDENCE, Evidence, QueryConcepts, Thesaurus, headline
from matchmaker.search.constraints import NeedFacts, OfferFacts
from matchmaker.search.documents import Doc, Kind
from matchmaker.search.embedding import Embedder
from matchmaker.search.filters import Filter
from matchmaker.search.index import VectorIndex
from matchmaker.search.lexical import LexicalIndex
from matchmaker.search.ranking import Candidate, ConstraintPolicy, Ranked, Weights, age_in_days, rank
from matchmaker.search.rerank import CrossEncoderReranker
from matchmaker.search.shared_terms import QueryTerms
from matchmaker.search.text import canonical, reset_text_locks, script_family, tokenize

CROSS_LINGUAL_OFFSET = 0.06
"""Added to the cosine similarity of a Chinese–English pairing (either way round; mixed texts excepted).

The multilingual model places texts of one language closer together whatever they say: over every need–achievement
pair of the dev split, unlabelled, Chinese–Chinese and English–English pairs average a cosine of 0.212 and
Chinese–English pairs 0.146 (a gap of 0.067; of the medians 0.063). Without the offset, a need written in English ranks
English-language distractors above the Chinese achievement that solves it (dev en→zh nDCG@10 0.837; 0.89–0.92 with
offsets 0.03–0.1, all splits of dev improving alike). The value is the measured gap rounded down, not a tuned one."""


@dataclass
class Collection:
    """One list: vectors, BM25 and the documents' facts."""

    index: VectorIndex
    lexical: LexicalIndex = field(default_factory=LexicalIndex)
    docs: dict[int, Doc] = field(default_factory=dict)

    def upsert(self, docs: Sequence[Doc], vectors: np.ndarray) -> None:
        """Add or replace documents with their (normalised) vectors."""
        if not docs:
            return
        self.index.upsert([d.id for d in docs], vectors, [d.attrs for d in docs])
        # Only changed texts are tokenized again (jieba costs about a millisecond a record): an edit of the price or
        # the TRL, or a replayed change, leaves the BM25 index as it is.
        known = self.docs
        changed = [d for d in docs if d.id not in known or known[d.id].text != d.text or d.id not in self.lexical]
        self.lexical.upsert([d.id for d in changed], [d.text for d in changed])
        for doc in docs:
            self.docs[doc.id] = doc

    def remove(self, ids: Iterable[int]) -> None:
        """Drop documents (unknown ids are ignored)."""
        present = [i for i in ids if i in self.docs]
        if not present:
            return
        self.index.remove(present)
        self.lexical.remove(present)
        for i in present:
            self.docs.pop(i, None)

    def __len__(self) -> int:
        return len(self.docs)


@dataclass(frozen=True)
class Query:
    """A query: its text, the facts of its side (None for free text) and, optionally, its id in its own list."""

    text: str
    facts: NeedFacts | OfferFacts | None = None
    own_id: int | None = None


class Matcher:
    """Ranks achievements for needs and needs for achievements."""

    def __init__(
        self,
        embedder: Embedder,
        *,
        weights: Weights | None = None,
        pool: int = 60,
        index_kind: str = "auto",
        hnsw_threshold: int = 20_000,
        hnsw_ef_search: int = 64,
        reranker: CrossEncoderReranker | None = None,
        thesaurus: Thesaurus | None = None,
        bands: Bands = DEFAULT_BANDS,
    ) -> None:
        self.embedder = embedder
        self.thesaurus = thesaurus or Thesaurus()  # replaced as a whole when managers edit it (never mutated)
        self.bands = bands
        self.reranker = reranker
        self.weights = weights or Weights()
        self.pool = pool
        self.index_kind = index_kind
        self.hnsw_threshold = hnsw_threshold
        self.hnsw_ef_search = hnsw_ef_search
        self.lists: dict[Kind, Collection] = {
            "achievements": Collection(self.new_index()),
            "demands": Collection(self.new_index()),
        }
        self._query_cache: dict[str, np.ndarray] = {}
        self._token_cache: dict[str, list[str]] = {}
        self._cache_lock = threading.Lock()

    def new_index(self) -> VectorIndex:
        """An empty vector index configured like this matcher's (kind, HNSW threshold and efSearch)."""
        return VectorIndex(
            self.embedder.dimension,
            kind=self.index_kind,  # type: ignore[arg-type]
            hnsw_threshold=self.hnsw_threshold,
            ef_search=self.hnsw_ef_search,
        )

    def after_fork(self) -> None:
        """Make this matcher usable in a forked child process (see services/chunk_pool.py): every lock is new there,
        since a lock another thread of the parent held at the fork would stay held in the child for good."""
        self._cache_lock = threading.Lock()
        reset_text_locks()
        for collection in self.lists.values():
            collection.index.after_fork()
            collection.lexical.after_fork()

    # ------------------------------------------------------------------------------------------------- queries
    def clear_caches(self) -> None:
        """Forget the cached query vectors and tokens (a benchmark timing cold requests, a model swap)."""
        with self._cache_lock:
            self._query_cache.clear()
            self._token_cache.clear()

    def query_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Query embeddings, cached by text (the same need is ranked again by every matching run)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._query_cache]
        if missing:
            vectors = self.embedder.encode_queries(missing)
            with self._cache_lock:
                if len(self._query_cache) > 20_000:
                    self._query_cache.clear()
                for text, vector in zip(missing, vectors, strict=True):
                    self._query_cache[text] = vector
        return np.stack([self._query_cache[t] for t in texts]).astype(np.float32, copy=False)

    def match(
        self,
        query: Query,
        target: Kind,
        *,
        k: int = 10,
        flt: Filter | None = None,
        policy: ConstraintPolicy = "flag",
        today: date | None = None,
        vector: np.ndarray | None = None,
    ) -> list[Ranked]:
        """The best k documents of `target` for one query, ranked and explained."""
        vec = self.query_vectors([query.text]) if vector is None else vector.reshape(1, -1)
        return self.match_many([query], target, k=k, flt=flt, policy=policy, today=today, vectors=vec)[0]

    def match_many(
        self,
        queries: Sequence[Query],
        target: Kind,
        *,
        k: int = 10,
        flt: Filter | None = None,
        policy: ConstraintPolicy = "flag",
        today: date | None = None,
        vectors: np.ndarray | None = None,
    ) -> list[list[Ranked]]:
        """Rank for several queries at once: one batched embedding call and one batched FAISS search.

        The three steps are public so that a benchmark can time them one by one: :meth:`dense_candidates`,
        :meth:`lexical_candidates` and :meth:`rank_candidates`.
        """
        if not queries:
            return []
        today = today or date.today()
        vectors = self.query_vectors([q.text for q in queries]) if vectors is None else vectors
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(queries), -1)
        pool = self.pool_size(k)
        dense = self.dense_candidates(vectors, target, pool, flt)
        results: list[list[Ranked]] = []
        for query, vector, hits in zip(queries, vectors, dense, strict=True):
            tokens = self.query_tokens(query.text)
            concepts = self.query_concepts(query.text, target)
            search_tokens = self.expanded(tokens, concepts)
            lexical, known = self.lexical_candidates(search_tokens, target, pool, flt, [i for i, _ in hits])
            results.append(
                self.rank_candidates(
                    query, search_tokens, vector, target, hits, lexical, k, policy, today, known, concepts, tokens
                )
            )
        return results

    def query_concepts(self, text: str, target: Kind) -> QueryConcepts | None:
        """The thesaurus links a need's text brings (None when ranking needs for an achievement: the need is the
        candidate then, and its links are looked up per candidate)."""
        if target != "achievements" or not len(self.thesaurus):
            return None
        return self.thesaurus.for_need(text)

    @staticmethod
    def expanded(tokens: list[str], concepts: QueryConcepts | None) -> list[str]:
        """The query's BM25 tokens plus the tokens of the solutions its thesaurus links name (each once)."""
        if not concepts:
            return tokens
        extra = [t for t in concepts.expansion() if t not in set(tokens)]
        return [*tokens, *extra] if extra else tokens

    def _evidence(self, query: Query, doc: Doc, target: Kind, concepts: QueryConcepts | None) -> Evidence:
        """Thesaurus evidence of one pairing, always from the need's side."""
        if not len(self.thesaurus):
            return NO_EVIDENCE
        if target == "achievements":
            if not concepts:
                return NO_EVIDENCE
            return concepts.evidence(_canonical(doc.text), _canonical(headline(doc.text)))
        need_concepts = _need_concepts(self.thesaurus, doc.text)
        return need_concepts.evidence(_canonical(query.text), _canonical(headline(query.text)))

    def pool_size(self, k: int) -> int:
        """How many candidates each retriever contributes for a top-k request."""
        return max(self.pool, 3 * k)

    def query_tokens(self, text: str) -> list[str]:
        """BM25 tokens of a query, cached by text like its vector (jieba costs about a millisecond per need).

        The list is shared with the cache: do not change it.
        """
        tokens = self._token_cache.get(text)
        if tokens is None:
            tokens = tokenize(text)
            with self._cache_lock:
                if len(self._token_cache) > 20_000:
                    self._token_cache.clear()
                self._token_cache[text] = tokens
        return tokens

    def dense_candidates(
        self, vectors: np.ndarray, target: Kind, pool: int, flt: Filter | None
    ) -> list[list[tuple[int, float]]]:
        """Step 1: the ``pool`` nearest documents per query vector that pass the filter (inside FAISS)."""
        return self.lists[target].index.search(vectors, pool, flt)

    def lexical_candidates(
        self, tokens: list[str], target: Kind, pool: int, flt: Filter | None, dense_ids: Sequence[int] = ()
    ) -> tuple[list[tuple[int, float]], dict[int, float]]:
        """Step 2: the ``pool`` best BM25 documents that pass the filter (checked on twice as many hits), and the
        BM25 scores of ``dense_ids`` (the dense candidates) from the same pass over the corpus."""
        collection = self.lists[target]
        excluded = set(flt.exclude_ids) if flt is not None else set()
        docs = collection.docs
        hits, scores = collection.lexical.search_scoring(tokens, pool * 2, dense_ids)
        passing = [
            (i, s) for i, s in hits if i in docs and i not in excluded and (flt is None or flt.matches(docs[i].attrs))
        ]
        return passing[:pool], dict(zip(dense_ids, scores.tolist(), strict=True))

    def rank_candidates(
        self,
        query: Query,
        tokens: list[str],
        vector: np.ndarray,
        target: Kind,
        dense_hits: list[tuple[int, float]],
        lexical_hits: list[tuple[int, float]],
        k: int,
        policy: ConstraintPolicy,
        today: date,
        known_lexical: dict[int, float] | None = None,
        concepts: QueryConcepts | None = None,
        shown_tokens: list[str] | None = None,
    ) -> list[Ranked]:
        """Step 3: score the union of both candidate lists with the ranking stage, explain the best k.

        ``known_lexical`` holds BM25 scores already computed (those :meth:`lexical_candidates` gives for the dense
        candidates); the others are looked up.
        """
        collection = self.lists[target]
        semantic = {i: s for i, s in dense_hits}
        ids = list(dict.fromkeys([*semantic, *(i for i, _ in lexical_hits)]))
        ids = [i for i in ids if i in collection.docs and i != query.own_id]
        if not ids:
            return []
        qv = np.asarray(vector, dtype=np.float32).reshape(-1)
        lexical_only = [i for i in ids if i not in semantic]
        if lexical_only:
            # Lexical-only candidates still get their true cosine similarity, from the stored vectors.
            semantic.update(dict.fromkeys(lexical_only, 0.0))
            found, stored = collection.index.vectors(lexical_only)
            semantic.update(zip(found, (stored @ qv).tolist(), strict=True))
        # BM25 of the lexical hits comes with them (bit-identical to LexicalIndex.scores); look up the others only.
        lexical = {**(known_lexical or {}), **dict(lexical_hits)}
        others = [i for i in ids if i not in lexical]
        lexical.update(zip(others, collection.lexical.scores(tokens, others).tolist(), strict=True))
        candidates = []
        query_family = script_family(query.text)
        for i in ids:
            doc = collection.docs[i]
            need, offer = self._sides(query, doc, target)
            evidence = self._evidence(query, doc, target, concepts)
            crosses = query_family != "mixed" and script_family(doc.text) not in (query_family, "mixed")
            candidates.append(
                Candidate(
                    id=i,
                    semantic=semantic[i] + (CROSS_LINGUAL_OFFSET if crosses else 0.0),
                    lexical=lexical[i],
                    need=need,
                    offer=offer,
                    age_days=age_in_days(doc.updated, today),
                    concept=evidence.concept,
                    opposite=evidence.opposite,
                    links=evidence.links,
                    opposites=evidence.opposites,
                )
            )
        # Shared terms are the words both texts contain: the query's own tokens, not the thesaurus expansion.
        terms = QueryTerms(shown_tokens if shown_tokens is not None else tokens, collection.lexical.idf, query.text)

        def shared_terms(c: Candidate) -> tuple[str, ...]:
            # Only the returned pairings are explained, so shared terms are computed for those alone.
            return terms.shared_with(collection.lexical.tokens(c.id) or [], doc_text=collection.docs[c.id].text)

        if self.reranker is None:
            ranked = rank(candidates, k=k, weights=self.weights, policy=policy, today=today, shared_terms=shared_terms)
            return self._banded(ranked)
        ranked = rank(
            candidates,
            k=max(k, self.reranker.top_n),
            weights=self.weights,
            policy=policy,
            today=today,
            shared_terms=shared_terms,
        )
        texts = {r.id: collection.docs[r.id].text for r in ranked}
        return self._banded(self.reranker.rerank(query.text, ranked, texts, k))

    def _banded(self, ranked: list[Ranked]) -> list[Ranked]:
        for r in ranked:
            r.band = self.bands.of(r.score)
        return ranked

    @staticmethod
    def _sides(query: Query, doc: Doc, target: Kind) -> tuple[NeedFacts, OfferFacts]:
        if target == "achievements":
            need = query.facts if isinstance(query.facts, NeedFacts) else NeedFacts(field="其他", region="其他")
            assert isinstance(doc.facts, OfferFacts)
            return need, doc.facts
        offer = query.facts if isinstance(query.facts, OfferFacts) else OfferFacts(field="其他", region="其他")
        assert isinstance(doc.facts, NeedFacts)
        return doc.facts, offer


@lru_cache(maxsize=50_000)
def _canonical(text: str) -> str:
    """Canonical form of a record's text, cached: the same records are candidates of many queries."""
    return canonical(text)


@lru_cache(maxsize=20_000)
def _need_concepts(thesaurus: Thesaurus, text: str) -> QueryConcepts:
    """A need's thesaurus links, cached per thesaurus and text (ranking needs for an achievement)."""
    return thesaurus.for_need(text)
