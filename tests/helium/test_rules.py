"""Pure rules of exact line dedup: normalization, hashing, bloom filter, policies."""

from __future__ import annotations

import random

import numpy as np
import pytest

from curate.helium.bloom import BloomFilter, ExactSet, optimal_bloom_parameters
from curate.helium.dedup import LineDeduplicator
from curate.helium.hashing import hash_lines, line_hash
from curate.helium.normalize import (
    get_normalizer,
    normalize_ccnet,
    normalize_ccnet_lines,
    normalize_lines,
    normalize_strip,
)


def test_strip_normalization_only_trims() -> None:
    assert normalize_strip("  Hello, World 42 \t") == "Hello, World 42"
    assert normalize_strip("Hello,  World") == "Hello,  World"


def test_ccnet_normalization() -> None:
    assert normalize_ccnet("  Page 3 of 10 — Café!  ") == "page 0 of 00 cafe"
    assert normalize_ccnet("Copyright © 2019, ACME Inc.") == normalize_ccnet("copyright © 2023 ACME inc")
    assert normalize_ccnet("...!!!") == ""


def test_ccnet_lines_equal_the_per_line_function() -> None:
    lines = [
        "  Page 3 of 10 — Café!  ",
        "",
        "\t \x0b\x1c  ",
        "ΟΔΟΣ Σ σ İstanbul",  # final sigma and a lowercase that adds a combining mark
        "٣ apples, ５ pears\u2028and\x85 ２ figs",  # non-ASCII digits and line-ish whitespace inside a line
        "emoji 😀 and 𝟘 and 𐄀 (Aegean punctuation)",  # astral characters: kept, digit, removed
        "lone \ud800 surrogate",
        "...!!!",
    ]
    assert normalize_ccnet_lines(lines) == [normalize_ccnet(line) for line in lines]
    assert normalize_ccnet_lines(lines)[:2] == ["page 0 of 00 cafe", ""]
    assert normalize_lines(lines, normalize_ccnet) == normalize_ccnet_lines(lines)
    assert normalize_lines(lines, normalize_strip) == [line.strip() for line in lines]
    rng = random.Random(0)
    alphabet = [
        chr(c)
        for c in [
            *range(0x20, 0x250),
            *range(0x300, 0x370),
            0x9,
            0x85,
            0x2028,
            0x3000,
            0x3A3,
            0x130,
            0x660,
            0xFF10,
            0x1F600,
            0x1D7CE,
            0x10100,
        ]
    ]
    for _ in range(300):
        doc = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(rng.randint(1, 4))]
        assert normalize_ccnet_lines(doc) == [normalize_ccnet(line) for line in doc]


def test_unknown_normalization_is_rejected() -> None:
    with pytest.raises(ValueError, match="ccnet"):
        get_normalizer("lower")


def test_hash_lines_blank_and_equal_lines() -> None:
    hashes, blank = hash_lines(["a", "  a ", "", "   ", "b"], normalize_strip)
    assert blank.tolist() == [False, False, True, True, False]
    assert (hashes[0] == hashes[1]).all() and not (hashes[0] == hashes[4]).all()
    h = line_hash("a")
    assert int(hashes[0, 0]) == h & ((1 << 64) - 1) and int(hashes[0, 1]) == h >> 64


def test_optimal_parameters() -> None:
    m, k = optimal_bloom_parameters(1_000_000, 1e-3)
    assert 14_370_000 <= m <= 14_380_000 and m % 64 == 0
    assert k == 10


def _random_keys(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, np.iinfo(np.uint64).max, size=(n, 2), dtype=np.uint64, endpoint=True)


@pytest.mark.parametrize("fp_rate", [1e-3, 1e-2])
def test_bloom_false_positive_rate_at_one_million_keys(fp_rate: float) -> None:
    rng = np.random.default_rng(0)
    n = 1_000_000
    bloom = BloomFilter(n, fp_rate)
    inserted = _random_keys(rng, n)
    for chunk in np.array_split(inserted, 20):
        bloom.add(chunk)
    assert bloom.contains(inserted).all(), "a bloom filter never forgets"
    measured = bloom.contains(_random_keys(rng, n)).mean()
    assert measured <= 1.5 * fp_rate, f"measured FP rate {measured} vs target {fp_rate}"
    assert measured >= fp_rate / 1.5, f"measured FP rate {measured} suspiciously low vs {fp_rate}: filter oversized?"


def test_bloom_reaches_all_bit_positions_for_power_of_two_sizes() -> None:
    # datatrove's SingleBloomFilter masks the hash with the byte count, so for 2^k sizes only 2
    # positions are reachable; ours must spread over the whole array.
    bloom = BloomFilter(1000, 0.5)
    bloom.num_bits, bloom.num_hashes = 1024, 1
    bloom.bits = np.zeros(16, dtype=np.uint64)
    bloom.add(_random_keys(np.random.default_rng(1), 20_000))
    set_bits = sum(bin(int(w)).count("1") for w in bloom.bits)
    assert set_bits == 1024


def test_check_and_add_handles_duplicates_inside_the_batch() -> None:
    keys = _random_keys(np.random.default_rng(2), 3)
    batch = np.stack([keys[0], keys[1], keys[0], keys[2], keys[1]])
    for seen_set in (BloomFilter(1000, 1e-6), ExactSet()):
        assert seen_set.check_and_add(batch).tolist() == [False, False, True, False, True]
        assert seen_set.check_and_add(keys[[2]]).tolist() == [True]


def _dedup_all(policy: str, docs: list[list[str]], mode: str = "exact") -> list[list[str]]:
    dedup = LineDeduplicator(policy, normalize_strip, mode, expected_lines=10_000, fp_rate=1e-6)  # type: ignore[arg-type]
    if dedup.needs_observe_pass:
        for doc in docs:
            dedup.observe(doc)
    out = []
    for doc in docs:
        removed = dedup.removed_mask(doc)
        out.append([line for line, gone in zip(doc, removed) if not gone])
    return out


DOCS = [
    ["menu", "first article line", "", "footer"],
    ["menu", "second article", "second article", "  footer  "],
    ["unique", "", "", "menu"],
]


@pytest.mark.parametrize("mode", ["exact", "bloom"])
def test_keep_first_policy(mode: str) -> None:
    assert _dedup_all("keep-first", DOCS, mode) == [
        ["menu", "first article line", "", "footer"],
        ["second article"],
        ["unique", "", ""],
    ]


@pytest.mark.parametrize("mode", ["exact", "bloom"])
def test_drop_all_policy_removes_every_copy(mode: str) -> None:
    assert _dedup_all("drop-all", DOCS, mode) == [
        ["first article line", ""],
        [],
        ["unique", "", ""],
    ]


def test_off_policy_keeps_everything() -> None:
    assert _dedup_all("off", DOCS) == DOCS


def test_bloom_agrees_with_exact_on_a_realistic_shard() -> None:
    # 200k lines with heavy repetition: bloom at 1e-3 may only differ by rare false positives
    rng = np.random.default_rng(3)
    vocabulary = [f"line number {i} of the boilerplate pool" for i in range(60_000)]
    docs = [[vocabulary[j] for j in rng.integers(0, len(vocabulary), size=40)] for _ in range(5_000)]
    exact = _dedup_all("keep-first", docs, "exact")
    bloom_dedup = LineDeduplicator("keep-first", normalize_strip, "bloom", expected_lines=200_000, fp_rate=1e-3)
    differing = 0
    for doc, expected in zip(docs, exact):
        removed = bloom_dedup.removed_mask(doc)
        kept = [line for line, gone in zip(doc, removed) if not gone]
        differing += len(expected) - len(kept)
        assert len(kept) <= len(expected)
    distinct = sum(len(d) for d in exact)
    assert differing <= 3 * 1e-3 * distinct
