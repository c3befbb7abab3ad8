"""Fuzzy line dedup: the block rule (Moshi paper, section 3.2.2).

A fastText classifier gives each line P(dup); a line is *dup-like* when P(dup) >= threshold. Only
**blocks** are removed: every run of at least `min_block` (default 2) consecutive dup-like lines
goes, shorter runs stay (a single line that merely looks like boilerplate — a short heading, a
date — is kept; a menu, a footer, a cookie banner spans several lines and is removed).

Blank lines (whitespace only) are *transparent*: they neither break a run nor count toward its
length, and they are never removed (the same as exact dedup, where a blank line is never a
duplicate). So `menu / <blank> / menu / menu` is a run of 3 dup-like lines, and the blank line
between them stays in the text.

What the classifier sees of a line (`model_text`, the same in training and in the pipeline):
the stripped line, lowercased, every digit turned into 0. Boilerplate comes in casing variants
("HOME" in a menu, "Home" in a breadcrumb) and with changing numbers ("(c) 2019", "Cart (2)",
"Page 3 of 10"); folding them makes one pattern of many, and costs two C-level string passes.

Everything here is pure (numpy in, numpy out); the pipeline step lives in
`curate.helium.steps.classifiers.FuzzyLineDedup`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

# chosen by `curate eval dedup` on held-out shards (classifiers/dedup.card.md)
DEFAULT_THRESHOLD = 0.8
DEFAULT_MIN_BLOCK = 2
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")


def model_texts(lines: Sequence[str]) -> list[str]:
    """What the dedup classifier sees of each line: stripped, lowercased, digits -> 0.

    Done on the whole batch at once (one join, one `lower`, one byte-level `translate`, one
    split: C loops instead of per-line Python calls, ~6x faster than `str.translate` per line).
    Lines must not contain newlines (lines of a "\n"-split text never do)."""
    if not lines:
        return []
    joined = "\n".join(line.strip() for line in lines).lower()
    data = joined.encode("utf-8", "surrogatepass").translate(_DIGITS_TO_ZERO)
    return data.decode("utf-8", "surrogatepass").split("\n")


def model_text(line: str) -> str:
    """`model_texts` of one line (the training recipe and the pipeline step agree by construction)."""
    return model_texts([line.replace("\n", " ")])[0]


def is_blank(lines: Sequence[str]) -> np.ndarray:
    """bool[n]: lines that are empty or whitespace only."""
    return np.fromiter((not line.strip() for line in lines), dtype=bool, count=len(lines))


def block_mask(
    dup_like: Sequence[bool] | np.ndarray, min_block: int = DEFAULT_MIN_BLOCK, blank: Sequence[bool] | np.ndarray | None = None
) -> np.ndarray:
    """Lines to remove: every run of >= `min_block` consecutive dup-like non-blank lines.

    `dup_like[i]` says whether line i looks like a duplicate (its value on blank lines is ignored);
    `blank[i]` marks blank lines, which neither break nor count (default: no blank lines).
    Returns bool[n]; blank lines are never in it.
    """
    if min_block < 1:
        raise ValueError("min_block must be >= 1")
    dup = np.asarray(dup_like, dtype=bool)
    n = dup.shape[0]
    removed = np.zeros(n, dtype=bool)
    if n == 0:
        return removed
    if blank is None:
        positions = np.arange(n)
    else:
        blank_arr = np.asarray(blank, dtype=bool)
        if blank_arr.shape != dup.shape:
            raise ValueError("dup_like and blank must have the same length")
        positions = np.flatnonzero(~blank_arr)
    flags = dup[positions]
    if not flags.any():
        return removed
    # run boundaries over the non-blank lines: +1 where a run starts, -1 one past where it ends
    edges = np.diff(np.concatenate(([0], flags.view(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    long_runs = (ends - starts) >= min_block
    for start, end in zip(starts[long_runs], ends[long_runs]):
        removed[positions[start:end]] = True
    return removed


def dup_like_mask(p_dup: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """A line is dup-like when P(dup) >= threshold."""
    return np.asarray(p_dup) >= threshold


def remove_lines(lines: Sequence[str], removed: np.ndarray) -> str:
    """Join the kept lines back into a document text ("\\n"-separated, as WET text is)."""
    return "\n".join(line for line, gone in zip(lines, removed) if not gone)


# ---------------------------------------------------------------------------------------------
# The label rule of the dedup-classifier recipe (`curate.training.dedup_classifier`, rule "fold").
#
# A line's label is not decided by its exact hash but by *near-duplicate keys* of its folded form
# (`fold_tokens`: the model's text, then digits, punctuation and symbols removed, whitespace
# collapsed):
#   - `f:` the whole folded line: catches digit, casing and punctuation variants ("(c) 2019" /
#     "(c) 2021", "Cart (2)" / "Cart (3)");
#   - `m:` the folded line with one word masked, for lines of MASK_MIN..MASK_MAX words: catches a
#     line with one word changed (word variants, one-slot templates: "Posted by Anna" / "Posted
#     by Bob");
#   - `b:` the sorted set of the line's words, for lines of >= MASK_MIN words: catches reordered
#     menus ("Home | News | Contact" / "News | Home | Contact").
# The *spread* of a key is the number of distinct documents of the shard that contain it; a
# line's spread is the largest spread of its keys. Then:
#   spread >= min_recurrence       -> `dup`   (boilerplate repeats across many pages)
#   spread == 1 (every key)        -> `unique`
#   in between                     -> content repeated a few times (a quote, an untranslated
#                                     paragraph, a shell command): not used (default,
#                                     `between="skip"`) or taught as `unique` (`between="unique"`),
#                                     never as boilerplate.

MASK_MIN = 3
MASK_MAX = 12
DEFAULT_MIN_RECURRENCE = 6
DEFAULT_BETWEEN = "skip"  # lines seen in 2..min_recurrence-1 documents: "skip" (not used) or "unique"
_FOLD_TABLE = {ord(c): " " for c in "0123456789_"}
_WORD = re.compile(r"\w+")


def fold_tokens(line: str) -> list[str]:
    """Words of a line's near-duplicate fold: `model_text`, digits / punctuation / symbols removed."""
    text = model_text(line).translate(_FOLD_TABLE)
    return _WORD.findall(text)


def fold_key(line: str) -> str:
    """The whole-line near-duplicate key (`f:` key without its prefix)."""
    return " ".join(fold_tokens(line))


def label_keys(line: str) -> list[str]:
    """Every near-duplicate key of a line (see the rule above); [] when nothing is left after folding."""
    return keys_of_tokens(fold_tokens(line))


def fold_tokens_batch(lines: Sequence[str]) -> list[list[str]]:
    """`fold_tokens` of every line, folded as one batch (one `model_texts` call for all lines)."""
    folded = model_texts([line.replace("\n", " ") for line in lines])
    return [_WORD.findall(text.translate(_FOLD_TABLE)) for text in folded]


def keys_of_lines(lines: Sequence[str]) -> list[list[str]]:
    """`label_keys` of every line, as one batch."""
    return [keys_of_tokens(tokens) for tokens in fold_tokens_batch(lines)]


def keys_of_tokens(tokens: Sequence[str]) -> list[str]:
    """The keys of a line from its folded words (`fold_tokens`)."""
    tokens = list(tokens)
    if not tokens:
        return []
    keys = ["f:" + " ".join(tokens)]
    n = len(tokens)
    if MASK_MIN <= n <= MASK_MAX:
        for i in range(n):
            keys.append("m:" + " ".join(tokens[:i] + ["\x00"] + tokens[i + 1 :]))
    if n >= MASK_MIN:
        keys.append("b:" + " ".join(sorted(set(tokens))))
    return keys


def spread_label(spread: int, min_recurrence: int = DEFAULT_MIN_RECURRENCE) -> str | None:
    """`dup` (spread >= min_recurrence), `unique` (spread 1) or None (in between: see `DEFAULT_BETWEEN`)."""
    if min_recurrence < 2:
        raise ValueError("min_recurrence must be >= 2")
    if spread >= min_recurrence:
        return "dup"
    if spread <= 1:
        return "unique"
    return None


# ---------------------------------------------------------------------------------------------
# Optional coarse position feature: a token in front of each line's model text saying whether the
# line is among the first POSITION_HEAD, the last POSITION_TAIL, or the middle non-blank lines of
# the document *as the fuzzy stage sees it* (after exact dedup). Boilerplate that survives exact
# dedup sits at the head and tail of a page; content in the middle. A model trained with it has
# these tokens in its dictionary, which is how the pipeline step knows to add them.

POSITION_HEAD = 3
POSITION_TAIL = 3
POSITION_TOKENS = ("_pa_", "_pm_", "_pz_")


def position_tokens(n: int) -> list[str]:
    """Position token of each of n non-blank lines: head (first 3), tail (last 3), middle."""
    head, mid, tail = POSITION_TOKENS
    return [head if i < POSITION_HEAD else tail if n - i <= POSITION_TAIL else mid for i in range(n)]


def with_positions(texts: Sequence[str], counts: Sequence[int]) -> list[str]:
    """Prefix each model text with its position token; `counts`: non-blank lines per document, in order."""
    tokens = [tok for n in counts for tok in position_tokens(n)]
    if len(tokens) != len(texts):
        raise ValueError("counts must add up to the number of texts")
    return [f"{tok} {text}" for tok, text in zip(tokens, texts)]
