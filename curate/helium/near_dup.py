"""Near-duplicate line rule by document spread: the dedup classifier's label rule, applied at run time.

The label rule of the dedup-classifier recipe (`curate.helium.fuzzy`, rule `fold`) gives every line
near-duplicate *keys* of its folded words (digits, punctuation, case removed): `f:` the whole line,
`m:` the line with one word masked (3-12 words), `b:` its word set (>= 3 words). This module adds
keys for what those miss (`NearDupKeys`, each kept only because the valid shards of
`curate eval dedup` showed it helps):

- `l:` *list shape*: a list-shaped line (`list_segments`: one separator among `| · / » > › • – - ::`
  used twice, "Home | News | Sport") of <= 30 words: its first segment, the separator and the
  number of segments. A breadcrumb filled with a section and the page title ("News / <section> /
  <title>", "Начало - <item> - <title>") keeps its head and shape on every page of the site.
- `e:` *echo*: a line of <= 30 words whose tail (>= 2 words) is the start of another line of the
  same page (the title, the first sentence): the line's head with the tail masked ("Posted in News:
  <title>", "Skip to content: <title>").
- `m:` for 2-word lines ("No comments" / "No events"), either word masked.
- `p:` the first 4 words of list-shaped lines of 5-30 words: a menu cut short keeps its head. Only
  lists: titles and prose that merely start alike ("How to make a ...") would share it on a large host.
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

`document_keys` spells the keys out as strings (the definition, used by the tests);
`document_key_hashes` computes the same keys as 64-bit hashes for a batch of documents with numpy
(the folded text of the batch is hashed once, polynomially, so the hash of any span of words is
O(1); a masked word is a position-salted sum), which is what `KeySpread` counts. The observe pass
keeps each document's key hashes (`keep_bytes`); `freeze` turns them, in one lookup, into each kept
document's line spreads, so the second pass only reads them. The echo key only hashes the tails
whose first word starts a line of the same document, and the heads of those lines.

Memory: 12 bytes per distinct (host, key) while observing (about 5-20 keys per line), plus the
kept per-document hashes (12 bytes per key, up to `keep_bytes`; beyond it keys are recomputed;
after `freeze`, 16 bytes per line with a key); `freeze(min_spread)` keeps only the keys that can
remove a line. A host with fewer than
`min_spread` pages in the shard never has a line removed by this rule.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np
import xxhash

from curate.helium.fuzzy import MASK_MAX, fold_tokens_batch, keys_of_tokens, model_texts

DEFAULT_MIN_SPREAD = 4  # pages of one host in the shard; chosen on the valid shards (docs/dedup-eval.md)
PREFIX_WORDS = 4
MIN_KEY_CHARS = 2
LONG_CHARS = 400  # a longer line is prose: one key (`long_key`), and its first LONG_HEAD characters for echoes
LONG_HEAD = 200
LIST_MAX_WORDS = 30  # list-shape, echo and word-set keys: lines of at most this many words (chrome, not prose)
ECHO_MIN_WORDS = 2  # an echoed tail has at least 2 words ...
ECHO_MAX_WORDS = 12  # ... and at most 12 (the start of the other line it repeats)
MASK = "\x00"
_LIST_SEPARATOR = re.compile(r"(?<=\S)[^\S\n]+(\||·|/|»|>|›|•|–|-|::)[^\S\n]+(?=\S)")
_SEPARATORS = {sep: i for i, sep in enumerate(("|", "·", "/", "»", ">", "›", "•", "–", "-", "::"))}


def _separator_counts(line: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for sep in _LIST_SEPARATOR.findall(line):
        counts[sep] = counts.get(sep, 0) + 1
    return counts


def is_list_line(line: str) -> bool:
    """A menu / breadcrumb shape: one separator (| · / » > › • – - ::) used at least twice between
    items ("Home | News | Sport"). Titles and prose that merely start alike are not lists."""
    return any(c >= 2 for c in _separator_counts(line).values())


def list_segments(line: str) -> tuple[str, list[str]] | None:
    """(separator, segments) of a list-shaped line (`is_list_line`; the most used separator, the first
    in sort order on a tie), None for other lines."""
    counts = _separator_counts(line)
    if not counts or max(counts.values()) < 2:
        return None
    sep = max(sorted(counts), key=lambda k: counts[k])
    return sep, re.split(r"(?<=\S)[^\S\n]+" + re.escape(sep) + r"[^\S\n]+(?=\S)", line)


def list_key(line: str, min_chars: int = MIN_KEY_CHARS) -> str | None:
    """The `l:` key of a list-shaped line: folded first segment, separator, number of segments."""
    seg = list_segments(line)
    if seg is None:
        return None
    first = " ".join(fold_tokens_batch([seg[1][0]])[0])
    return f"l:{first}\x01{seg[0]}\x01{len(seg[1])}" if len(first) >= min_chars else None


COMPACT_EVERY = 1 << 20  # pending key hashes before they are merged into the counts


@dataclass(frozen=True)
class NearDupKeys:
    """Which keys a line gets besides the label rule's `f:` / `m:` / `b:` (`document_keys`).

    The defaults are the set chosen on the valid shards by `curate eval dedup` (docs/dedup-eval.md)."""

    segments: int = LIST_MAX_WORDS  # `l:` list-shaped lines of <= this many words: first segment + shape; 0 = off
    echo: int = LIST_MAX_WORDS  # `e:` lines of <= this many words whose tail starts another line: the head; 0 = off
    pair: bool = True  # `m:` for 2-word lines: either word masked ("No comments" / "No events")
    prefix: int = LIST_MAX_WORDS  # `p:` first PREFIX_WORDS words of list lines of PREFIX_WORDS+1..prefix words; 0 = off
    shape: bool = True  # `s:` lines without letters: their digit shape ("12.03.2019" -> "00.00.0000")
    min_chars: int = MIN_KEY_CHARS  # a folded line shorter than this has no f/m/b/l/e/p key ("X:1" -> "x")

    def name(self) -> str:
        parts = ["fold"] + [k for k in ("pair", "shape") if getattr(self, k)]
        parts += [f"{k}{getattr(self, k)}" for k in ("segments", "echo", "prefix") if getattr(self, k)]
        return "+".join(parts)


FOLD_KEYS = NearDupKeys(segments=0, echo=0, pair=False, prefix=0, shape=False)


def _shape_key(line: str) -> str | None:
    shape = model_texts([line.replace("\n", " ")])[0]
    letterless = shape and any(c.isdigit() for c in shape) and not any(c.isalpha() for c in shape)
    return "s:" + shape if letterless else None


def long_key(line: str) -> str | None:
    """The only key of a long line (> LONG_CHARS characters): `F:` the line without surrounding whitespace."""
    text = line.strip()
    return "F:" + text if text else None


def document_keys(lines: Sequence[str], keys: NearDupKeys = NearDupKeys()) -> list[list[str]]:
    """Near-duplicate keys of every line of one document, as strings ([] for lines without keys).

    The definition of the keys; `document_key_hashes` computes the same keys, hashed, in batches."""
    long = [len(line) > LONG_CHARS for line in lines]
    tokens = fold_tokens_batch([line[:LONG_HEAD] if lg else line for line, lg in zip(lines, long)])
    tokens = [toks[:-1] if lg else toks for toks, lg in zip(tokens, long)]  # a long line: its first words
    heads: dict[tuple[str, ...], set[int]] = {}  # the first 2..12 words of each line -> lines
    if keys.echo:
        for j, toks in enumerate(tokens):
            for k in range(ECHO_MIN_WORDS, min(len(toks), ECHO_MAX_WORDS) + 1):
                heads.setdefault(tuple(toks[:k]), set()).add(j)
    out = []
    for i, toks in enumerate(tokens):
        if long[i]:  # prose: one cheap key, the stripped line
            text = long_key(lines[i])
            out.append([text] if text else [])
            continue
        if sum(map(len, toks)) + len(toks) - 1 < keys.min_chars:
            shape = _shape_key(lines[i]) if keys.shape and lines[i].strip() else None
            out.append([shape] if shape else [])
            continue
        n = len(toks)
        line_keys = keys_of_tokens(toks)
        if n > LIST_MAX_WORDS:  # prose: the whole line only (a word set of a paragraph is not a menu)
            line_keys = [k for k in line_keys if not k.startswith("b:")]
        if keys.pair and n == 2 and all(len(w) > 1 for w in toks):
            line_keys += [f"m:{MASK} {toks[1]}", f"m:{toks[0]} {MASK}"]
        if keys.segments and n <= keys.segments:
            key = list_key(lines[i], keys.min_chars)
            if key:
                line_keys.append(key)
        if keys.echo and n <= keys.echo:
            for k in range(1, n - ECHO_MIN_WORDS + 1):  # the longest echoed tail
                if heads.get(tuple(toks[k:]), {i}) - {i}:
                    head = " ".join(toks[:k])
                    if len(head) >= keys.min_chars:
                        line_keys.append(f"e:{head} {MASK}")
                    break
        if PREFIX_WORDS < n <= keys.prefix and is_list_line(lines[i]):
            line_keys.append("p:" + " ".join(toks[:PREFIX_WORDS]))
        out.append(line_keys)
    return out


# ---------------------------------------------------------------------------------------------
# the same keys as 64-bit hashes, for a batch of documents at once

_U64 = np.uint64
_P = 0x100000001B3 * 2 + 1  # odd multiplier of the polynomial span hash (mod 2**64)
_P_INV = pow(_P, -1, 1 << 64)
_K_LEN, _K_POS, _K_N, _K_DOC = (_U64(x) for x in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93))
_TAG = {k: _U64(xxhash.xxh3_64_intdigest(k)) for k in ("f", "m", "b", "p", "e", "mask")}
_powers: dict[str, np.ndarray] = {"p": np.ones(1, np.uint64), "i": np.ones(1, np.uint64)}


@functools.cache
def _word_table() -> np.ndarray:
    """bool per code point: part of a folded word (`fold_tokens`: a regex word character, less ASCII
    digits and "_")."""
    every = np.arange(sys.maxunicode + 1, dtype=np.uint32)
    every[0xD800:0xE000] = 0  # lone surrogates: not words (and not encodable on their own)
    text = every.tobytes().decode("utf-32-le")
    words = re.sub(r"[^\w]", "\x00", text).encode("utf-32-le")
    table = np.frombuffer(words, dtype=np.uint32) != 0
    table[ord("0") : ord("9") + 1] = False
    table[ord("_")] = False
    return table


@functools.cache
def _space_table() -> np.ndarray:
    """bool per code point: whitespace other than newline (regex `[^\\S\\n]`)."""
    every = np.arange(sys.maxunicode + 1, dtype=np.uint32)
    every[0xD800:0xE000] = 0x41  # lone surrogates: not whitespace
    marked = re.sub(r"[^\S\n]", "\x00", every.tobytes().decode("utf-32-le"))
    table = np.frombuffer(marked.encode("utf-32-le"), dtype=np.uint32) == 0
    table[0] = False
    return table


@functools.cache
def _separator_table() -> np.ndarray:
    table = np.zeros(sys.maxunicode + 1, dtype=bool)
    table[[ord(c) for c in _SEPARATORS if len(c) == 1]] = True
    table[ord(":")] = True  # the first character of "::"
    return table


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer, elementwise on uint64."""
    x = x ^ (x >> _U64(30))
    x = x * _U64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> _U64(27))
    x = x * _U64(0x94D049BB133111EB)
    return x ^ (x >> _U64(31))


def _pow(n: int) -> tuple[np.ndarray, np.ndarray]:
    """P**i and P**-i mod 2**64 for i < n."""
    if _powers["p"].size < n:
        size = max(n, 2 * _powers["p"].size)
        for name, base in (("p", _P), ("i", _P_INV)):
            arr = np.full(size, base, dtype=np.uint64)
            arr[0] = 1
            _powers[name] = np.cumprod(arr, dtype=np.uint64)
    return _powers["p"][:n], _powers["i"][:n]


def _span_hasher(values: np.ndarray):  # noqa: ANN202
    """hash(a, b) of the sequence values[a:b] (uint64, polynomial mod 2**64): the same for equal
    sequences wherever they are, O(1) per span after one cumulative sum."""
    n = values.size
    pw, ipw = _pow(n + 1)
    prefix = np.zeros(n + 1, dtype=np.uint64)
    np.multiply(values, pw[:n], out=prefix[1:], casting="unsafe")
    np.cumsum(prefix[1:], out=prefix[1:])

    def span(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return _mix((prefix[b] - prefix[a]) * ipw[a] + (b - a).astype(np.uint64) * _K_LEN)

    return span


def _str_hashes(texts: Sequence[str]) -> np.ndarray:
    return np.fromiter(
        (xxhash.xxh3_64_intdigest(t.encode("utf-8", "surrogatepass")) for t in texts), dtype=np.uint64, count=len(texts)
    )


def _first_true(group: np.ndarray, mask: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each group (sorted ascending) with a True mask, the value of its first True entry."""
    g, v = group[mask], value[mask]
    keep = np.concatenate(([True], g[1:] != g[:-1])) if g.size else np.zeros(0, bool)
    return g[keep], v[keep]


def document_key_hashes(
    docs: Sequence[Sequence[str]], groups: Sequence[str], keys: NearDupKeys = NearDupKeys()
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per document, (line index int64[k], key hash uint64[k]) of `document_keys`, each key hashed
    within its document's group (host). Equal keys of the same group have equal hashes.

    The batch's lowercased text is read as code points; folded words are the runs of word code
    points (`_word_table`). A word's hash is a polynomial span hash of its code points, a run of
    words' hash a polynomial span hash of the word hashes (so a line's tail and another line's head
    compare in O(1)), a line with one word masked a position-salted sum of its word hashes."""
    counts = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
    lines = [line for d in docs for line in d]
    n_lines = len(lines)
    line_doc = np.repeat(np.arange(len(docs), dtype=np.int64), counts)
    doc_first = np.concatenate(([0], np.cumsum(counts)))
    group_hash = _str_hashes(groups)
    out_line: list[np.ndarray] = []
    out_hash: list[np.ndarray] = []

    def emit(line_idx: np.ndarray, raw: np.ndarray) -> None:
        out_line.append(line_idx.astype(np.int64))
        out_hash.append(_mix(raw ^ group_hash[line_doc[line_idx]]))

    if n_lines:
        is_long = np.fromiter(map(len, lines), dtype=np.int64, count=n_lines) > LONG_CHARS
        view = [x[:LONG_HEAD] if len(x) > LONG_CHARS else x for x in lines] if is_long.any() else lines
        cp = np.frombuffer("\n".join(view).lower().encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        word = _word_table()[cp]
        edge = np.diff(np.concatenate(([False], word, [False])).view(np.int8))
        tok_start, tok_end = np.flatnonzero(edge == 1), np.flatnonzero(edge == -1)
        newlines = np.flatnonzero(cp == 10)
        tok_line = np.searchsorted(newlines, tok_start)
        ntok = np.bincount(tok_line, minlength=n_lines)
        if is_long.any():  # the last word of a cut line may be cut: drop it
            last = (np.cumsum(ntok) - 1)[is_long & (ntok > 0)]
            keep = np.ones(tok_start.size, dtype=bool)
            keep[last] = False
            tok_start, tok_end, tok_line = tok_start[keep], tok_end[keep], tok_line[keep]
            ntok = np.bincount(tok_line, minlength=n_lines)
        first_tok = np.concatenate(([0], np.cumsum(ntok)[:-1]))
        pos = np.arange(tok_start.size) - first_tok[tok_line]
        tok_chars = tok_end - tok_start
        line_chars = np.bincount(tok_line, weights=tok_chars, minlength=n_lines).astype(np.int64) + ntok - 1
        keyed = (line_chars >= keys.min_chars) & ~is_long
        has_tok = ntok > 0
        tok_hash = _span_hasher(cp)(tok_start, tok_end) if tok_start.size else np.zeros(0, np.uint64)
        words = _span_hasher(tok_hash)  # hash of the run of words [a, b) (global word indices)

        # f: the whole folded line
        idx = np.flatnonzero(keyed)
        emit(idx, words(first_tok[idx], first_tok[idx] + ntok[idx]) ^ _TAG["f"])
        # m: one word masked (3-12 words; 2-word lines with words of > 1 character when `pair`)
        salted = _mix(tok_hash + pos.astype(np.uint64) * _K_POS)
        line_sum = np.zeros(n_lines, dtype=np.uint64)
        if tok_start.size:
            line_sum[has_tok] = np.add.reduceat(salted, first_tok[has_tok])
        maskable = keyed & (ntok >= 3) & (ntok <= MASK_MAX)
        if keys.pair:
            long_words = np.bincount(tok_line, weights=tok_chars > 1, minlength=n_lines)
            maskable |= keyed & (ntok == 2) & (long_words == 2)
        t = np.flatnonzero(maskable[tok_line])
        if t.size:
            lt = tok_line[t]
            mask_salt = _mix(_TAG["mask"] + pos[t].astype(np.uint64) * _K_POS)
            emit(lt, line_sum[lt] - salted[t] + mask_salt + ntok[lt].astype(np.uint64) * _K_N + _TAG["m"])
        # b: the word set (>= 3 words)
        t = np.flatnonzero((keyed & (ntok >= 3) & (ntok <= LIST_MAX_WORDS))[tok_line])
        if t.size:  # one sort key: the line in the high bits, the word's hash in the low ones
            shift = _U64(max(int(n_lines).bit_length(), 1))
            order = np.argsort((tok_line[t].astype(np.uint64) << (_U64(64) - shift)) | (tok_hash[t] >> shift))
            lt, ht = tok_line[t][order], tok_hash[t][order]
            new = np.concatenate(([True], (lt[1:] != lt[:-1]) | (ht[1:] != ht[:-1])))
            lt, ht = lt[new], _mix(ht[new] ^ _TAG["b"])
            starts = np.flatnonzero(np.concatenate(([True], lt[1:] != lt[:-1])))
            emit(lt[starts], np.add.reduceat(ht, starts))
        # p: the first 4 words of list lines of 5..prefix words; l: list shape (Python, few lines)
        lists = np.zeros(n_lines, dtype=bool)
        short = max(keys.prefix, keys.segments)
        if short:
            # a list line has >= 2 separators with whitespace on both sides: a cheap numpy test first
            # (only at the few separator code points: one table lookup over the text, then sparse)
            space = _space_table()
            at = np.flatnonzero(_separator_table()[cp])
            at = at[(at >= 1) & (at <= cp.size - 2)]
            colon = cp[at] == 58  # "::" (two characters), the others one
            one, two = at[~colon], at[colon]
            one = one[space[cp[one - 1]] & space[cp[one + 1]]]
            two = two[two <= cp.size - 3]
            two = two[(cp[two + 1] == 58) & space[cp[two - 1]] & space[cp[two + 2]]]
            sep_at = np.sort(np.concatenate((one, two)))
            seps = np.bincount(np.searchsorted(newlines, sep_at), minlength=n_lines)
            cand = np.flatnonzero(keyed & (ntok <= short) & (seps >= 2))
            text = "\n".join([lines[i] for i in cand.tolist()])
            found = [(m.start(), _SEPARATORS[m.group(1)]) for m in _LIST_SEPARATOR.finditer(text)]
            if found:
                ends = np.cumsum(np.fromiter(map(len, [lines[i] for i in cand.tolist()]), np.int64, cand.size) + 1)
                at = np.searchsorted(ends, np.fromiter((f[0] for f in found), np.int64, len(found)), side="right")
                sep = np.fromiter((f[1] for f in found), np.int64, len(found))
                pair, n = np.unique(at * len(_SEPARATORS) + sep, return_counts=True)
                lists[cand[pair[n >= 2] // len(_SEPARATORS)]] = True
        if keys.prefix:
            idx = np.flatnonzero(lists & keyed & (ntok > PREFIX_WORDS) & (ntok <= keys.prefix))
            emit(idx, words(first_tok[idx], first_tok[idx] + PREFIX_WORDS) ^ _TAG["p"])
        extra_idx: list[int] = []
        extra: list[str] = []
        for i in np.flatnonzero(is_long).tolist():
            key = long_key(lines[i])
            if key:
                extra_idx.append(i)
                extra.append(key)
        if keys.segments:
            for i in np.flatnonzero(lists & keyed & (ntok <= keys.segments)).tolist():
                key = list_key(lines[i], keys.min_chars)
                if key:
                    extra_idx.append(i)
                    extra.append(key)
        # s: digit shape of letterless lines (Python, few lines)
        if keys.shape:
            idx = np.flatnonzero(~keyed & ~is_long).tolist()
            for i, shape in zip(idx, model_texts([lines[i] for i in idx])):
                if any(c.isdigit() for c in shape) and not any(c.isalpha() for c in shape):
                    extra_idx.append(i)
                    extra.append("s:" + shape)
        if extra:
            emit(np.array(extra_idx), _str_hashes(extra))
        # e: the head of a line whose tail (2..12 words) starts another line of the same document
        if keys.echo:
            chars_before = np.concatenate(([0], np.cumsum(tok_chars)))
            # a tail can only be another line's head when its first word starts a line (of >= 2 words)
            # of the same document: keep those tails, and the heads of the lines such a tail starts with
            doc_word = tok_hash + line_doc[tok_line].astype(np.uint64) * _K_DOC  # (document, word)
            j = np.flatnonzero(ntok >= ECHO_MIN_WORDS)
            starts_line = np.unique(doc_word[first_tok[j]])
            n_of = ntok[tok_line]
            tails = (keyed & (ntok > ECHO_MIN_WORDS) & (ntok <= keys.echo))[tok_line]
            # tails of 2..min(n-1, 12) words: the head (k = the tail's first word's position) has
            # max(1, n-12)..n-2 words
            tails &= (pos >= np.maximum(1, n_of - ECHO_MAX_WORDS)) & (pos <= n_of - ECHO_MIN_WORDS)
            t = np.flatnonzero(tails)
            if t.size and starts_line.size:
                at = np.minimum(np.searchsorted(starts_line, doc_word[t]), starts_line.size - 1)
                t = t[starts_line[at] == doc_word[t]]
            else:
                t = t[:0]
            tail_words = np.unique(doc_word[t])
            if tail_words.size:
                at = np.minimum(np.searchsorted(tail_words, doc_word[first_tok[j]]), tail_words.size - 1)
                j = j[tail_words[at] == doc_word[first_tok[j]]]
            else:
                j = j[:0]
            reps = np.minimum(ntok[j], ECHO_MAX_WORDS) - ECHO_MIN_WORDS + 1
            hl = np.repeat(j, reps)
            hk = np.arange(hl.size) - np.repeat(np.cumsum(reps) - reps, reps) + ECHO_MIN_WORDS
            hh = words(first_tok[hl], first_tok[hl] + hk) + line_doc[hl].astype(np.uint64) * _K_DOC
            sl, k = tok_line[t], pos[t]  # k: head length
            sh = words(first_tok[sl] + k, first_tok[sl] + ntok[sl]) + line_doc[sl].astype(np.uint64) * _K_DOC
            if hh.size and sh.size:
                # a line's heads all differ (their lengths differ), so entries per hash = lines per hash
                uh, first, count = np.unique(hh, return_index=True, return_counts=True)
                at = np.minimum(np.searchsorted(uh, sh), uh.size - 1)
                hit = (uh[at] == sh) & ((count[at] >= 2) | (hl[first[at]] != sl))
                order = np.lexsort((k, sl))  # per line, the shortest head (longest tail) first
                li, kk = _first_true(sl[order], hit[order], k[order])
                head_chars = chars_before[first_tok[li] + kk] - chars_before[first_tok[li]] + kk - 1
                ok = head_chars >= keys.min_chars
                emit(li[ok], words(first_tok[li[ok]], first_tok[li[ok]] + kk[ok]) ^ _TAG["e"])

    line_all = np.concatenate(out_line) if out_line else np.zeros(0, np.int64)
    hash_all = np.concatenate(out_hash) if out_hash else np.zeros(0, np.uint64)
    order = np.argsort(line_all, kind="stable")
    line_all, hash_all = line_all[order], hash_all[order]
    bounds = np.searchsorted(line_all, doc_first)
    return [(line_all[bounds[d] : bounds[d + 1]] - doc_first[d], hash_all[bounds[d] : bounds[d + 1]]) for d in range(len(docs))]


KEEP_BYTES = 256 << 20  # per-document key hashes kept by the observe pass for the second pass


class KeySpread:
    """Document spread of near-duplicate keys over one shard. `observe` every document (in any order:
    counts do not depend on it), then `line_spread` per document. Never shared across shards.

    Documents are keyed in batches of about `batch_bytes` of text; the observe pass keeps each
    document's key hashes (up to `keep_bytes` in all) so that `line_spread` only looks them up."""

    def __init__(self, keys: NearDupKeys = NearDupKeys(), batch_bytes: int = 1 << 20, keep_bytes: int = KEEP_BYTES) -> None:
        self.keys = keys
        self.batch_bytes = batch_bytes
        self.keep_bytes = keep_bytes
        self._keys = np.zeros(0, dtype=np.uint64)  # sorted
        self._counts = np.zeros(0, dtype=np.uint32)
        self._pending: list[np.ndarray] = []
        self._pending_n = 0
        self._batch: list[tuple[Sequence[str], str, str | None]] = []
        self._batch_bytes = 0
        self._kept: dict[int, list] = {}  # document id -> [line indices, key hashes, copies still to look up]
        self._kept_bytes = 0
        self._frozen = False
        self.documents = 0

    @staticmethod
    def _doc_id(lines: Sequence[str], group: str, text: str | None) -> int:
        text = "\n".join(lines) if text is None else text
        return xxhash.xxh3_64_intdigest((group + "\x01" + text).encode("utf-8", "surrogatepass"))

    def observe(self, lines: Sequence[str], group: str = "", text: str | None = None) -> None:
        """Count each key of this document once (within `group`, e.g. the document's host); `text`:
        the lines joined by "\\n", when the caller has it. Not after `freeze`."""
        if self._frozen:
            raise RuntimeError("KeySpread.observe after freeze")
        self._batch.append((lines, group, text))
        self._batch_bytes += sum(map(len, lines)) if text is None else len(text)
        self.documents += 1
        if self._batch_bytes >= self.batch_bytes:
            self._flush()

    def _flush(self) -> None:
        if not self._batch:
            return
        batch, self._batch, self._batch_bytes = self._batch, [], 0
        per_doc = document_key_hashes([d for d, _, _ in batch], [g for _, g, _ in batch], self.keys)
        sizes = np.fromiter((h.size for _, h in per_doc), dtype=np.int64, count=len(per_doc))
        if sizes.any():  # each key once per document
            hashes = np.concatenate([h for _, h in per_doc])
            doc = np.repeat(np.arange(len(per_doc)), sizes)
            order = np.lexsort((doc, hashes))
            hashes, doc = hashes[order], doc[order]
            first = np.concatenate(([True], (hashes[1:] != hashes[:-1]) | (doc[1:] != doc[:-1])))
            self._pending.append(hashes[first])
            self._pending_n += int(first.sum())
        for (lines, group, text), (line_idx, hashes) in zip(batch, per_doc):
            doc_id = self._doc_id(lines, group, text)
            if doc_id in self._kept:  # the same document again (same host, same text): same keys
                self._kept[doc_id][2] += 1
            elif self._kept_bytes + 12 * hashes.size <= self.keep_bytes:
                self._kept[doc_id] = [line_idx, hashes, 1]
                self._kept_bytes += 12 * hashes.size
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
        self._flush()
        self._compact()
        if min_spread > 1:
            keep = self._counts >= min_spread
            self._keys, self._counts = self._keys[keep], self._counts[keep]
        self._frozen = True
        # the kept documents' line spreads, all in one lookup: (lines with a key, their spread) each
        entries = [e for e in self._kept.values() if e[1].size]
        if entries:
            sizes = np.fromiter((e[1].size for e in entries), dtype=np.int64, count=len(entries))
            line_idx = np.concatenate([e[0] for e in entries])
            spread = self.spread_of(np.concatenate([e[1] for e in entries]))
            doc = np.repeat(np.arange(len(entries)), sizes)
            # a run of one line's keys in one document (line_idx is sorted within a document)
            starts = np.flatnonzero(np.concatenate(([True], (line_idx[1:] != line_idx[:-1]) | (doc[1:] != doc[:-1]))))
            line_max = np.maximum.reduceat(spread, starts)
            bounds = np.searchsorted(starts, np.concatenate(([0], np.cumsum(sizes))))
            for d, entry in enumerate(entries):
                run = slice(bounds[d], bounds[d + 1])
                entry[0], entry[1] = line_idx[starts[run]], line_max[run]
        self._kept_bytes = sum(12 * e[1].size for e in self._kept.values())

    def spread_of(self, hashes: np.ndarray) -> np.ndarray:
        """Counted spread of each key hash (0 when unseen or dropped by `freeze`)."""
        if self._batch:
            self._flush()
        if self._pending:
            self._compact()
        out = np.zeros(hashes.shape[0], dtype=np.int64)
        if not self._keys.size or not hashes.size:
            return out
        pos = np.minimum(np.searchsorted(self._keys, hashes), self._keys.size - 1)
        hit = self._keys[pos] == hashes
        out[hit] = self._counts[pos[hit]]
        return out

    def line_spread(self, lines: Sequence[str], group: str = "", text: str | None = None) -> np.ndarray:
        """int64[n]: each line's spread (largest spread of its keys; 0 for lines without keys)."""
        doc_id = self._doc_id(lines, group, text) if self._kept else None
        kept = self._kept.get(doc_id) if doc_id is not None else None
        out = np.zeros(len(lines), dtype=np.int64)
        if kept is None:
            line_idx, hashes = document_key_hashes([lines], [group], self.keys)[0]
        else:
            line_idx, hashes = kept[0], kept[1]
            kept[2] -= 1
            if not kept[2]:
                del self._kept[doc_id]
                self._kept_bytes -= 12 * hashes.size
            if self._frozen:  # resolved by `freeze`: one spread per line with keys
                out[line_idx] = hashes
                return out
        if hashes.size:  # line_idx is sorted: one maximum per run of a line's keys
            starts = np.flatnonzero(np.concatenate(([True], line_idx[1:] != line_idx[:-1])))
            out[line_idx[starts]] = np.maximum.reduceat(self.spread_of(hashes), starts)
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
