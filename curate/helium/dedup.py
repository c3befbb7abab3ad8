"""Exact line-level dedup policies over one shard (an ordered stream of documents).

`keep-first` (Moshi / Dolma): the first occurrence of a line in shard order stays, every later
copy is removed. One pass.

`drop-all` (CCNet): every copy of a line that occurs at least twice in the shard is removed, the
first included. Two passes: `observe` every document first, then `removed_mask`.

Blank lines (empty after normalization) are never duplicates and never removed here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

from curate.helium.bloom import BloomFilter, ExactSet, SeenSet
from curate.helium.hashing import hash_lines

DedupPolicy = Literal["keep-first", "drop-all", "off"]
SeenMode = Literal["bloom", "exact"]


def make_seen_set(mode: SeenMode, expected_lines: int, fp_rate: float) -> SeenSet:
    if mode == "bloom":
        return BloomFilter(expected_lines, fp_rate)
    if mode == "exact":
        return ExactSet()
    raise ValueError(f"unknown seen-set mode {mode!r} (bloom or exact)")


class LineDeduplicator:
    """Stateful per-shard line dedup. Feed documents in shard order; never share across shards."""

    def __init__(
        self,
        policy: DedupPolicy,
        normalize: Callable[[str], str],
        mode: SeenMode = "bloom",
        expected_lines: int = 1_000_000,
        fp_rate: float = 1e-3,
    ) -> None:
        if policy not in ("keep-first", "drop-all", "off"):
            raise ValueError(f"unknown dedup policy {policy!r}")
        self.policy = policy
        self.normalize = normalize
        self.seen = make_seen_set(mode, expected_lines, fp_rate)
        # drop-all: `seen` holds lines seen once, `repeated` lines seen at least twice
        self.repeated = make_seen_set(mode, expected_lines, fp_rate) if policy == "drop-all" else None

    @property
    def needs_observe_pass(self) -> bool:
        return self.policy == "drop-all"

    def observe(self, lines: Sequence[str]) -> None:
        """First pass of `drop-all`: count lines across the shard."""
        assert self.repeated is not None, "observe() is only used by drop-all"
        hashes, blank = hash_lines(lines, self.normalize)
        hashes = hashes[~blank]
        already = self.seen.check_and_add(hashes)
        self.repeated.add(hashes[already])

    def removed_mask(self, lines: Sequence[str]) -> np.ndarray:
        """Boolean mask of lines to remove from this document (advances keep-first state)."""
        if self.policy == "off":
            return np.zeros(len(lines), dtype=bool)
        hashes, blank = hash_lines(lines, self.normalize)
        removed = np.zeros(len(lines), dtype=bool)
        nonblank = np.flatnonzero(~blank)
        if self.policy == "keep-first":
            removed[nonblank] = self.seen.check_and_add(hashes[nonblank])
        else:
            assert self.repeated is not None
            removed[nonblank] = self.repeated.contains(hashes[nonblank])
        return removed

    def stats(self) -> dict[str, float]:
        out: dict[str, float] = {"distinct_lines": float(self.seen.inserted)}
        if isinstance(self.seen, BloomFilter):
            out["bloom_bits"] = float(self.seen.num_bits)
            out["bloom_hashes"] = float(self.seen.num_hashes)
            out["bloom_estimated_fp_rate"] = self.seen.estimated_fp_rate()
        return out


def split_lines(text: str) -> list[str]:
    """WET text is newline-separated lines; keep it exactly that way (no sentence splitting)."""
    return text.split("\n")
