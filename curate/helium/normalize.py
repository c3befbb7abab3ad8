"""Line normalization applied before hashing.

`strip` (default): surrounding whitespace removed, nothing else -- two lines are duplicates when
they are byte-identical apart from indentation and trailing spaces (Moshi / Dolma style).

`ccnet`: as CCNet's `normalize_for_dedup`: lowercase, accents removed, every digit -> 0, Unicode
punctuation removed, runs of whitespace collapsed. Catches "Page 3 of 10" vs "Page 4 of 10".

`normalize_lines` normalizes a whole document at once: for `ccnet` the same result as the per-line
function (tested), in a few C-level passes over the joined text (lower, NFD, one regex removing
combining marks and punctuation, digits, whitespace) instead of a Python test per character.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

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


_KEEP, _REMOVE, _DIGIT, _SPACE = 0, 1, 2, 3


@functools.cache
def _ccnet_table() -> np.ndarray:
    """uint8 per code point: what `normalize_ccnet` does with it after lower + NFD: keep, remove
    (category Mn or P*), digit -> "0" (regex `\\d`), whitespace (regex `\\s`, newline aside)."""
    every = np.arange(sys.maxunicode + 1, dtype=np.uint32)
    every[0xD800:0xE000] = 0x20  # lone surrogates: not decodable on their own; category Cs (kept) below
    text = every.tobytes().decode("utf-32-le")
    cats = np.frombuffer("".join(map(unicodedata.category, text)).encode("ascii"), dtype=np.uint8).reshape(-1, 2)
    table = np.zeros(sys.maxunicode + 1, dtype=np.uint8)
    table[(cats[:, 0] == ord("P")) | ((cats[:, 0] == ord("M")) & (cats[:, 1] == ord("n")))] = _REMOVE
    as_cp = lambda marked: np.frombuffer(marked.encode("utf-32-le"), dtype=np.uint32)  # noqa: E731
    table[as_cp(_DIGITS.sub("\x00", text)) == 0] = _DIGIT
    table[as_cp(re.sub(r"\s", "\x00", text)) == 0] = _SPACE
    table[0] = _KEEP  # NUL (marked above as neither)
    table[0xD800:0xE000] = _KEEP
    table[ord("\n")] = _KEEP
    return table


def normalize_ccnet_lines(lines: Sequence[str]) -> list[str]:
    """`normalize_ccnet` of every line (lines without "\\n"), computed on the joined document: lower
    and NFD on the whole text, then one table lookup per code point (numpy) instead of Python per
    character."""
    if not lines:
        return []
    text = unicodedata.normalize("NFD", "\n".join(lines).lower())
    cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    cls = _ccnet_table()[cp]
    keep = cls != _REMOVE
    cp, cls = cp[keep], cls[keep]
    cp[cls == _DIGIT] = ord("0")
    space = cls == _SPACE
    if space.any():  # each run of whitespace -> one " ", none at the start or end of a line
        padded = np.concatenate(([False], space, [False]))
        starts = np.flatnonzero(padded[1:-1] & ~padded[:-2])
        ends = np.flatnonzero(padded[1:-1] & ~padded[2:]) + 1
        at_start = (starts == 0) | (cp[np.maximum(starts - 1, 0)] == 10)
        at_end = (ends == cp.size) | (cp[np.minimum(ends, cp.size - 1)] == 10)
        out = ~space
        kept = starts[~at_start & ~at_end]
        out[kept] = True
        cp = cp.copy()
        cp[kept] = 0x20
        cp = cp[out]
    return cp.tobytes().decode("utf-32-le", "surrogatepass").split("\n")


def normalize_lines(lines: Sequence[str], normalize: Callable[[str], str]) -> list[str]:
    """`normalize` of every line; the batch form when there is one (same result)."""
    batch = _BATCH.get(normalize)
    if batch is not None:
        return batch(lines)
    return [normalize(line) for line in lines]


NORMALIZERS: dict[str, Callable[[str], str]] = {"strip": normalize_strip, "ccnet": normalize_ccnet}
_BATCH: dict[Callable[[str], str], Callable[[Sequence[str]], list[str]]] = {normalize_ccnet: normalize_ccnet_lines}


def get_normalizer(name: str) -> Callable[[str], str]:
    try:
        return NORMALIZERS[name]
    except KeyError:
        raise ValueError(f"unknown normalization {name!r}; choose one of {sorted(NORMALIZERS)}") from None
