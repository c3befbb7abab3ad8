"""Line hashing: xxh3-128 of the normalized line's UTF-8 bytes.

The 128-bit digest is split into two 64-bit halves: `exact` dedup keys on both halves (collision
odds ~2^-128, i.e. no false positives in practice), the bloom filter derives its k probe positions
from them by double hashing (Kirsch & Mitzenmacher), so every line is hashed exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import xxhash

from curate.helium.normalize import normalize_lines

_MASK64 = (1 << 64) - 1


def line_hash(normalized: str) -> int:
    """128-bit hash of an already-normalized line (as a Python int)."""
    return xxhash.xxh3_128_intdigest(normalized.encode("utf-8", "surrogatepass"))


def hash_lines(lines: Sequence[str], normalize: Callable[[str], str]) -> tuple[np.ndarray, np.ndarray]:
    """Hash every line; returns (hashes as uint64[n, 2], blank mask bool[n]).

    A line that normalizes to the empty string is *blank*: it is never a duplicate (its hash is 0).
    """
    digest = xxhash.xxh3_128_intdigest
    normalized = normalize_lines(lines, normalize)
    n = len(normalized)
    blank = np.fromiter((not text for text in normalized), dtype=bool, count=n)
    digests = [digest(text.encode("utf-8", "surrogatepass")) if text else 0 for text in normalized]
    hashes = np.empty((n, 2), dtype=np.uint64)
    hashes[:, 0] = np.fromiter((h & _MASK64 for h in digests), dtype=np.uint64, count=n)
    hashes[:, 1] = np.fromiter((h >> 64 for h in digests), dtype=np.uint64, count=n)
    return hashes, blank
