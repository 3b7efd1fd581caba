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
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from datasketch import LeanMinHash, MinHash, MinHashLSH

from matchmaker.search.text import normalize_text, to_simplified

NGRAM = 3
NUM_PERM = 64  # ±0.06 on a Jaccard estimate; half the LSH work of 128
LSH_THRESHOLD = 0.5  # MinHashLSH banding target: pairs with a 3-gram Jaccard near or above this become candidates
NEIGHBOURS = 8  # embedding neighbours looked at per record
COSINE_FLOOR = 0.60  # embedding neighbours below this cosine are not candidates (English copies: 0.64–0.77 with USE)
SEED = 20261124

_KEEP = re.compile(r"[^0-9a-z\u3400-\u4dbf\u4e00-\u9fff]+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_MIX = np.uint64(0x9E3779B97F4A7C15)
_NO_SHINGLES = np.zeros(0, dtype=np.uint32)
Vector = npt.NDArray[np.float32]


@lru_cache(maxsize=1)
def _traditional_chars() -> frozenset[str]:
    """Every CJK character that OpenCC t2s changes on its own (built once, about 0.3 s)."""
    return frozenset(c for c in map(chr, range(0x3400, 0xA000)) if to_simplified(c) != c)


def fast_canonical(text: str) -> str:
    """:func:`canonical` (NFKC, Simplified, lower case), skipping OpenCC for a text with no Traditional character —
    most texts: the conversion is the costliest step of preparing a record."""
    form = normalize_text(text)
    if not _traditional_chars().isdisjoint(form):
        form = to_simplified(form)
    return form.lower()


def dedup_text(text: str) -> str:
    """The canonical character string compared by MinHash: NFKC, Simplified, lower case, letters/digits/CJK only."""
    return _KEEP.sub("", fast_canonical(text))


def shingle_hashes(text: str, n: int = NGRAM, *, canonical_form: str | None = None) -> npt.NDArray[np.uint32]:
    """Distinct 32-bit hashes of the character n-grams of the canonical text (deterministic across processes)."""
    s = _KEEP.sub("", canonical_form) if canonical_form is not None else dedup_text(text)
    if not s:
        return np.zeros(0, dtype=np.uint32)
    cps = np.frombuffer(s.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(cps) < n:
        cps = np.concatenate([cps, np.zeros(n - len(cps), dtype=np.uint64)])
    grams = np.zeros(len(cps) - n + 1, dtype=np.uint64)
    for i in range(n):  # code points < 2**21: n=3 of them fit in 63 bits, one per 21-bit slot
        grams |= cps[i : len(cps) - n + 1 + i] << np.uint64(21 * (n - 1 - i))
    mixed = (grams * _MIX) >> np.uint64(32)  # multiplicative (Fibonacci) hashing down to 32 bits
    return np.unique(mixed.astype(np.uint32))


def numbers_in(text: str, *, canonical_form: str | None = None) -> frozenset[str]:
    """The figures written in a text (after NFKC, so full-width digits count; 2.50 and 2.5 are one figure)."""
    form = canonical_form if canonical_form is not None else fast_canonical(text)
    return frozenset(_trim(m.group(0)) for m in _NUMBER.finditer(form))


def _trim(number: str) -> str:
    return (number.rstrip("0").rstrip(".") or "0") if "." in number else number


def normalise_name(name: str | None) -> str:
    """An owner or enterprise name as compared (canonical, punctuation dropped)."""
    return dedup_text(name or "")


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


class _Entry:
    __slots__ = ("shingles", "numbers", "owner", "ext", "field")

    def __init__(self, record: DupRecord) -> None:
        form = fast_canonical(record.text)  # once per record
        self.shingles = shingle_hashes("", canonical_form=form)
        self.numbers = numbers_in("", canonical_form=form)
        self.owner = normalise_name(record.owner)
        self.ext = (record.external_id or "").strip().upper()
        self.field = record.field or ""


class DuplicateDetector:
    """Candidate pairs and duplicate probabilities over one list (achievements or needs).

    ``add`` records (in bulk), then ``scan`` for every likely duplicate pair in the list, or ``check`` one new record
    against it. Candidates come from three blocks: the MinHash LSH (similar characters), the embedding neighbours
    (similar meaning, any language) and equal external ids; every candidate is then scored by ``model``.
    """

    def __init__(
        self,
        *,
        model: DuplicateModel = DEFAULT_MODEL,
        num_perm: int = NUM_PERM,
        lsh_threshold: float = LSH_THRESHOLD,
        neighbours: int = NEIGHBOURS,
        cosine_floor: float = COSINE_FLOOR,
    ) -> None:
        self.model = model
        self.num_perm = num_perm
        self.neighbours = neighbours
        self.cosine_floor = cosine_floor
        self.lsh = MinHashLSH(threshold=lsh_threshold, num_perm=num_perm)
        self._template = MinHash(num_perm=num_perm, seed=SEED, hashfunc=int)
        self.ids: list[int] = []
        self._row: dict[int, int] = {}
        self._signatures: list[npt.NDArray[np.uint32]] = []
        self._leans: list[LeanMinHash] = []
        self._entries: list[_Entry] = []
        self._vectors: list[npt.NDArray[np.float32] | None] = []
        self._by_ext: dict[str, list[int]] = {}
        self._codes: dict[str, dict[str, int]] = {"owner": {"": 0}, "field": {"": 0}, "ext": {"": 0}}
        self._index: object | None = None  # FAISS index over the rows that have vectors
        self._index_rows: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.ids)

    # ------------------------------------------------------------------------------------------------ building
    def _minhash(self, entry: _Entry, work: MinHash | None = None) -> LeanMinHash:
        m = work if work is not None else self._template.copy()
        m.clear()
        m.update_batch(entry.shingles.tolist())  # Python ints: datasketch hashes each with hashfunc=int, fast on ints
        return LeanMinHash(m)

    def add(self, records: Iterable[DupRecord]) -> None:
        """Add records (ids must be new); the embedding index is rebuilt lazily by the next search."""
        work = self._template.copy()  # one MinHash cleared per record: building one costs as much as hashing
        with self.lsh.insertion_session() as session:
            for record in records:
                if record.id in self._row:
                    raise ValueError(f"record {record.id} already added")
                entry = _Entry(record)
                sig = self._minhash(entry, work)
                entry.shingles = _NO_SHINGLES  # the signature stands for them from now on
                session.insert(record.id, sig, check_duplication=False)
                self._row[record.id] = len(self.ids)
                self.ids.append(record.id)
                self._signatures.append(sig.hashvalues.astype(np.uint32))
                self._leans.append(sig)
                self._entries.append(entry)
                if entry.ext:
                    self._by_ext.setdefault(entry.ext, []).append(record.id)
                self._vectors.append(record.vector)
        self._index = None

    def _ensure_index(self) -> None:
        if self._index is not None:
            return
        import faiss

        rows = np.array([i for i, v in enumerate(self._vectors) if v is not None], dtype=np.int64)
        self._index_rows = rows
        if len(rows) == 0:
            self._index = None
            return
        matrix = np.ascontiguousarray(np.stack([self._vectors[i] for i in rows.tolist()]), dtype=np.float32)
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
    def _code(self, what: str, value: str) -> int:
        table = self._codes[what]
        return table.setdefault(value, len(table))

    def _score_many(
        self, ra: npt.NDArray[np.int64], rb: npt.NDArray[np.int64], all_candidates: bool
    ) -> list[ScoredPair]:
        """The features of many candidate pairs at once (numpy), then their probabilities."""
        if len(ra) == 0:
            return []
        sigs = np.stack(self._signatures)
        dim = next((len(v) for v in self._vectors if v is not None), 1)
        has = np.array([v is not None for v in self._vectors])
        vecs = np.zeros((len(self._vectors), dim), dtype=np.float32)
        if has.any():
            vecs[has] = np.stack([v for v in self._vectors if v is not None])
        codes = {
            what: np.array([self._code(what, getattr(e, what)) for e in self._entries], dtype=np.int64)
            for what in ("owner", "field", "ext")
        }
        out: list[ScoredPair] = []
        weights = np.array([self.model.weights.get(f, 0.0) for f in FEATURES])
        for start in range(0, len(ra), 50_000):
            a, b = ra[start : start + 50_000], rb[start : start + 50_000]
            feats = np.zeros((len(a), len(FEATURES)))
            feats[:, 0] = (sigs[a] == sigs[b]).sum(axis=1) / self.num_perm
            feats[:, 1] = np.einsum("ij,ij->i", vecs[a], vecs[b])
            nums = [
                (self._entries[x].numbers, self._entries[y].numbers)
                for x, y in zip(a.tolist(), b.tolist(), strict=True)
            ]
            feats[:, 2] = [len(m & n) / len(m | n) if len(m | n) >= 2 else 0.0 for m, n in nums]
            oa, ob = codes["owner"][a], codes["owner"][b]
            feats[:, 3] = (oa > 0) & (oa == ob)
            feats[:, 4] = (oa > 0) & (ob > 0) & (oa != ob)
            feats[:, 5] = (codes["ext"][a] > 0) & (codes["ext"][a] == codes["ext"][b])
            feats[:, 6] = (codes["field"][a] > 0) & (codes["field"][a] == codes["field"][b])
            prob = 1.0 / (1.0 + np.exp(-(self.model.intercept + feats @ weights)))
            keep = np.arange(len(a)) if all_candidates else np.flatnonzero(prob >= self.model.threshold)
            for i in keep.tolist():
                x, y = self.ids[int(a[i])], self.ids[int(b[i])]
                lo, hi = (x, y) if x < y else (y, x)
                p = float(prob[i])
                out.append(
                    ScoredPair(
                        lo, hi, p, p >= self.model.threshold, dict(zip(FEATURES, feats[i].tolist(), strict=True))
                    )
                )
        return out

    def _features(self, rb: int, sig_a: npt.NDArray[np.uint32], ea: _Entry, va: Vector | None) -> dict[str, float]:
        eb = self._entries[rb]
        vb = self._vectors[rb]
        jaccard = float(np.count_nonzero(sig_a == self._signatures[rb])) / self.num_perm
        cosine = float(np.dot(va, vb)) if va is not None and vb is not None else 0.0
        union = ea.numbers | eb.numbers
        numbers = len(ea.numbers & eb.numbers) / len(union) if len(union) >= 2 else 0.0
        both_owned = bool(ea.owner and eb.owner)
        return {
            "jaccard": jaccard,
            "cosine": cosine,
            "numbers": numbers,
            "same_owner": float(both_owned and ea.owner == eb.owner),
            "other_owner": float(both_owned and ea.owner != eb.owner),
            "same_external_id": float(bool(ea.ext) and ea.ext == eb.ext),
            "same_field": float(bool(ea.field) and ea.field == eb.field),
        }

    def _score(self, a_id: int, rb: int, sig_a: npt.NDArray[np.uint32], ea: _Entry, va: Vector | None) -> ScoredPair:
        feats = self._features(rb, sig_a, ea, va)
        p = self.model.probability(feats)
        b_id = self.ids[rb]
        lo, hi = (a_id, b_id) if a_id < b_id else (b_id, a_id)
        return ScoredPair(lo, hi, p, p >= self.model.threshold, feats)

    def _neighbour_rows(
        self, vectors: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
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
        entry = _Entry(record)
        sig = self._minhash(entry)
        sig_a = sig.hashvalues.astype(np.uint32)
        rows: set[int] = {self._row[i] for i in self.lsh.query(sig)}
        if entry.ext:
            rows.update(self._row[i] for i in self._by_ext.get(entry.ext, ()))
        if record.vector is not None:
            sims, nrows = self._neighbour_rows(record.vector[None, :])
            rows.update(int(r) for s, r in zip(sims[0], nrows[0], strict=True) if r >= 0 and s >= self.cosine_floor)
        rows.discard(self._row.get(record.id, -1))
        pairs = [self._score(record.id, rb, sig_a, entry, record.vector) for rb in rows]
        pairs = [p for p in pairs if all_candidates or p.duplicate]
        return sorted(pairs, key=lambda p: -p.probability)

    def scan(self, *, all_candidates: bool = False) -> list[ScoredPair]:
        """Every candidate pair within the list, scored; duplicates only unless ``all_candidates``."""
        candidates: set[tuple[int, int]] = set()
        for row in range(len(self.ids)):
            for other in self.lsh.query(self._leans[row]):
                ro = self._row[other]
                if ro != row:
                    candidates.add((row, ro) if row < ro else (ro, row))
        for same in self._by_ext.values():
            rs = sorted(self._row[i] for i in same)
            candidates.update((x, y) for i, x in enumerate(rs) for y in rs[i + 1 :])
        with_vectors = np.array([i for i, v in enumerate(self._vectors) if v is not None], dtype=np.int64)
        for start in range(0, len(with_vectors), 4096):
            chunk = with_vectors[start : start + 4096]
            sims, nrows = self._neighbour_rows(np.stack([self._vectors[i] for i in chunk.tolist()]))
            ok = (nrows >= 0) & (sims >= self.cosine_floor) & (nrows != chunk[:, None])
            for r, o in zip(np.broadcast_to(chunk[:, None], ok.shape)[ok].tolist(), nrows[ok].tolist(), strict=True):
                candidates.add((r, o) if r < o else (o, r))
        pairs = np.array(sorted(candidates), dtype=np.int64).reshape(-1, 2)
        out = self._score_many(pairs[:, 0], pairs[:, 1], all_candidates)
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
