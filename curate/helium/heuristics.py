"""Heuristic document rules of Gopher (Rae et al. 2021, appendix A1.1) and C4 (Raffel et al. 2020,
section 2.2), as pure functions with test vectors (tests/test_heuristics.py).

Each rule returns the name of the first failed check (it becomes the drop reason, prefixed
`gopher_` / `c4_`) or None. Defaults are the papers' thresholds. Where words are counted, the word
splitter and the stop-word list depend on the language (`curate.helium.stopwords`): scripts written
without spaces (Chinese, Japanese, Thai, ...) count each letter as a word, as FineWeb-2 does for
its character-level languages.

Repetition is computed on integer word ids with numpy, not on joined n-gram strings: n-gram ids
are a polynomial hash of the word ids (uint64, wrapping), duplicates are found with one
`np.unique`, and the characters covered by duplicated n-grams with a difference array. The
definitions follow the paper ("the fraction of characters contained within all duplicate n-grams";
for the top n-gram, its characters times its count) as datatrove reads them: repeats after the
first occurrence, over the document's characters (FineWeb's documents, filtered by datatrove,
pass these rules: tests/test_heuristics.py).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from curate.helium.stopwords import stop_words

# --- words ---------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+(?:['’\-]\w+)*", re.UNICODE)
_NO_SPACE_SCRIPTS = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff]"
)
CHARACTER_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "my", "km", "bo", "wuu", "yue"})


def split_words(text: str, language: str = "en") -> list[str]:
    """Words of `text`: runs of word characters (apostrophes / hyphens inside a word kept); in
    scripts without spaces every letter is a word."""
    words = _WORD.findall(text)
    if language in CHARACTER_LANGUAGES or _NO_SPACE_SCRIPTS.search(text):
        out: list[str] = []
        for word in words:
            if _NO_SPACE_SCRIPTS.search(word):
                out.extend(_NO_SPACE_SCRIPTS.findall(word))
                rest = _NO_SPACE_SCRIPTS.sub(" ", word).split()
                out.extend(rest)
            else:
                out.append(word)
        return out
    return words


# --- Gopher quality ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GopherQuality:
    """Gopher quality filter thresholds (paper defaults)."""

    min_words: int = 50
    max_words: int = 100_000
    min_mean_word_length: float = 3.0
    max_mean_word_length: float = 10.0
    max_symbol_word_ratio: float = 0.1  # '#' and ellipses, each
    max_bullet_lines: float = 0.9
    max_ellipsis_end_lines: float = 0.3
    min_alpha_words: float = 0.8
    min_stop_words: int = 2


_BULLETS = ("•", "-", "*", "·", "‣", "◦", "–")
_ELLIPSES = ("...", "…")


GOPHER_QUALITY_REASONS = (
    "gopher_too_few_words",
    "gopher_too_many_words",
    "gopher_mean_word_length",
    "gopher_hash_ratio",
    "gopher_ellipsis_ratio",
    "gopher_bullet_lines",
    "gopher_ellipsis_lines",
    "gopher_alpha_words",
    "gopher_stop_words",
)
NGRAM_SIZES = range(2, 11)  # n-gram sizes a repetition rule may use (each has its drop reason)
GOPHER_REPETITION_REASONS = (
    "gopher_dup_paragraphs",
    "gopher_dup_paragraph_chars",
    "gopher_dup_lines",
    "gopher_dup_line_chars",
    *(f"gopher_top_{n}gram" for n in NGRAM_SIZES),
    *(f"gopher_dup_{n}gram" for n in NGRAM_SIZES),
)
C4_REASONS = ("c4_lorem_ipsum", "c4_curly_bracket", "c4_too_few_sentences")


def gopher_quality(
    text: str, language: str = "en", rule: GopherQuality = GopherQuality(), stops: frozenset[str] | None = None
) -> str | None:
    """Gopher's quality rules; `stops` defaults to the language's list (`curate.helium.stopwords`)."""
    return gopher_quality_words(text, language, rule, stops)[0]


def gopher_quality_words(
    text: str, language: str = "en", rule: GopherQuality = GopherQuality(), stops: frozenset[str] | None = None
) -> tuple[str | None, int]:
    """(`gopher_quality`'s verdict, the number of words counted)."""
    words = split_words(text, language)
    n = len(words)
    return _gopher_quality(text, words, language, rule, stops), n


def _gopher_quality(text: str, words: list[str], language: str, rule: GopherQuality, stops: frozenset[str] | None) -> str | None:
    n = len(words)
    if n < rule.min_words:
        return "gopher_too_few_words"
    if n > rule.max_words:
        return "gopher_too_many_words"
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=n)
    mean = float(lengths.mean())
    if language not in CHARACTER_LANGUAGES and not rule.min_mean_word_length <= mean <= rule.max_mean_word_length:
        return "gopher_mean_word_length"
    if text.count("#") / n > rule.max_symbol_word_ratio:
        return "gopher_hash_ratio"
    if (text.count("...") + text.count("…")) / n > rule.max_symbol_word_ratio:
        return "gopher_ellipsis_ratio"
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if lines:
        if sum(line.startswith(_BULLETS) for line in lines) / len(lines) > rule.max_bullet_lines:
            return "gopher_bullet_lines"
        if sum(line.endswith(_ELLIPSES) for line in lines) / len(lines) > rule.max_ellipsis_end_lines:
            return "gopher_ellipsis_lines"
    # words are runs of \w, so "alphabetic" = has a letter (digits and _ are \w but not letters)
    alpha = sum(1 for w in words if any(c.isalpha() for c in w))
    if alpha / n < rule.min_alpha_words:
        return "gopher_alpha_words"
    stops = stop_words(language) if stops is None else stops
    if stops and rule.min_stop_words and len(stops.intersection(w.lower() for w in words)) < rule.min_stop_words:
        return "gopher_stop_words"
    return None


# --- Gopher repetition ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GopherRepetition:
    """Gopher repetition thresholds (paper table A1)."""

    max_dup_line_fraction: float = 0.30
    max_dup_paragraph_fraction: float = 0.30
    max_dup_line_char_fraction: float = 0.20
    max_dup_paragraph_char_fraction: float = 0.20
    max_top_ngram_char_fraction: dict[int, float] = field(default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16})
    max_dup_ngram_char_fraction: dict[int, float] = field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
    )


def duplicate_fractions(items: Sequence[str]) -> tuple[float, float]:
    """(fraction of items that repeat an earlier one, fraction of characters in those repeats)."""
    if not items:
        return 0.0, 0.0
    seen: set[str] = set()
    dup = dup_chars = total_chars = 0
    for item in items:
        total_chars += len(item)
        if item in seen:
            dup += 1
            dup_chars += len(item)
        else:
            seen.add(item)
    return dup / len(items), (dup_chars / total_chars if total_chars else 0.0)


def word_ids(words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(id per word, length per word); ids index the document's vocabulary."""
    vocab: dict[str, int] = {}
    ids = np.fromiter((vocab.setdefault(w, len(vocab)) for w in words), dtype=np.uint64, count=len(words))
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    return ids, lengths


_MULT = np.uint64(0x9E3779B97F4A7C15)


def ngram_ids(ids: np.ndarray, n: int) -> np.ndarray:
    """One uint64 per n-gram (positions 0..len-n): a polynomial hash of the word ids, wrapping."""
    m = len(ids) - n + 1
    if m <= 0:
        return np.zeros(0, dtype=np.uint64)
    h = np.zeros(m, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            h = h * _MULT + ids[k : k + m] + np.uint64(1)
    return h


def top_ngram_char_fraction(ids: np.ndarray, lengths: np.ndarray, n: int, total: int | None = None) -> float:
    """Characters of the most frequent n-gram times its count, over `total` characters (default:
    all word characters; ties: the n-gram with the most characters, so order does not matter)."""
    total = int(lengths.sum()) if total is None else total
    grams = ngram_ids(ids, n)
    if not len(grams) or not total:
        return 0.0
    _, first, counts = np.unique(grams, return_index=True, return_counts=True)
    if counts.max() < 2:
        return 0.0
    window = np.convolve(lengths, np.ones(n, dtype=np.int64), mode="valid")  # chars of each n-gram
    best = counts == counts.max()
    return float(window[first[best]].max() * counts.max() / total)


def dup_ngram_char_fraction(ids: np.ndarray, lengths: np.ndarray, n: int, total: int | None = None) -> float:
    """Characters of the words covered by repeated occurrences of n-grams (every occurrence of an
    n-gram after its first; overlapping repeats count each word once), over `total` characters
    (default: all word characters). Like datatrove's reference, the first occurrence is not
    counted: a page quoting one sentence twice repeats it once."""
    total = int(lengths.sum()) if total is None else total
    grams = ngram_ids(ids, n)
    if not len(grams) or not total:
        return 0.0
    _, first, inverse = np.unique(grams, return_index=True, return_inverse=True)
    starts = np.flatnonzero(first[inverse] != np.arange(len(grams)))
    if not len(starts):
        return 0.0
    delta = np.zeros(len(ids) + 1, dtype=np.int64)
    np.add.at(delta, starts, 1)
    np.add.at(delta, starts + n, -1)
    covered = np.cumsum(delta[:-1]) > 0
    return float(lengths[covered].sum() / total)


def gopher_repetition(text: str, language: str = "en", rule: GopherRepetition = GopherRepetition()) -> str | None:
    return gopher_repetition_lines(text, language, rule)[0]


def gopher_repetition_lines(
    text: str, language: str = "en", rule: GopherRepetition = GopherRepetition()
) -> tuple[str | None, float]:
    """(`gopher_repetition`'s verdict, the fraction of duplicate lines)."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    line_frac, line_char_frac = duplicate_fractions(lines)
    return _gopher_repetition(text, language, rule, lines, line_frac, line_char_frac), line_frac


def _gopher_repetition(
    text: str, language: str, rule: GopherRepetition, lines: list[str], line_frac: float, line_char_frac: float
) -> str | None:
    paragraphs = [p.strip() for p in re.split(r"\n{2,}", text.strip()) if p.strip()]
    frac, char_frac = duplicate_fractions(paragraphs)
    if frac > rule.max_dup_paragraph_fraction:
        return "gopher_dup_paragraphs"
    if char_frac > rule.max_dup_paragraph_char_fraction:
        return "gopher_dup_paragraph_chars"
    if line_frac > rule.max_dup_line_fraction:
        return "gopher_dup_lines"
    if line_char_frac > rule.max_dup_line_char_fraction:
        return "gopher_dup_line_chars"
    ids, lengths = word_ids(split_words(text, language))
    total = len(text)  # as the reference implementation: fractions of the document's characters
    for n, limit in sorted(rule.max_top_ngram_char_fraction.items()):
        if top_ngram_char_fraction(ids, lengths, n, total) > limit:
            return f"gopher_top_{n}gram"
    for n, limit in sorted(rule.max_dup_ngram_char_fraction.items()):
        if dup_ngram_char_fraction(ids, lengths, n, total) > limit:
            return f"gopher_dup_{n}gram"
    return None


# --- C4 ------------------------------------------------------------------------------------------

TERMINAL_PUNCTUATION = (".", "!", "?", '"', "'", "”", "’", "。", "！", "？", "।", "۔", "؟", "…")
POLICY_SUBSTRINGS = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)
_SENTENCE_END = re.compile(r"[.!?。！？।؟]+(?=\s|$)")


@dataclass(frozen=True)
class C4Lines:
    """C4's line rules (paper section 2.2) and its document rules."""

    min_words_per_line: int = 3
    min_sentences: int = 3  # the paper says 5; the released C4 (tfds c4_utils) keeps pages with 3
    max_word_length: int = 1000
    drop_javascript_lines: bool = True
    drop_policy_lines: bool = True
    drop_lorem_ipsum: bool = True
    drop_curly_bracket: bool = True


def count_sentences(lines: Sequence[str]) -> int:
    """Sentence ends (., !, ? and their CJK / Devanagari / Arabic forms) followed by space or line end."""
    return sum(max(1, len(_SENTENCE_END.findall(line))) for line in lines)


def c4_line_kept(line: str, language: str = "en", rule: C4Lines = C4Lines()) -> bool:
    """C4's line rule: ends in terminal punctuation (not an ellipsis), has >= 3 words, no word
    longer than 1000 characters, no 'javascript', no policy / cookie notice."""
    if not line.endswith(TERMINAL_PUNCTUATION) or line.endswith(("...", "…")):
        return False
    words = split_words(line, language) if language in CHARACTER_LANGUAGES else line.split()
    if len(words) < rule.min_words_per_line or any(len(w) > rule.max_word_length for w in words):
        return False
    lower = line.lower()
    if rule.drop_javascript_lines and "javascript" in lower:
        return False
    return not (rule.drop_policy_lines and any(p in lower for p in POLICY_SUBSTRINGS))


def c4_filter(text: str, language: str = "en", rule: C4Lines = C4Lines()) -> tuple[str, int, str | None]:
    """(text with only the kept lines, lines removed, drop reason or None). Document rules:
    'lorem ipsum' or '{' anywhere -> dropped; fewer than `min_sentences` sentences left -> dropped."""
    lower = text.lower()
    if rule.drop_lorem_ipsum and "lorem ipsum" in lower:
        return text, 0, "c4_lorem_ipsum"
    if rule.drop_curly_bracket and "{" in text:
        return text, 0, "c4_curly_bracket"
    lines = [unicodedata.normalize("NFC", line).strip() for line in text.split("\n")]
    nonblank = [line for line in lines if line]
    kept = [line for line in nonblank if c4_line_kept(line, language, rule)]
    removed = len(nonblank) - len(kept)
    if count_sentences(kept) < rule.min_sentences or not kept:
        return "\n".join(kept), removed, "c4_too_few_sentences"
    return "\n".join(kept), removed, None
