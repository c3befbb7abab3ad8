"""Minimal Praat TextGrid reader (short and long text formats) and timing-accuracy metrics.

Used by the tests and the benchmark to compare word times against MFA/praatio references.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_TOKEN = re.compile(r'"((?:[^"]|"")*)"|(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)')
_INDEX = re.compile(r"\[\s*\d*\s*\]")


@dataclass(frozen=True)
class Interval:
    start: float
    end: float
    text: str


def read_textgrid(path: str | Path) -> dict[str, list[Interval]]:
    """Interval tiers by name. Both formats reduce to the same token stream once names and
    `[n]` indices are removed: strings and numbers in a fixed order."""
    raw = Path(path).read_bytes()
    text = raw.decode("utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else raw.decode("utf-8", errors="replace")
    tokens: list[str | float] = []
    for match in _TOKEN.finditer(_INDEX.sub(" ", text)):
        tokens.append(match.group(1).replace('""', '"') if match.group(1) is not None else float(match.group(2)))
    # header: "ooTextFile" "TextGrid" xmin xmax [<exists> is a bare word, dropped] n_tiers
    pos = 2 + 2 + 1
    n_tiers = int(tokens[pos - 1])
    tiers: dict[str, list[Interval]] = {}
    for _ in range(n_tiers):
        kind, name = tokens[pos], tokens[pos + 1]
        count = int(tokens[pos + 4])
        pos += 5
        if kind == "IntervalTier":
            tiers[str(name)] = [
                Interval(float(tokens[pos + 3 * i]), float(tokens[pos + 3 * i + 1]), str(tokens[pos + 3 * i + 2]))
                for i in range(count)
            ]
            pos += 3 * count
        else:  # TextTier: (time, mark) pairs
            pos += 2 * count
    return tiers


def reference_words(path: str | Path, tier: str = "words", offset: float = 0.0) -> list[Interval]:
    """Non-empty word intervals of `tier` (first tier whose name contains 'word' if absent), shifted by `offset`."""
    tiers = read_textgrid(path)
    chosen = tiers.get(tier) or next((v for k, v in tiers.items() if "word" in k.lower()), None)
    if chosen is None:
        raise KeyError(f"no word tier in {path}: {sorted(tiers)}")
    return [
        Interval(i.start + offset, i.end + offset, i.text)
        for i in chosen
        if i.text.strip() and i.text.strip() not in ("sp", "sil", "<eps>")
    ]


def normalize_word(word: str) -> str:
    """Lowercase letters/digits/apostrophes only, for matching hypothesis and reference words."""
    return re.sub(r"[^a-z0-9']", "", word.lower().replace("\u2019", "'")).strip("'")


def match_words(hyp: Sequence[tuple[str, float, float]], ref: Sequence[Interval]) -> list[tuple[int, int]]:
    """Pairs (hyp index, ref index) of equal normalized words along a longest-common-subsequence path."""
    a = [normalize_word(w[0]) for w in hyp]
    b = [normalize_word(r.text) for r in ref]
    n, m = len(a), len(b)
    dp = np.zeros((n + 1, m + 1), dtype=np.int32)
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            dp[i, j] = dp[i + 1, j + 1] + 1 if a[i] and a[i] == b[j] else max(dp[i + 1, j], dp[i, j + 1])
    pairs: list[tuple[int, int]] = []
    i = j = 0
    while i < n and j < m:
        if a[i] and a[i] == b[j]:
            pairs.append((i, j))
            i += 1
            j += 1
        elif dp[i + 1, j] >= dp[i, j + 1]:
            i += 1
        else:
            j += 1
    return pairs


def timing_metrics(hyp: Sequence[tuple[str, float, float]], ref: Sequence[Interval], tolerance: float = 0.08) -> dict[str, float]:
    """Start-time accuracy of matched words: median / p90 |Δstart|, share within `tolerance`, mean signed Δ."""
    pairs = match_words(hyp, ref)
    if not pairs:
        return {
            "matched": 0,
            "ref_words": len(ref),
            "median_abs_start": float("nan"),
            "p90_abs_start": float("nan"),
            "within": 0.0,
            "mean_start_error": float("nan"),
        }
    delta = np.array([hyp[i][1] - ref[j].start for i, j in pairs])
    return {
        "matched": len(pairs),
        "ref_words": len(ref),
        "median_abs_start": float(np.median(np.abs(delta))),
        "p90_abs_start": float(np.percentile(np.abs(delta), 90)),
        "within": float(np.mean(np.abs(delta) <= tolerance)),
        "mean_start_error": float(delta.mean()),
    }
