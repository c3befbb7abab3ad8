"""Line-level quality classifier: labels, length-weighted document scores and the keep rule.

The Moshi paper (section 3.2.2) classifies every line into 9 categories — random CommonCrawl
(`rand`) or one of the high-quality sources — and aggregates per document "by computing the
average scores of each line, weighted by their length":

    score[label] = sum_i p(label | line_i) * len(line_i) / sum_i len(line_i)

over the non-blank lines i of the document, where len is the length in characters of the
stripped line (the text the classifier sees). `quality_score = 1 - score["rand"]`: how much of
the document (by characters) does not look like random web text.

A label the model was not trained on (e.g. `pop` when no culture & recreation data was
available) gets probability 0 on every line, so its score is present and 0. A document with no
non-blank line gets all scores 0 and `quality_score` 0.

Keep rule: keep when `quality_score >= threshold`, and, for domain selection, every
`category_min[label] <= score[label]` and `score[label] <= category_max[label]`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

QUALITY_LABELS: tuple[str, ...] = ("rand", "wiki", "books", "science", "news", "stem", "life", "hum", "pop")
RAND = "rand"
RAND_INDEX = QUALITY_LABELS.index(RAND)
DEFAULT_QUALITY_THRESHOLD = 0.5


def line_lengths(lines: Sequence[str]) -> np.ndarray:
    """Weight of each line: characters of the stripped line (0 for blank lines)."""
    return np.fromiter((len(line.strip()) for line in lines), dtype=np.float64, count=len(lines))


def document_scores(probs: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Length-weighted mean of line probabilities: float64[n_labels].

    `probs`: float[n_lines, n_labels] (rows of blank lines are ignored through their weight 0);
    `lengths`: float[n_lines]. No weight at all -> all zeros.
    """
    probs = np.asarray(probs, dtype=np.float64)
    lengths = np.asarray(lengths, dtype=np.float64)
    total = lengths.sum()
    if probs.ndim != 2 or probs.shape[0] != lengths.shape[0]:
        raise ValueError("probs must be [n_lines, n_labels] and lengths [n_lines]")
    if total <= 0:
        return np.zeros(probs.shape[1], dtype=np.float64)
    return (lengths @ probs) / total


def document_scores_batch(probs: np.ndarray, lengths: np.ndarray, line_counts: Sequence[int]) -> np.ndarray:
    """`document_scores` for many documents at once: the lines of document d are the next
    `line_counts[d]` rows of `probs` / `lengths`. Returns float64[n_docs, n_labels]."""
    probs = np.asarray(probs, dtype=np.float64)
    lengths = np.asarray(lengths, dtype=np.float64)
    counts = np.asarray(line_counts, dtype=np.int64)
    if counts.sum() != probs.shape[0] or probs.shape[0] != lengths.shape[0]:
        raise ValueError("line_counts must add up to the number of rows")
    weighted = probs * lengths[:, None]
    # prefix sums: the sum over rows [a, b) is cum[b] - cum[a]; no trouble with empty documents
    cum = np.zeros((probs.shape[0] + 1, probs.shape[1]), dtype=np.float64)
    np.cumsum(weighted, axis=0, out=cum[1:])
    cum_len = np.concatenate(([0.0], np.cumsum(lengths)))
    bounds = np.concatenate(([0], np.cumsum(counts)))
    sums = cum[bounds[1:]] - cum[bounds[:-1]]
    totals = cum_len[bounds[1:]] - cum_len[bounds[:-1]]
    out = np.zeros_like(sums)
    has_text = totals > 0
    out[has_text] = sums[has_text] / totals[has_text, None]
    return out


def quality_score(scores: Mapping[str, float] | np.ndarray) -> float:
    """1 - score[rand]; 0 for a document without text (all scores 0)."""
    if isinstance(scores, Mapping):
        values = np.array([scores.get(label, 0.0) for label in QUALITY_LABELS], dtype=np.float64)
    else:
        values = np.asarray(scores, dtype=np.float64)
    if not values.any():
        return 0.0
    return float(1.0 - values[RAND_INDEX])


def scores_dict(scores: np.ndarray) -> dict[str, float]:
    return {label: float(value) for label, value in zip(QUALITY_LABELS, scores)}


def validate_bounds(bounds: Mapping[str, float] | None, what: str) -> dict[str, float]:
    out = dict(bounds or {})
    unknown = sorted(set(out) - set(QUALITY_LABELS))
    if unknown:
        raise ValueError(f"unknown quality categories in {what}: {unknown}; known: {list(QUALITY_LABELS)}")
    for label, value in out.items():
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{what}[{label}] = {value} is not in [0, 1]")
    return {label: float(value) for label, value in out.items()}


def parse_bounds(items: Sequence[str] | None, what: str = "bound") -> dict[str, float]:
    """`["wiki=0.2", "science=0.1"]` -> {"wiki": 0.2, "science": 0.1} (for CLI options)."""
    out: dict[str, float] = {}
    for item in items or ():
        label, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"{what} {item!r}: expected LABEL=VALUE")
        out[label.strip()] = float(value)
    return validate_bounds(out, what)


def keep_document(
    scores: Mapping[str, float],
    threshold: float = DEFAULT_QUALITY_THRESHOLD,
    category_min: Mapping[str, float] | None = None,
    category_max: Mapping[str, float] | None = None,
) -> bool:
    """The keep rule: quality_score >= threshold and every per-category bound holds."""
    if quality_score(scores) < threshold:
        return False
    for label, low in (category_min or {}).items():
        if scores.get(label, 0.0) < low:
            return False
    for label, high in (category_max or {}).items():
        if scores.get(label, 0.0) > high:
            return False
    return True
