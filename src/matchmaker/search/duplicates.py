"""Near-duplicate detection for the supply and demand lists (no HTTP, no ORM).

The same achievement arrives from several centres: re-typed with small edits, converted to Traditional characters,
or rewritten in English. Three signals are combined into one duplicate probability:

* **characters**: MinHash over character 3-grams of the canonical text (NFKC, Traditional → Simplified, lower case,
  punctuation and spaces dropped). Chinese has no spaces, so character n-grams rather than words; 3-grams rather than
  2-grams because two texts of one industrial chain share most common 2-grams. The n-grams are hashed with numpy
  (a fixed 64-bit mix, so signatures are the same in every process) and fed to datasketch's MinHash, whose
  signatures go into a MinHashLSH (banding) to find candidate pairs without comparing every pair;
* **meaning**: the cosine of the records' cached embeddings (nearest neighbours by FAISS), the only signal that finds
  a Chinese record's English copy;
* **structure**: the same owner / enterprise, the same external id, the same industrial chain, and how many of the
  figures written in the texts (220 J/g, 96 %, 120 小时) the two share — copies keep the figures, two different
  achievements of one lab do not.

A logistic model turns the features into a probability; its coefficients and the decision threshold were fitted and
chosen on the labelled development set (``data/eval/duplicates-dev.json``) and are measured on the held-out set
(``duplicates-test.json``); see README "Duplicate and stale listings".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from datasketch import LeanMinHash, MinHashLSH
from scipy import sparse

from matchmaker.search.dedup_signatures import (
    NUM_PERM,
    SEED,
    Prepared,
    bucket_pairs,
    dedup_text,
    minhash_template,
    numbers_in,
    prepare_texts,
    shingle_hashes,
)

__all__ = [
    "DEFAULT_MODEL",
    "FEATURES",
    "DupRecord",
    "DuplicateDetector",
    "DuplicateModel",
    "ScoredPair",
    "dedup_text",
    "duplicate_groups",
    "numbers_in",
    "shingle_hashes",
]

LSH_THRESHOLD = 0.5  # MinHashLSH banding target: pairs with a 3-gram Jaccard near or above this become candidates
NEIGHBOURS = 8  # embedding neighbours looked at per record
COSINE_FLOOR = 0.60  # embedding neighbours below this cosine are not candidates (English copies: 0.64–0.77 with USE)
SCORE_CHUNK = 50_000  # candidate pairs scored at once
Vector = npt.NDArray[np.float32]
Rows = npt.NDArray[np.int64]
Signature = npt.NDArray[np.uint32]


@dataclass
class DupRecord:
    """One record as the detector sees it."""

    id: int
    title: str
    body: str
    owner: str | None = None  # 完成单位 of an achievement, 需求单位 of a need
    external_id: str | None = None
    field: str | None = None
    vector: npt.NDArray[np.float32] | None = None  # L2-normalised cached embedding

    @property
    def text(self) -> str:
        """Title and body, as compared."""
        return f"{self.title}\n{self.body}"


FEATURES = ("jaccard", "cosine", "numbers", "same_owner", "other_owner", "same_external_id", "same_field")


@dataclass(frozen=True)
class DuplicateModel:
    """Logistic combination of the pair features, and the decision threshold on its probability."""

    intercept: float
    weights: dict[str, float]
    threshold: float

    def probability(self, features: dict[str, float]) -> float:
        """P(duplicate | features)."""
        z = self.intercept + sum(self.weights.get(k, 0.0) * features.get(k, 0.0) for k in FEATURES)
        return 1.0 / (1.0 + math.exp(-z))


# Fitted by `benchmarks/duplicates_quality.py --fit` on data/eval/duplicates-dev.json (L2 logistic regression, C=1.0,
# on the candidates of a wide blocking: 10 neighbours, cosine ≥ 0.3); the threshold is the middle of the range that
# maximises F1 on dev with precision ≥ 0.95 (0.20–0.30). README "Duplicate and stale listings" gives the dev and
# held-out test figures. The figures shared weigh most: copies keep them in every language.
DEFAULT_MODEL = DuplicateModel(
    intercept=-6.87,
    weights={
        "jaccard": 1.58,
        "cosine": 1.88,
        "numbers": 4.86,
        "same_owner": 1.12,
        "other_owner": -1.13,
        "same_external_id": 0.0,  # never seen on dev: an equal external id is an update (imports upsert by it)
        "same_field": 1.87,
    },
    threshold=0.25,
)


@dataclass
class ScoredPair:
    """A candidate pair, its features, probability and decision."""

    a: int
    b: int
    probability: float
    duplicate: bool
    features: dict[str, float] = field(default_factory=dict)

    def evidence(self) -> dict[str, float | bool]:
        """The features rounded for display and storage."""
        return {k: round(v, 3) for k, v in self.features.items()}


@dataclass
class _Columns:
    """The added records as arrays, built once per batch of ``add`` for the vectorised scan."""

    vectors: npt.NDArray[np.float32]  # rows × dim, zeros where a record has no vector
    has_vector: npt.NDArray[np.bool_]
    codes: dict[str, Rows]  # owner / field / ext → one integer per distinct value, 0 for none
    figures: sparse.csr_matrix  # rows × distinct figures, 1 where the record cites the figure


def _codes(values: Sequence[str]) -> Rows:
    table: dict[str, int] = {"": 0}
    return np.array([table.setdefault(v, len(table)) for v in values], dtype=np.int64)


class DuplicateDetector:
    """Candidate pairs and duplicate probabilities over one list (achievements or needs).

    ``add`` records (in bulk), then ``scan`` for every likely duplicate pair in the list, or ``check`` one new record
    against it. Candidates come from three blocks: the MinHash LSH (similar characters), the embedding neighbours
    (similar meaning, any language) and equal external ids; every candidate is then scored by ``model``.

    ``workers`` > 1 prepares large batches of records in that many processes and lets FAISS use that many threads
    during a scan; the pairs found are the same whatever ``workers`` is.
    """

    def __init__(
        self,
        *,
        model: DuplicateModel = DEFAULT_MODEL,
        num_perm: int = NUM_PERM,
        lsh_threshold: float = LSH_THRESHOLD,
        neighbours: int = NEIGHBOURS,
        cosine_floor: float = COSINE_FLOOR,
        workers: int = 1,
    ) -> None:
        self.model = model
        self.num_perm = num_perm
        self.neighbours = neighbours
        self.cosine_floor = cosine_floor
        self.workers = workers
        self.lsh = MinHashLSH(threshold=lsh_threshold, num_perm=num_perm)  # filled lazily, by the first check
        self._lsh_rows = 0
        self._scheme = minhash_template(num_perm).scheme
        self.ids: list[int] = []
        self._row: dict[int, int] = {}
        self._signature_blocks: list[npt.NDArray[np.uint32]] = []
        self._signatures: npt.NDArray[np.uint32] | None = None
        self._numbers: list[frozenset[str]] = []
        self._owners: list[str] = []
        self._fields: list[str] = []
        self._exts: list[str] = []
        self._vectors: list[Vector | None] = []
        self._by_ext: dict[str, list[int]] = {}
        self._columns: _Columns | None = None
        self._index: object | None = None  # FAISS index over the rows that have vectors
        self._index_rows: Rows = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.ids)

    # ------------------------------------------------------------------------------------------------ building
    def add(self, records: Iterable[DupRecord], prepared: Prepared | None = None) -> None:
        """Add records (ids must be new), with their prepared texts if the caller has them (else prepared here)."""
        records = list(records)
        seen: set[int] = set()
        for record in records:
            if record.id in self._row or record.id in seen:
                raise ValueError(f"record {record.id} already added")
            seen.add(record.id)
        if prepared is None:
            prepared = prepare_texts([r.text for r in records], [r.owner for r in records], workers=self.workers)
        if len(prepared) != len(records) or prepared.signatures.shape[1] != self.num_perm:
            raise ValueError("one prepared row of num_perm values per record")
        for record in records:
            self._row[record.id] = len(self.ids)
            self.ids.append(record.id)
            ext = (record.external_id or "").strip().upper()
            self._exts.append(ext)
            if ext:
                self._by_ext.setdefault(ext, []).append(record.id)
            self._fields.append(record.field or "")
            self._vectors.append(record.vector)
        self._signature_blocks.append(prepared.signatures)
        self._numbers.extend(prepared.numbers)
        self._owners.extend(prepared.owners)
        self._signatures = self._columns = self._index = None

    def _sigs(self) -> npt.NDArray[np.uint32]:
        if self._signatures is None:
            blocks = self._signature_blocks or [np.zeros((0, self.num_perm), dtype=np.uint32)]
            self._signatures = np.concatenate(blocks)
            self._signature_blocks = [self._signatures]
        return self._signatures

    def _lean(self, signature: npt.NDArray[np.uint32]) -> LeanMinHash:
        return LeanMinHash(seed=SEED, hashvalues=signature, scheme=self._scheme)

    def _ensure_lsh(self) -> None:
        """Insert the rows added since the last check into the MinHashLSH (a scan buckets the bands itself)."""
        sigs = self._sigs()
        if self._lsh_rows < len(sigs):
            with self.lsh.insertion_session() as session:
                for row in range(self._lsh_rows, len(sigs)):
                    session.insert(self.ids[row], self._lean(sigs[row]), check_duplication=False)
            self._lsh_rows = len(sigs)

    def _columns_now(self) -> _Columns:
        if self._columns is None:
            dim = next((len(v) for v in self._vectors if v is not None), 1)
            has = np.array([v is not None for v in self._vectors], dtype=bool)
            vectors = np.zeros((len(self._vectors), dim), dtype=np.float32)
            if has.any():
                vectors[has] = np.stack([v for v in self._vectors if v is not None])
            vocabulary: dict[str, int] = {}
            columns = [vocabulary.setdefault(x, len(vocabulary)) for ns in self._numbers for x in ns]
            indptr = np.r_[0, np.cumsum([len(ns) for ns in self._numbers])]
            figures = sparse.csr_matrix(
                (np.ones(len(columns), dtype=np.int64), np.array(columns, dtype=np.int64), indptr),
                shape=(len(self._numbers), max(1, len(vocabulary))),
            )
            codes = {"owner": _codes(self._owners), "field": _codes(self._fields), "ext": _codes(self._exts)}
            self._columns = _Columns(vectors, has, codes, figures)
        return self._columns

    def _ensure_index(self) -> None:
        if self._index is not None:
            return
        import faiss

        columns = self._columns_now()
        rows = np.flatnonzero(columns.has_vector).astype(np.int64)
        self._index_rows = rows
        if len(rows) == 0:
            self._index = None
            return
        matrix = np.ascontiguousarray(columns.vectors[rows])
        dim = matrix.shape[1]
        index: Any
        if len(rows) < 20_000:
            index = faiss.IndexFlatIP(dim)  # exact below 20k: a full scan costs less than training
        else:
            # IVF: 4·√n lists, 16 probed — the neighbours of a near-copy sit in its own list almost always.
            nlist = int(4 * math.sqrt(len(rows)))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
            rng = np.random.default_rng(SEED)
            train = matrix[rng.choice(len(rows), size=min(len(rows), nlist * 40), replace=False)]
            index.train(train)
            index.nprobe = 16
        index.add(matrix)
        self._index = index

    # ------------------------------------------------------------------------------------------------ scoring
    def _score_many(self, ra: Rows, rb: Rows, all_candidates: bool) -> list[ScoredPair]:
        """The features of many candidate pairs at once (numpy), then their probabilities."""
        if len(ra) == 0:
            return []
        sigs, cols = self._sigs(), self._columns_now()
        sizes = np.diff(cols.figures.indptr)
        weights = np.array([self.model.weights.get(f, 0.0) for f in FEATURES])
        out: list[ScoredPair] = []
        for start in range(0, len(ra), SCORE_CHUNK):
            a, b = ra[start : start + SCORE_CHUNK], rb[start : start + SCORE_CHUNK]
            feats = np.zeros((len(a), len(FEATURES)))
            feats[:, 0] = (sigs[a] == sigs[b]).sum(axis=1) / self.num_perm
            feats[:, 1] = np.einsum("ij,ij->i", cols.vectors[a], cols.vectors[b])
            shared = np.asarray(cols.figures[a].multiply(cols.figures[b]).sum(axis=1)).ravel()
            union = sizes[a] + sizes[b] - shared
            feats[:, 2] = np.where(union >= 2, shared / np.maximum(union, 1), 0.0)
            oa, ob = cols.codes["owner"][a], cols.codes["owner"][b]
            feats[:, 3] = (oa > 0) & (oa == ob)
            feats[:, 4] = (oa > 0) & (ob > 0) & (oa != ob)
            ext, chain = cols.codes["ext"], cols.codes["field"]
            feats[:, 5] = (ext[a] > 0) & (ext[a] == ext[b])
            feats[:, 6] = (chain[a] > 0) & (chain[a] == chain[b])
            prob = 1.0 / (1.0 + np.exp(-(self.model.intercept + feats @ weights)))
            keep = np.arange(len(a)) if all_candidates else np.flatnonzero(prob >= self.model.threshold)
            ids = np.asarray(self.ids, dtype=np.int64)
            xs, ys = ids[a[keep]], ids[b[keep]]
            for x, y, p, f in zip(xs.tolist(), ys.tolist(), prob[keep].tolist(), feats[keep].tolist(), strict=True):
                lo, hi = (x, y) if x < y else (y, x)
                out.append(ScoredPair(lo, hi, p, p >= self.model.threshold, dict(zip(FEATURES, f, strict=True))))
        return out

    def _features(self, rb: int, sig_a: Signature, prepared: Prepared, record: DupRecord) -> dict[str, float]:
        vb = self._vectors[rb]
        va = record.vector
        numbers_a, numbers_b = prepared.numbers[0], self._numbers[rb]
        owner_a, owner_b = prepared.owners[0], self._owners[rb]
        ext_a, field_a = (record.external_id or "").strip().upper(), record.field or ""
        jaccard = float(np.count_nonzero(sig_a == self._sigs()[rb])) / self.num_perm
        cosine = float(np.dot(va, vb)) if va is not None and vb is not None else 0.0
        union = numbers_a | numbers_b
        numbers = len(numbers_a & numbers_b) / len(union) if len(union) >= 2 else 0.0
        both_owned = bool(owner_a and owner_b)
        return {
            "jaccard": jaccard,
            "cosine": cosine,
            "numbers": numbers,
            "same_owner": float(both_owned and owner_a == owner_b),
            "other_owner": float(both_owned and owner_a != owner_b),
            "same_external_id": float(bool(ext_a) and ext_a == self._exts[rb]),
            "same_field": float(bool(field_a) and field_a == self._fields[rb]),
        }

    def _neighbour_rows(self, vectors: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.float32], Rows]:
        self._ensure_index()
        if self._index is None or len(vectors) == 0:
            return np.zeros((len(vectors), 0), dtype=np.float32), np.zeros((len(vectors), 0), dtype=np.int64)
        k = min(self.neighbours + 1, len(self._index_rows))
        sims, idx = self._index.search(np.ascontiguousarray(vectors, dtype=np.float32), k)  # type: ignore[attr-defined]
        rows = np.where(idx >= 0, self._index_rows[np.clip(idx, 0, None)], -1)
        return sims, rows

    # ------------------------------------------------------------------------------------------------ queries
    def check(self, record: DupRecord, *, all_candidates: bool = False) -> list[ScoredPair]:
        """Score one record (new, or already added) against the list; duplicates only unless ``all_candidates``."""
        self._ensure_lsh()
        prepared = prepare_texts([record.text], [record.owner], num_perm=self.num_perm)
        sig_a = prepared.signatures[0]
        rows: set[int] = {self._row[i] for i in self.lsh.query(self._lean(sig_a))}
        ext = (record.external_id or "").strip().upper()
        if ext:
            rows.update(self._row[i] for i in self._by_ext.get(ext, ()))
        if record.vector is not None:
            sims, nrows = self._neighbour_rows(record.vector[None, :])
            rows.update(int(r) for s, r in zip(sims[0], nrows[0], strict=True) if r >= 0 and s >= self.cosine_floor)
        rows.discard(self._row.get(record.id, -1))
        pairs = []
        for rb in rows:
            feats = self._features(rb, sig_a, prepared, record)
            p = self.model.probability(feats)
            if all_candidates or p >= self.model.threshold:
                lo, hi = sorted((record.id, self.ids[rb]))
                pairs.append(ScoredPair(lo, hi, p, p >= self.model.threshold, feats))
        return sorted(pairs, key=lambda p: -p.probability)

    def _candidate_rows(self) -> tuple[Rows, Rows]:
        """Every candidate pair of rows (smaller row first, each once, sorted): the pairs that share an LSH bucket in
        any band — exactly the pairs ``MinHashLSH.query`` would return for every record — equal external ids, and
        embedding neighbours above the cosine floor."""
        first, second = bucket_pairs(self._sigs(), self.lsh.hashranges)
        firsts, seconds = [first], [second]
        for same in self._by_ext.values():
            i, j = np.triu_indices(len(same), 1)
            rows = np.array([self._row[x] for x in same], dtype=np.int64)
            firsts.append(rows[i])
            seconds.append(rows[j])
        cols = self._columns_now()
        with_vectors = np.flatnonzero(cols.has_vector).astype(np.int64)
        for start in range(0, len(with_vectors), 4096):
            chunk = with_vectors[start : start + 4096]
            sims, nrows = self._neighbour_rows(cols.vectors[chunk])
            ok = (nrows >= 0) & (sims >= self.cosine_floor) & (nrows != chunk[:, None])
            firsts.append(np.broadcast_to(chunk[:, None], ok.shape)[ok])
            seconds.append(nrows[ok])
        a = np.concatenate([np.zeros(0, dtype=np.int64), *firsts])
        b = np.concatenate([np.zeros(0, dtype=np.int64), *seconds])
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        keys = np.unique((lo * len(self.ids) + hi)[lo != hi])
        return keys // max(1, len(self.ids)), keys % max(1, len(self.ids))

    def scan(self, *, all_candidates: bool = False) -> list[ScoredPair]:
        """Every candidate pair within the list, scored; duplicates only unless ``all_candidates``."""
        import faiss

        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(max(1, self.workers))  # OpenMP keeps it per OS thread: put back below
        try:
            ra, rb = self._candidate_rows()
        finally:
            faiss.omp_set_num_threads(before)
        out = self._score_many(ra, rb, all_candidates)
        return sorted(out, key=lambda p: (-p.probability, p.a, p.b))


def duplicate_groups(pairs: Sequence[ScoredPair] | Sequence[tuple[int, int]]) -> list[list[int]]:
    """Connected components of the duplicate pairs (each group sorted, groups ordered by their smallest id)."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        root = x
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    for pair in pairs:
        a, b = (pair.a, pair.b) if isinstance(pair, ScoredPair) else pair
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for x in parent:
        groups.setdefault(find(x), []).append(x)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])
