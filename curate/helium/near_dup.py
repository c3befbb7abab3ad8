"""Near-duplicate line rule by document spread: the dedup classifier's label rule, applied at run time.

The label rule of the dedup-classifier recipe (`curate.helium.fuzzy`, rule `fold`) gives every line
near-duplicate *keys* of its folded words (digits, punctuation, case removed): `f:` the whole line,
`m:` the line with one word masked (3-12 words), `b:` its word set (>= 3 words). This module adds
keys for what those miss (`NearDupKeys`, each kept only because the valid shards of
`curate eval dedup` showed it helps):

- `e:` *echo*: a breadcrumb or footer filled with the page's title ("Home > News > <title>",
  "Posted in News: <title>") repeats a run of >= 3 words of another line of the same page. With
  that run masked, the line is the same on every page of the site (`echo_masked`); with one more
  word masked too, also when a middle item changes ("Home > <any> > <title>").
- `m:` for 2-word lines ("No comments" / "No events"), either word masked.
- `p:` the first 4 words of list-shaped lines of 5-30 words (`is_list_line`: one separator used
  twice, "Home | News | Sport"): a menu cut short keeps its head. Only lists: titles and prose
  that merely start alike ("How to make a ...") would share it on a large host.
- `s:` the digit shape of lines without letters ("12.03.2019" -> "00.00.0000"): dates and counters
  whose folded text is empty.
- A line whose folded text has < 2 characters ("X:1", "M:2/4" of ABC music: a lone letter) has no
  key: it says nothing about which line it was.

The *spread* of a key is the number of distinct documents holding it, counted per shard and, in
the pipeline, per host within the shard (`host_of`: boilerplate is a site's own; a quote or a code
block on pages of other sites is not counted with it). A line's spread is the largest spread of
its keys, and the rule is:

    remove every non-blank line whose spread >= min_spread   (DEFAULT_MIN_SPREAD pages)

Deterministic, no model, two passes per shard: `KeySpread.observe` every document of the shard
(the shard reader's first pass, as exact `drop-all`), then `KeySpread.line_spread` per document.
Unlike exact keep-first it also removes the *first* copy of a frequent line. Content repeated on a
few pages of one site stays below the threshold.

Memory: 12 bytes per distinct (host, key) while observing (about 15-40 keys per distinct line);
`freeze(min_spread)` keeps only the keys that can remove a line. A host with fewer than
`min_spread` pages in the shard never has a line removed by this rule.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np
import xxhash

from curate.helium.fuzzy import MASK_MAX, fold_tokens_batch, keys_of_tokens, model_texts

DEFAULT_MIN_SPREAD = 4  # pages of one host in the shard; chosen on the valid shards (docs/dedup-eval.md)
PREFIX_WORDS = 4
ECHO_WORDS = 3  # a run of >= 3 words shared with another line of the document is an echo (a title)
MIN_KEY_CHARS = 2
ECHO_SOURCES = 4
ECHO_MAX_WORDS = 30  # lines longer than this get no echo key
ECHO_MIN_WORDS = 2  # an echo key keeps at least this many words of its line
MASK = "\x00"
_LIST_SEPARATOR = re.compile(r"(?<=\S)\s+(\||·|/|»|>|›|•|–|-|::)\s+(?=\S)")


def is_list_line(line: str) -> bool:
    """A menu / breadcrumb shape: one separator (| · / » > › • – - ::) used at least twice between
    items ("Home | News | Sport"). Titles and prose that merely start alike are not lists."""
    counts: dict[str, int] = {}
    for sep in _LIST_SEPARATOR.findall(line):
        counts[sep] = counts.get(sep, 0) + 1
        if counts[sep] >= 2:
            return True
    return False


COMPACT_EVERY = 1 << 20  # pending key hashes before they are merged into the counts


def echo_masked(
    tokens: Sequence[Sequence[str]], n: int = ECHO_WORDS, max_sources: int = ECHO_SOURCES, max_words: int = ECHO_MAX_WORDS
) -> list[list[list[str]]]:
    """Per line, its words with the runs it shares with *one other line* of the document masked.

    A breadcrumb or footer filled with the page's title ("Home > News > <title>", "Posted in News:
    <title>") echoes words of another line of the same page (its title, its first sentence). For
    each other line j (the first `max_sources` in document order) sharing an n-gram with line i,
    line i's words covered by n-grams shared with j become one mask word per run; a masking that
    covers no word or every word is not used. Masked, the title-filled line is the same on every
    page of the site."""
    owners: dict[tuple[str, ...], list[int]] = {}
    for i, toks in enumerate(tokens):
        for j in range(len(toks) - n + 1):
            lines = owners.setdefault(tuple(toks[j : j + n]), [])
            if not lines or lines[-1] != i:
                lines.append(i)
    out: list[list[list[str]]] = []
    for i, toks in enumerate(tokens):
        if len(toks) > max_words:  # prose: not a title-filled chrome line (and the costly case)
            out.append([])
            continue
        covered: dict[int, list[bool]] = {}
        for j in range(len(toks) - n + 1):
            for other in owners[tuple(toks[j : j + n])]:
                if other != i:
                    cov = covered.setdefault(other, [False] * len(toks))
                    cov[j : j + n] = [True] * n
        variants: list[list[str]] = []
        for other in sorted(covered)[:max_sources]:
            cov = covered[other]
            if all(cov):
                continue
            masked: list[str] = []
            for word, c in zip(toks, cov):
                if not c:
                    masked.append(word)
                elif not masked or masked[-1] != MASK:
                    masked.append(MASK)
            if masked not in variants:
                variants.append(masked)
        out.append(variants)
    return out


@dataclass(frozen=True)
class NearDupKeys:
    """Which keys a line gets besides the label rule's `f:` / `m:` / `b:` (`document_keys`).

    The defaults are the set chosen on the valid shards by `curate eval dedup` (docs/dedup-eval.md)."""

    echo: bool = True  # `e:` the line with the words it echoes from another line masked (title fills)
    echo_words: bool = True  # `e:` the same with one more word masked ("Home > <any> > <title>")
    pair: bool = True  # `m:` for 2-word lines: either word masked ("No comments" / "No events")
    prefix: int = 30  # `p:` first PREFIX_WORDS words of lines of PREFIX_WORDS+1..prefix words; 0 = off
    prefix_any: bool = False  # `p:` for any line, not only list-shaped ones (titles and prose share openings)
    shape: bool = True  # `s:` lines without letters: their digit shape ("12.03.2019" -> "00.00.0000")
    min_chars: int = MIN_KEY_CHARS  # a folded line shorter than this has no f/m/b/e/p key ("X:1" -> "x")

    def name(self) -> str:
        parts = ["fold"] + [k for k in ("echo", "echo_words", "pair", "shape") if getattr(self, k)]
        if self.prefix:
            parts.append(f"prefix{self.prefix}" + ("any" if self.prefix_any else ""))
        return "+".join(parts)


FOLD_KEYS = NearDupKeys(echo=False, echo_words=False, pair=False, prefix=0, shape=False)


def document_keys(lines: Sequence[str], keys: NearDupKeys = NearDupKeys()) -> list[list[str]]:
    """Near-duplicate keys of every line of one document ([] for lines without keys)."""
    tokens = fold_tokens_batch(lines)
    shapes = model_texts([line.replace("\n", " ") for line in lines]) if keys.shape else []
    echoes = echo_masked(tokens) if keys.echo else [[] for _ in tokens]
    out = []
    for i, (toks, variants) in enumerate(zip(tokens, echoes)):
        if sum(map(len, toks)) + len(toks) - 1 < keys.min_chars:
            shape = shapes[i] if shapes else ""
            letterless = shape and any(c.isdigit() for c in shape) and not any(c.isalpha() for c in shape)
            out.append(["s:" + shape] if letterless else [])
            continue
        line_keys = keys_of_tokens(toks)
        if keys.pair and len(toks) == 2 and all(len(w) > 1 for w in toks):
            line_keys += [f"m:{MASK} {toks[1]}", f"m:{toks[0]} {MASK}"]
        for variant in variants:
            words = len(variant) - variant.count(MASK)
            if words < ECHO_MIN_WORDS:
                continue
            line_keys.append("e:" + " ".join(variant))
            if keys.echo_words and words > ECHO_MIN_WORDS and len(variant) <= MASK_MAX:
                line_keys.extend(
                    "e:" + " ".join(variant[:k] + [MASK] + variant[k + 1 :]) for k in range(len(variant)) if variant[k] != MASK
                )
        if PREFIX_WORDS < len(toks) <= keys.prefix and (keys.prefix_any or is_list_line(lines[i])):
            line_keys.append("p:" + " ".join(toks[:PREFIX_WORDS]))
        out.append(line_keys)
    return out


def hash_keys(keys: Sequence[str], group: str = "") -> np.ndarray:
    """uint64 hash of each key within `group` (xxh3, seed 0: the same in every process)."""
    if group:
        keys = [f"{group}\x01{k}" for k in keys]
    return np.fromiter((xxhash.xxh3_64_intdigest(k) for k in keys), dtype=np.uint64, count=len(keys))


class KeySpread:
    """Document spread of near-duplicate keys over one shard. `observe` every document (in any order:
    counts do not depend on it), then `line_spread` per document. Never shared across shards."""

    def __init__(self, keys: NearDupKeys = NearDupKeys()) -> None:
        self.keys = keys
        self._keys = np.zeros(0, dtype=np.uint64)  # sorted
        self._counts = np.zeros(0, dtype=np.uint32)
        self._pending: list[np.ndarray] = []
        self._pending_n = 0
        self.documents = 0

    def _doc_hashes(self, lines: Sequence[str], group: str) -> list[np.ndarray]:
        return [hash_keys(k, group) for k in document_keys(lines, self.keys)]

    def observe(self, lines: Sequence[str], group: str = "") -> None:
        """Count each key of this document once (within `group`, e.g. the document's host)."""
        per_line = self._doc_hashes(lines, group)
        hashes = np.unique(np.concatenate(per_line)) if per_line else np.zeros(0, np.uint64)
        self.documents += 1
        if hashes.size:
            self._pending.append(hashes)
            self._pending_n += hashes.size
            if self._pending_n >= COMPACT_EVERY:
                self._compact()

    def _compact(self) -> None:
        if not self._pending:
            return
        new, new_counts = np.unique(np.concatenate(self._pending), return_counts=True)
        keys = np.concatenate([self._keys, new])
        counts = np.concatenate([self._counts, new_counts.astype(np.uint32)])
        order = np.argsort(keys, kind="stable")
        keys, counts = keys[order], counts[order]
        uniq, start = np.unique(keys, return_index=True)
        self._keys = uniq
        self._counts = np.add.reduceat(counts, start).astype(np.uint32) if keys.size else counts
        self._pending, self._pending_n = [], 0

    def freeze(self, min_spread: int = 1) -> None:
        """End of the observe pass; keep only the keys of spread >= min_spread (memory)."""
        self._compact()
        if min_spread > 1:
            keep = self._counts >= min_spread
            self._keys, self._counts = self._keys[keep], self._counts[keep]

    def spread_of(self, hashes: np.ndarray) -> np.ndarray:
        """Counted spread of each key hash (0 when unseen or dropped by `freeze`)."""
        if self._pending:
            self._compact()
        out = np.zeros(hashes.shape[0], dtype=np.int64)
        if not self._keys.size or not hashes.size:
            return out
        pos = np.minimum(np.searchsorted(self._keys, hashes), self._keys.size - 1)
        hit = self._keys[pos] == hashes
        out[hit] = self._counts[pos[hit]]
        return out

    def line_spread(self, lines: Sequence[str], group: str = "") -> np.ndarray:
        """int64[n]: each line's spread (largest spread of its keys; 0 for lines without keys)."""
        per_line = self._doc_hashes(lines, group)
        out = np.zeros(len(lines), dtype=np.int64)
        sizes = np.fromiter((h.size for h in per_line), dtype=np.int64, count=len(per_line))
        if not sizes.any():
            return out
        spreads = self.spread_of(np.concatenate(per_line))
        has = sizes > 0
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))[has]
        out[has] = np.maximum.reduceat(spreads, starts)
        return out


def spread_mask(spread: np.ndarray, min_spread: int = DEFAULT_MIN_SPREAD) -> np.ndarray:
    """Lines to remove: spread >= min_spread (min_spread >= 2; a line in one document is never removed)."""
    if min_spread < 2:
        raise ValueError("min_spread must be >= 2 (0 switches the rule off)")
    return np.asarray(spread) >= min_spread


def host_of(url: str) -> str:
    """The spread group of a document: its URL's host, lowercased, without a leading "www."."""
    host = (urlsplit(url).hostname or "") if url else ""
    return host[4:] if host.startswith("www.") else host
