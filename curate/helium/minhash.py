"""MinHash document dedup: the pure rules (normalisation, shingles, signatures, bands, buckets,
connected components). Everything here is vectorised numpy over whole batches of documents; the
only per-word Python work is splitting words and hashing each one with xxh3.

Pipeline of one batch of texts (`document_band_keys`):

1. normalise: NFKD, lowercase, combining marks (accents) dropped, every digit -> 0, words = runs of
   letters and digits (punctuation, `_` and whitespace separate words);
2. shingles: word n-grams (5); a document with fewer words than n is one shingle of all its words;
   a document without words has no signature and is never a duplicate;
3. signature: `num_perm` (112) minima of the affine permutations `a_k * x + b_k mod 2**32` of the
   shingle hashes folded to 32 bits (`a_k` odd, so each is a bijection), parameters drawn from
   `seed` (32-bit arithmetic: twice the speed of 64-bit, and the estimate error measured in the
   evaluation stays that of 112 samples);
4. bands: `bands` (14) keys per document, each the 64-bit hash of its `rows` (8) minima and the
   band number, so keys of different bands never meet.

Two documents are candidates when they share a band key; the probability for Jaccard similarity s
is 1 - (1 - s**rows)**bands: for 14 x 8 (FineWeb's parameters) 0.5 at s = 0.685, 0.65 at the usually
quoted threshold (1/14)**(1/8) = 0.72, 0.924 at 0.8 and > 0.9999997 from 0.95. Duplicates are the
connected components of the candidate graph; the survivor of a component is its smallest node
(the earliest document in shard order, when nodes are global document numbers in that order).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xxhash

U64 = np.uint64
_M1 = U64(0xFF51AFD7ED558CCD)
_M2 = U64(0xC4CEB9FE1A85EC53)
_S33 = U64(33)
# odd multipliers that combine the word hashes of a shingle and the minima of a band
_COMBINE = np.array(
    [
        0x9E3779B97F4A7C15,
        0xC2B2AE3D27D4EB4F,
        0x165667B19E3779F9,
        0xD6E8FEB86659FD93,
        0xFF51AFD7ED558CCD,
        0xC4CEB9FE1A85EC53,
        0x94D049BB133111EB,
        0xBF58476D1CE4E5B9,
    ],
    dtype=U64,
)


def multipliers(k: int) -> np.ndarray:
    """k odd 64-bit multipliers: the 8 above, then more derived from them (any n-gram or band size)."""
    if k <= len(_COMBINE):
        return _COMBINE[:k]
    extra = fmix64(np.arange(1, k - len(_COMBINE) + 1, dtype=U64) * _COMBINE[0]) | U64(1)
    return np.concatenate([_COMBINE, extra])


_DIGITS = re.compile(r"\d")
_WORDS = re.compile(r"[^\W_]+")
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")


@dataclass(frozen=True)
class MinhashParams:
    """FineWeb's parameters by default: 5-grams, 14 bands of 8 = 112 permutations."""

    n_grams: int = 5
    bands: int = 14
    rows: int = 8
    seed: int = 1

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows

    def validate(self) -> None:
        if self.n_grams < 1 or self.bands < 1 or self.rows < 1:
            raise ValueError("minhash n_grams, bands and rows must be >= 1")

    def candidate_probability(self, similarity: float) -> float:
        """Probability that two documents of this Jaccard similarity share at least one band."""
        return 1.0 - (1.0 - similarity**self.rows) ** self.bands


def fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser, elementwise (a bijection that mixes every bit)."""
    x = np.asarray(x, dtype=U64).copy()
    x ^= x >> _S33
    x *= _M1
    x ^= x >> _S33
    x *= _M2
    x ^= x >> _S33
    return x


def _ascii_table() -> bytes:
    table = bytearray(b" " * 256)
    for code in range(256):
        char = chr(code)
        if code >= 128:
            table[code] = code  # a byte of a non-ASCII character: handled per word below
        elif char.isdigit():
            table[code] = ord("0")
        elif char.isalnum():
            table[code] = ord(char.lower())
    return bytes(table)


_ASCII = _ascii_table()


def _normalize_word(word: str) -> list[str]:
    """The exact rule, on a word that holds non-ASCII characters."""
    return _WORDS.findall(_DIGITS.sub("0", _COMBINING.sub("", word)))


def normalize_words_reference(text: str) -> list[str]:
    """The normalisation rule, written plainly: NFKD, lowercase, combining marks dropped, every
    digit -> 0, words = runs of letters and digits (anything else separates words)."""
    return _normalize_word(unicodedata.normalize("NFKD", text).lower())


def normalize_words(text: str) -> list[str | bytes]:
    """The words of a text after MinHash normalisation, identical to `normalize_words_reference`
    (words as bytes where they are ASCII; both hash the same). ASCII is handled by one
    `bytes.translate` and a split; only words holding other characters take the slow path."""
    if text.isascii():
        return text.encode().translate(_ASCII).split()  # type: ignore[return-value]
    text = unicodedata.normalize("NFKD", text).lower()
    out: list[str | bytes] = []
    for word in text.encode("utf-8", "surrogatepass").translate(_ASCII).split():
        if word.isascii():
            out.append(word)
        else:
            out.extend(_normalize_word(word.decode("utf-8", "surrogatepass")))
    return out


def word_hashes(words: Sequence[str | bytes], seed: int = 0) -> np.ndarray:
    """xxh3-64 of each word (UTF-8), as uint64."""
    if seed:
        return np.fromiter((xxhash.xxh3_64_intdigest(w, seed) for w in words), dtype=U64, count=len(words))
    return np.array(list(map(xxhash.xxh3_64_intdigest, words)), dtype=U64)


def shingle_hashes(hashes: np.ndarray, n: int) -> np.ndarray:
    """64-bit hashes of the word n-grams of one document, given its word hashes (order-sensitive).
    Fewer than n words: one shingle of all of them; no words: no shingles."""
    m = len(hashes)
    if m == 0:
        return np.zeros(0, dtype=U64)
    k = min(n, m)
    count = m - k + 1
    mult = multipliers(k)
    acc = hashes[:count] * mult[0]
    for j in range(1, k):
        acc += hashes[j : j + count] * mult[j]
    acc += U64(k)  # n-grams of different lengths never collide by construction
    return fmix64(acc)


def permutations(params: MinhashParams) -> tuple[np.ndarray, np.ndarray]:
    """(a, b), uint32 of length num_perm, a odd: permutation k maps x to a[k] * x + b[k] mod 2**32."""
    rng = np.random.Generator(np.random.PCG64(params.seed))
    a = rng.integers(0, 2**32, size=params.num_perm, dtype=np.uint32) | np.uint32(1)
    b = rng.integers(0, 2**32, size=params.num_perm, dtype=np.uint32)
    return a, b


def fold32(hashes: np.ndarray) -> np.ndarray:
    """64-bit shingle hashes folded to 32 bits (high half xor low half)."""
    return ((hashes >> U64(32)) ^ hashes).astype(np.uint32)


def signatures(shingles: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray, block: int = 4096) -> np.ndarray:
    """MinHash signatures of several documents at once.

    `shingles` (uint32) holds the shingle hashes of all documents back to back, document i owning
    `shingles[offsets[i]:offsets[i+1]]` (every document must own at least one). Returns
    (documents, num_perm) uint32. Blocks of whole documents of about `block` shingles are permuted
    as a (num_perm, block) matrix whose rows are contiguous, then reduced per document.
    """
    n_docs = len(offsets) - 1
    out = np.empty((n_docs, len(a)), dtype=np.uint32)
    starts = offsets[:-1]
    doc = 0
    while doc < n_docs:
        end = max(int(np.searchsorted(offsets, offsets[doc] + block, side="right")) - 1, doc + 1)
        lo, hi = int(offsets[doc]), int(offsets[end])
        values = a[:, None] * shingles[None, lo:hi]
        values += b[:, None]
        out[doc:end] = np.minimum.reduceat(values, starts[doc:end] - lo, axis=1).T
        doc = end
    return out


def band_keys(sigs: np.ndarray, params: MinhashParams) -> np.ndarray:
    """(documents, bands) uint64: the hash of each band's `rows` minima and of the band number."""
    n = len(sigs)
    grouped = sigs.reshape(n, params.bands, params.rows).astype(U64)
    acc = np.zeros((n, params.bands), dtype=U64)
    mult = multipliers(params.rows)
    for j in range(params.rows):
        acc += fmix64(grouped[:, :, j]) * mult[j]
    acc += np.arange(params.bands, dtype=U64)[None, :] * U64(0x9E3779B97F4A7C15)
    return fmix64(acc)


def document_band_keys(texts: Sequence[str], params: MinhashParams) -> tuple[np.ndarray, np.ndarray]:
    """Band keys of the texts that have words: (rows, keys) with `rows` the indices into `texts`
    (int64) and `keys` (len(rows), bands) uint64."""
    a, b = permutations(params)
    parts: list[np.ndarray] = []
    rows: list[int] = []
    lengths: list[int] = []
    for i, text in enumerate(texts):
        sh = shingle_hashes(word_hashes(normalize_words(text)), params.n_grams)
        if len(sh):
            parts.append(sh)
            rows.append(i)
            lengths.append(len(sh))
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros((0, params.bands), dtype=U64)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    sigs = signatures(fold32(np.concatenate(parts)), offsets, a, b)
    return np.asarray(rows, dtype=np.int64), band_keys(sigs, params)


def shingle_set(text: str, n: int) -> set[tuple[str, ...]]:
    """The exact shingles of a text (for evaluation against exact Jaccard, not used by the stage)."""
    words = normalize_words_reference(text)
    if not words:
        return set()
    k = min(n, len(words))
    return {tuple(words[i : i + k]) for i in range(len(words) - k + 1)}


def jaccard(x: set, y: set) -> float:
    if not x and not y:
        return 0.0
    return len(x & y) / len(x | y)


# -- buckets and clusters ---------------------------------------------------------------------


def bucket_edges(keys: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges of the candidate graph from (band key, node) entries: within every group of equal
    keys, an edge from the group's smallest node to each other node. Deterministic whatever the
    input order (entries are sorted by key, then node). Returns (u, v) uint64 with u < v,
    sorted, without repeats."""
    if len(keys) == 0:
        return np.zeros(0, dtype=U64), np.zeros(0, dtype=U64)
    order = np.lexsort((nodes, keys))
    k, n = keys[order], nodes[order]
    new_group = np.empty(len(k), dtype=bool)
    new_group[0] = True
    np.not_equal(k[1:], k[:-1], out=new_group[1:])
    first = np.maximum.accumulate(np.where(new_group, np.arange(len(k)), 0))
    head = n[first]
    mask = ~new_group & (n != head)
    u, v = head[mask], n[mask]
    if len(u) == 0:
        return u, v
    pairs = np.unique(np.stack([u, v], axis=1), axis=0)
    return pairs[:, 0].copy(), pairs[:, 1].copy()


def connected_components(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union-find over the edges (u[i], v[i]), vectorised (hooking to the smaller root, then
    pointer jumping, until stable). Returns (nodes, labels): every node that appears in an edge,
    sorted, and the smallest node of its component."""
    if len(u) == 0:
        empty = np.zeros(0, dtype=U64)
        return empty, empty.copy()
    nodes, inverse = np.unique(np.concatenate([u, v]), return_inverse=True)
    iu, iv = inverse[: len(u)], inverse[len(u) :]
    parent = np.arange(len(nodes), dtype=np.int64)  # indices into `nodes`, which is sorted: min index = min node
    while True:
        pu, pv = parent[iu], parent[iv]
        lo = np.minimum(pu, pv)
        hi = np.maximum(pu, pv)
        changed = lo != hi
        if not changed.any():
            break
        np.minimum.at(parent, hi[changed], lo[changed])  # hook each larger root under the smaller one
        while True:  # pointer jumping: every node points at its root
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand
    return nodes, nodes[parent]


def cluster_sizes(labels: np.ndarray) -> np.ndarray:
    """Size of each node's component, aligned with `labels`."""
    if len(labels) == 0:
        return np.zeros(0, dtype=np.int64)
    uniq, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    return counts[inverse].astype(np.int64)


def union_find_reference(edges: Sequence[tuple[int, int]]) -> dict[int, int]:
    """Plain union-find (path halving, union by smaller root): node -> smallest node of its
    component. The reference the vectorised version is tested against."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in parent}
