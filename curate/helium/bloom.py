"""Seen-line sets for line dedup: a bloom filter (bounded memory) and an exact set (ground truth).

Both take batches of 128-bit line hashes as uint64[n, 2] and answer "seen before?" while inserting,
so a document is processed with one vectorized call. Duplicates *inside* the batch are resolved in
order: the first occurrence is new, later ones are seen.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np


class SeenSet(Protocol):
    def check_and_add(self, hashes: np.ndarray) -> np.ndarray: ...

    def contains(self, hashes: np.ndarray) -> np.ndarray: ...

    def add(self, hashes: np.ndarray) -> None: ...


def optimal_bloom_parameters(expected_items: int, fp_rate: float) -> tuple[int, int]:
    """(bits m, hash count k) minimizing memory for `expected_items` at `fp_rate`.

    m = -n ln p / (ln 2)^2 rounded up to a multiple of 64, k = round(m / n * ln 2), at least 1.
    """
    if not 0 < fp_rate < 1:
        raise ValueError("fp_rate must be in (0, 1)")
    n = max(1, int(expected_items))
    m = math.ceil(-n * math.log(fp_rate) / (math.log(2) ** 2))
    m = max(64, (m + 63) // 64 * 64)
    k = max(1, round(m / n * math.log(2)))
    return m, k


def _first_occurrence(hashes: np.ndarray) -> np.ndarray:
    """Mask of rows that are the first of their value in the batch.

    Keyed on the first 64-bit half only: a 1-D `np.unique` is ~7x faster than one over rows, and two
    different lines of one document sharing 64 hash bits (odds ~2^-64 per pair) is not a concern.
    """
    is_first = np.zeros(len(hashes), dtype=bool)
    if len(hashes):
        _, first_index = np.unique(hashes[:, 0], return_index=True)
        is_first[first_index] = True
    return is_first


class BloomFilter:
    """Bloom filter over 128-bit hashes: bits in a numpy uint64 array, k probes by double hashing.

    Probe i of a key (h1, h2) is (h1 + i * h2) mod m with h2 forced odd, so all m positions are
    reachable for any m (unlike filters that mask the hash with the byte count).
    """

    def __init__(self, expected_items: int, fp_rate: float = 1e-3) -> None:
        self.expected_items = int(expected_items)
        self.fp_rate = fp_rate
        self.num_bits, self.num_hashes = optimal_bloom_parameters(expected_items, fp_rate)
        self.bits = np.zeros(self.num_bits // 64, dtype=np.uint64)
        self.inserted = 0

    @property
    def nbytes(self) -> int:
        return self.bits.nbytes

    def _positions(self, hashes: np.ndarray) -> np.ndarray:
        h1 = hashes[:, 0:1]
        h2 = hashes[:, 1:2] | np.uint64(1)
        steps = np.arange(self.num_hashes, dtype=np.uint64)[None, :]
        with np.errstate(over="ignore"):
            probes = h1 + steps * h2  # wraps modulo 2^64 on purpose
        return probes % np.uint64(self.num_bits)

    def _test(self, positions: np.ndarray) -> np.ndarray:
        words = self.bits[positions >> np.uint64(6)]
        return ((words >> (positions & np.uint64(63))) & np.uint64(1)).astype(bool).all(axis=1)

    def _set(self, positions: np.ndarray) -> None:
        flat = positions.reshape(-1)
        np.bitwise_or.at(self.bits, flat >> np.uint64(6), np.uint64(1) << (flat & np.uint64(63)))

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        if len(hashes) == 0:
            return np.zeros(0, dtype=bool)
        return self._test(self._positions(hashes))

    def add(self, hashes: np.ndarray) -> None:
        if len(hashes):
            self._set(self._positions(hashes))
            self.inserted += len(hashes)

    def check_and_add(self, hashes: np.ndarray) -> np.ndarray:
        if len(hashes) == 0:
            return np.zeros(0, dtype=bool)
        is_first = _first_occurrence(hashes)
        positions = self._positions(hashes)
        seen = self._test(positions)
        seen |= ~is_first
        new_rows = is_first & ~seen
        self._set(positions[new_rows])
        self.inserted += int(new_rows.sum())
        return seen

    def estimated_fp_rate(self) -> float:
        """FP rate expected at the current fill, (1 - e^{-kn/m})^k."""
        k, m = self.num_hashes, self.num_bits
        return (1.0 - math.exp(-k * self.inserted / m)) ** k


class ExactSet:
    """Exact seen-set of 128-bit hashes (Python set). No false positives; memory grows with lines."""

    def __init__(self) -> None:
        self._seen: set[tuple[int, int]] = set()

    @property
    def inserted(self) -> int:
        return len(self._seen)

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        return np.fromiter(((int(a), int(b)) in self._seen for a, b in hashes), dtype=bool, count=len(hashes))

    def add(self, hashes: np.ndarray) -> None:
        self._seen.update((int(a), int(b)) for a, b in hashes)

    def check_and_add(self, hashes: np.ndarray) -> np.ndarray:
        out = np.zeros(len(hashes), dtype=bool)
        seen = self._seen
        for i, (a, b) in enumerate(hashes.tolist()):
            key = (a, b)
            if key in seen:
                out[i] = True
            else:
                seen.add(key)
        return out
