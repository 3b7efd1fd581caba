"""Preparing records for the duplicate detector: signatures, figures, owners, and the LSH buckets found by sorting."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHashLSH

from matchmaker.search.dedup_signatures import (
    NUM_PERM,
    SEED,
    bucket_pairs,
    minhash_template,
    prepare_texts,
    shingle_hashes,
)
from matchmaker.search.text import to_traditional

TEXTS = [
    "相变蓄冷材料及冷链运输箱温控技术，潜热≥220 J/g，保温箱在35℃环境下保持2～8℃达120小时。",
    "焊缝激光视觉跟踪传感器，跟踪精度±0.15mm，采样频率200Hz。",
    "焊接机器人离线编程与路径规划软件，离线编程效率提高4倍。",
    "",
]


def test_prepared_rows_are_the_minhash_figures_and_owner_of_each_text() -> None:
    texts = [*TEXTS, to_traditional(TEXTS[0])[0]]
    prepared = prepare_texts(texts, ["京华大学", None, "津门大学（焊接所）", "", "京華大學"])
    assert prepared.signatures.shape == (5, NUM_PERM)
    assert prepared.signatures.dtype == np.uint32
    expected = minhash_template()
    expected.update_batch(shingle_hashes(TEXTS[1]).tolist())
    assert np.array_equal(prepared.signatures[1], expected.hashvalues)
    assert np.array_equal(prepared.signatures[0], prepared.signatures[4])  # Traditional copy: the same characters
    assert prepared.numbers[0] == {"220", "35", "2", "8", "120"}
    assert prepared.owners == ["京华大学", "", "津门大学焊接所", "", "京华大学"]
    assert len(prepare_texts([], [])) == 0
    with pytest.raises(ValueError, match="one owner per text"):
        prepare_texts(TEXTS, [None])


def test_buckets_are_the_pairs_minhashlsh_returns() -> None:
    """Every pair sharing a band, as datasketch's MinHashLSH finds by querying each signature."""
    rng = np.random.default_rng(3)
    signatures = rng.integers(0, 3, size=(200, NUM_PERM), dtype=np.uint32)  # few values: many shared bands
    signatures[50] = signatures[10]
    lsh = MinHashLSH(threshold=0.5, num_perm=NUM_PERM)
    scheme = minhash_template().scheme
    leans = [LeanMinHash(seed=SEED, hashvalues=s, scheme=scheme) for s in signatures]
    for row, lean in enumerate(leans):
        lsh.insert(row, lean)
    expected = {(min(r, o), max(r, o)) for r, lean in enumerate(leans) for o in lsh.query(lean) if o != r}
    a, b = bucket_pairs(signatures, lsh.hashranges)
    assert set(zip(a.tolist(), b.tolist(), strict=True)) == expected
    assert (10, 50) in expected
    assert bool((a < b).all())
