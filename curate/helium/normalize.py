"""Line normalization applied before hashing.

`strip` (default): surrounding whitespace removed, nothing else -- two lines are duplicates when
they are byte-identical apart from indentation and trailing spaces (Moshi / Dolma style).

`ccnet`: as CCNet's `normalize_for_dedup`: lowercase, accents removed, every digit -> 0, Unicode
punctuation removed, runs of whitespace collapsed. Catches "Page 3 of 10" vs "Page 4 of 10".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Literal

Normalization = Literal["strip", "ccnet"]

_DIGITS = re.compile(r"\d")
_SPACES = re.compile(r"\s+")


def _is_punctuation(char: str) -> bool:
    return unicodedata.category(char).startswith("P")


def normalize_strip(line: str) -> str:
    return line.strip()


def normalize_ccnet(line: str) -> str:
    text = unicodedata.normalize("NFD", line.strip().lower())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn" and not _is_punctuation(c))
    text = _DIGITS.sub("0", text)
    return _SPACES.sub(" ", text).strip()


NORMALIZERS: dict[str, Callable[[str], str]] = {"strip": normalize_strip, "ccnet": normalize_ccnet}


def get_normalizer(name: str) -> Callable[[str], str]:
    try:
        return NORMALIZERS[name]
    except KeyError:
        raise ValueError(f"unknown normalization {name!r}; choose one of {sorted(NORMALIZERS)}") from None
