"""MinHash rules: normalisation, shingles, signatures, bands, buckets and union-find, with vectors."""

from __future__ import annotations

import gzip
import json
import random

import numpy as np
import pytest
import xxhash

from curate.helium.minhash import (
    MinhashParams,
    band_keys,
    bucket_edges,
    cluster_sizes,
    connected_components,
    document_band_keys,
    fold32,
    jaccard,
    normalize_words,
    normalize_words_reference,
    permutations,
    shingle_hashes,
    shingle_set,
    signatures,
    union_find_reference,
    word_hashes,
)
from tests.conftest import c4_documents, shared_path

U64 = np.uint64


def as_text(words: list) -> list[str]:
    return [w.decode() if isinstance(w, bytes) else w for w in words]


def test_normalisation_vectors() -> None:
    cases = {
        "Hello, World!  It's 2024.": ["hello", "world", "it", "s", "0000"],
        "Café déjà-vu ÉTÉ": ["cafe", "deja", "vu", "ete"],
        "snake_case x²  ™ ＡＢＣ": ["snake", "case", "x0", "tm", "abc"],  # NFKD: superscript 2 -> 2 -> 0, fullwidth -> ascii
        "Ünïcödé…—“quotes”": ["unicode", "quotes"],
        "٣ apples": ["0", "apples"],  # any digit -> 0
        "   \n\t ": [],
        "Привет, мир": ["привет", "мир"],
    }
    for text, expected in cases.items():
        assert normalize_words_reference(text) == expected, text
        assert as_text(normalize_words(text)) == expected, text


def test_fast_normalisation_equals_the_reference_on_real_multilingual_text() -> None:
    path = shared_path("text", "web_filtered", "oscar2019_unshuffled_deduplicated_hf_dummy_166langs.jsonl.gz")
    with gzip.open(path, "rt") as fh:
        texts = [json.loads(line)["text"] for line in fh][:600]
    texts += c4_documents(100)
    assert sum(not t.isascii() for t in texts) > 300
    for text in texts:
        assert as_text(normalize_words(text)) == normalize_words_reference(text)


def test_word_hashes_are_xxh3_and_equal_for_str_and_bytes() -> None:
    h = word_hashes(["hello", b"hello", "héllo"])
    assert h.dtype == U64
    assert int(h[0]) == int(h[1]) == xxhash.xxh3_64_intdigest(b"hello")
    assert int(h[2]) == xxhash.xxh3_64_intdigest("héllo".encode())
    assert int(word_hashes(["hello"], seed=7)[0]) == xxhash.xxh3_64_intdigest(b"hello", 7)


def test_shingles() -> None:
    words = "a b c d e f g a b c d e".split()
    h = word_hashes(words)
    sh = shingle_hashes(h, 5)
    assert len(sh) == len(words) - 4
    assert sh[0] == sh[7], "the same 5-gram twice gives the same hash"
    assert len(set(sh.tolist())) == 7
    assert len(shingle_hashes(h[:3], 5)) == 1, "fewer words than n: one shingle of all"
    assert len(shingle_hashes(h[:0], 5)) == 0
    assert shingle_hashes(word_hashes(["b", "a"]), 5)[0] != shingle_hashes(word_hashes(["a", "b"]), 5)[0], "order-sensitive"
    # pinned vector: a change of any rule would change the signatures of every stored run
    assert int(shingle_hashes(word_hashes(["the", "quick", "brown", "fox", "jumps"]), 5)[0]) == PINNED_SHINGLE


PINNED_SHINGLE = 4858574238507693890


def test_pinned_band_keys() -> None:
    rows, keys = document_band_keys(["The quick brown fox jumps over the lazy dog, twice: 1 and 2."], MinhashParams())
    assert rows.tolist() == [0] and keys.shape == (1, 14)
    assert keys[0, :3].tolist() == PINNED_KEYS


PINNED_KEYS = [11816279927153128456, 7250095389808877156, 6550253280867366383]


def naive_signature(hashes: list[int], a: np.ndarray, b: np.ndarray) -> list[int]:
    return [min((int(ak) * x + int(bk)) % 2**32 for x in hashes) for ak, bk in zip(a, b)]


def test_signatures_match_a_naive_computation_for_any_block() -> None:
    rng = np.random.default_rng(3)
    lengths = [1, 7, 300, 2, 50, 1, 1000, 5]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    shingles = rng.integers(0, 2**32, offsets[-1], dtype=np.uint32)
    a, b = permutations(MinhashParams())
    assert a.dtype == np.uint32 and np.all(a % 2 == 1) and len(a) == 112
    assert a[:2].tolist() == [2032329983, 2198257139]  # pinned: seed 1
    expected = np.array(
        [naive_signature(shingles[offsets[i] : offsets[i + 1]].tolist(), a, b) for i in range(len(lengths))], dtype=np.uint32
    )
    for block in (1, 64, 333, 4096):
        assert np.array_equal(signatures(shingles, offsets, a, b, block=block), expected)


def test_signature_agreement_estimates_jaccard() -> None:
    """Share of equal minima ~ Jaccard (binomial, 112 draws), on word sets of known overlap."""
    params = MinhashParams()
    a, b = permutations(params)
    rng = random.Random(5)
    errors = []
    for target in (0.2, 0.5, 0.8, 0.95):
        common = [f"w{rng.random()}" for _ in range(int(2000 * target))]
        x = common + [f"x{rng.random()}" for _ in range(int(1000 * (1 - target)))]
        y = common + [f"y{rng.random()}" for _ in range(int(1000 * (1 - target)))]
        true = len(common) / (len(common) + len(x) + len(y) - 2 * len(common))
        hx, hy = fold32(word_hashes(x)), fold32(word_hashes(y))
        sig = signatures(np.concatenate([hx, hy]), np.array([0, len(hx), len(hx) + len(hy)]), a, b)
        errors.append(abs(float(np.mean(sig[0] == sig[1])) - true))
    assert max(errors) < 3 * np.sqrt(0.25 / 112), errors


def test_band_keys() -> None:
    params = MinhashParams()
    rng = np.random.default_rng(0)
    sig = rng.integers(0, 2**32, (1, 112), dtype=np.uint32)
    changed = sig.copy()
    changed[0, 8 * 3 + 5] ^= 1  # one minimum of band 3
    same_bands = np.tile(sig[:, :8], (1, 14))  # every band holds the same minima
    keys = band_keys(np.concatenate([sig, changed, same_bands]), params)
    assert keys.dtype == U64 and keys.shape == (3, 14)
    differs = keys[0] != keys[1]
    assert differs.tolist() == [i == 3 for i in range(14)]
    assert len(set(keys[2].tolist())) == 14, "equal minima in different bands never share a key"


def test_document_band_keys_skips_texts_without_words() -> None:
    text = " ".join(f"word{i}" for i in range(40))
    rows, keys = document_band_keys(["", text, "...", text.upper(), "short one"], MinhashParams())
    assert rows.tolist() == [1, 3, 4]
    assert np.array_equal(keys[0], keys[1]), "normalisation makes case irrelevant"
    assert not np.any(keys[0] == keys[2])


def test_other_parameters() -> None:
    """n-grams and rows beyond 8 (more multipliers than the fixed ones) and one band."""
    text = " ".join(f"w{i}" for i in range(60))
    for params in (MinhashParams(n_grams=12, bands=4, rows=20), MinhashParams(n_grams=1, bands=1, rows=1)):
        params.validate()
        rows, keys = document_band_keys([text, text.replace("w30", "x")], params)
        assert keys.shape == (2, params.bands)
    h = word_hashes([f"w{i}" for i in range(12)])
    swapped = h.copy()
    swapped[[0, 8]] = swapped[[8, 0]]
    assert shingle_hashes(h, 12)[0] != shingle_hashes(swapped, 12)[0], "words 8 apart are not interchangeable"
    with pytest.raises(ValueError):
        MinhashParams(rows=0).validate()


def test_candidate_probability_is_fineweb_s_curve() -> None:
    p = MinhashParams()
    assert p.num_perm == 112
    assert abs(p.candidate_probability(0.8) - 0.924) < 1e-3  # the figure in datatrove's docstring
    assert abs(p.candidate_probability(0.685) - 0.5) < 0.01  # the 50 % point
    assert p.candidate_probability(0.95) > 1 - 1e-6 and p.candidate_probability(0.3) < 1e-3


def test_bucket_edges_vector_and_order_independence() -> None:
    keys = np.array([5, 5, 7, 5, 7, 9, 5], dtype=U64)
    nodes = np.array([3, 1, 4, 2, 8, 0, 1], dtype=U64)  # node 1 twice in bucket 5 (two bands) -> one edge each
    u, v = bucket_edges(keys, nodes)
    assert list(zip(u.tolist(), v.tolist())) == [(1, 2), (1, 3), (4, 8)]
    perm = np.random.default_rng(1).permutation(len(keys))
    u2, v2 = bucket_edges(keys[perm], nodes[perm])
    assert np.array_equal(u, u2) and np.array_equal(v, v2)
    assert len(bucket_edges(np.zeros(0, dtype=U64), np.zeros(0, dtype=U64))[0]) == 0


def test_connected_components_vectors() -> None:
    # chain 9-7-5-3 (hooks must propagate down to 3), a triangle 20-21-22, a pair 100-50
    u = np.array([9, 7, 5, 20, 21, 22, 100], dtype=U64)
    v = np.array([7, 5, 3, 21, 22, 20, 50], dtype=U64)
    nodes, labels = connected_components(u, v)
    assert nodes.tolist() == [3, 5, 7, 9, 20, 21, 22, 50, 100]
    assert labels.tolist() == [3, 3, 3, 3, 20, 20, 20, 50, 50]
    assert cluster_sizes(labels).tolist() == [4, 4, 4, 4, 3, 3, 3, 2, 2]
    assert len(connected_components(np.zeros(0, dtype=U64), np.zeros(0, dtype=U64))[0]) == 0


@pytest.mark.parametrize("seed", range(5))
def test_connected_components_match_plain_union_find(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_nodes, n_edges = 5000, 4000  # sparse: many components, some long paths
    ids = rng.choice(2**40, n_nodes, replace=False).astype(U64)
    u, v = ids[rng.integers(0, n_nodes, n_edges)], ids[rng.integers(0, n_nodes, n_edges)]
    nodes, labels = connected_components(u, v)
    reference = union_find_reference(list(zip(u.tolist(), v.tolist())))
    assert dict(zip(nodes.tolist(), labels.tolist())) == reference
    # a long path in random order: the worst case for label propagation
    path = rng.permutation(3000).astype(U64)
    order = rng.permutation(2999)
    nodes, labels = connected_components(path[:-1][order], path[1:][order])
    assert set(labels.tolist()) == {0}


def test_exact_shingles_and_jaccard() -> None:
    x = shingle_set("a b c d e f", 5)
    y = shingle_set("A b, c d e f g", 5)
    assert x == {("a", "b", "c", "d", "e"), ("b", "c", "d", "e", "f")}
    assert jaccard(x, y) == 2 / 3
    assert jaccard(set(), set()) == 0.0
