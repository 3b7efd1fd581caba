"""What the duplicate detector keeps of each record's text: its MinHash signature and the figures it cites.

Preparing a record is the costly, per-record part of a scan (Traditional → Simplified conversion, character 3-grams,
64 MinHash permutations): it needs no shared state, so :func:`prepare_texts` spreads large lists over worker
processes. A worker computes exactly what the calling process would (the n-gram hash is a fixed 64-bit mix and the
MinHash permutations come from a fixed seed), so the result never depends on the number of workers.
"""

from __future__ import annotations

import multiprocessing
import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from datasketch import MinHash

from matchmaker.search.text import normalize_text, to_simplified

NGRAM = 3
NUM_PERM = 64  # ±0.06 on a Jaccard estimate; half the LSH work of 128
SEED = 20261124
PARALLEL_FROM = 4_000  # fewer texts are prepared in the calling process: starting workers costs about a second
CHUNK = 2_000  # texts per task sent to a worker

_KEEP = re.compile(r"[^0-9a-z\u3400-\u4dbf\u4e00-\u9fff]+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_MIX = np.uint64(0x9E3779B97F4A7C15)


@lru_cache(maxsize=1)
def _traditional_chars() -> frozenset[str]:
    """Every CJK character that OpenCC t2s changes on its own (built once, about 0.3 s)."""
    return frozenset(c for c in map(chr, range(0x3400, 0xA000)) if to_simplified(c) != c)


def fast_canonical(text: str) -> str:
    """NFKC, Simplified, lower case — skipping OpenCC for a text with no Traditional character (most texts: the
    conversion is the costliest step of preparing a record)."""
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


def minhash_template(num_perm: int = NUM_PERM) -> MinHash:
    """The MinHash every signature is computed with (fixed seed; the shingles are already hashed, so ``int``)."""
    return MinHash(num_perm=num_perm, seed=SEED, hashfunc=int)


@dataclass
class Prepared:
    """The prepared texts of many records, row by row: signatures (rows × permutations), figures, owner keys."""

    signatures: npt.NDArray[np.uint32]
    numbers: list[frozenset[str]]
    owners: list[str]

    def __len__(self) -> int:
        return len(self.numbers)


def _prepare_chunk(args: tuple[Sequence[str], Sequence[str | None], int]) -> Prepared:
    """Prepare texts in this process: canonical form once per text, then its 3-gram MinHash and its figures."""
    texts, owners, num_perm = args
    work = minhash_template(num_perm)  # one MinHash cleared per text: building one costs as much as hashing
    signatures = np.empty((len(texts), num_perm), dtype=np.uint32)
    numbers = []
    for row, text in enumerate(texts):
        form = fast_canonical(text)
        work.clear()
        work.update_batch(shingle_hashes("", canonical_form=form).tolist())  # ints: hashfunc=int is fast on them
        signatures[row] = work.hashvalues  # < 2**32 (datasketch masks to 32 bits)
        numbers.append(numbers_in("", canonical_form=form))
    return Prepared(signatures, numbers, [normalise_name(o) for o in owners])


def prepare_texts(
    texts: Sequence[str], owners: Sequence[str | None], *, num_perm: int = NUM_PERM, workers: int = 1
) -> Prepared:
    """Prepare many records' texts; with ``workers`` > 1 and enough texts, in that many worker processes.

    Workers are spawned (not forked): the caller may be a server with threads and an OpenMP pool, which a fork would
    copy in an unusable state. The result is the same, row for row, whatever ``workers`` is.
    """
    if len(texts) != len(owners):
        raise ValueError("one owner per text")
    chunks = [
        (texts[start : start + CHUNK], owners[start : start + CHUNK], num_perm) for start in range(0, len(texts), CHUNK)
    ]
    if workers <= 1 or len(texts) < PARALLEL_FROM:
        parts = [_prepare_chunk(chunk) for chunk in chunks]
    else:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            parts = list(pool.map(_prepare_chunk, chunks))
    if not parts:
        return Prepared(np.zeros((0, num_perm), dtype=np.uint32), [], [])
    return Prepared(
        np.concatenate([p.signatures for p in parts]),
        [n for p in parts for n in p.numbers],
        [o for p in parts for o in p.owners],
    )


def bucket_pairs(
    signatures: npt.NDArray[np.uint32], bands: Sequence[tuple[int, int]]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Every pair of rows whose signatures are equal over at least one band (start, end): the pairs that share a
    bucket of a MinHashLSH with those bands, found by sorting each band's values instead of querying row by row.
    A pair sharing several bands comes once per band."""
    firsts, seconds = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    for begin, end in bands:
        keys = signatures[:, begin:end]
        order = np.lexsort(keys.T[::-1])
        ordered = keys[order]
        starts = np.flatnonzero(np.r_[True, (ordered[1:] != ordered[:-1]).any(axis=1)])
        sizes = np.diff(np.r_[starts, len(keys)])
        for start, size in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist(), strict=True):
            i, j = np.triu_indices(size, 1)
            members = order[start : start + size]
            firsts.append(members[i])
            seconds.append(members[j])
    return np.concatenate(firsts), np.concatenate(seconds)
