"""Fuzzy line dedup: the block rule (Moshi paper, section 3.2.2).

A fastText classifier gives each line P(dup); a line is *dup-like* when P(dup) >= threshold. Only
**blocks** are removed: every run of at least `min_block` (default 3) consecutive dup-like lines
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

from collections.abc import Sequence

import numpy as np

DEFAULT_THRESHOLD = 0.5
DEFAULT_MIN_BLOCK = 3
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
