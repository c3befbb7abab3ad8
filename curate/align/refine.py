"""Word-timing rules: repair, fallback interpolation, and forced-alignment refinement.

Whisper's word times (attention DTW) make each word start where the previous one ended, so starts
are early by ~120-140 ms and pauses are swallowed. `SphinxAligner` re-aligns the recognised words
against the audio with pocketsphinx's HMM forced alignment (en-US acoustic model + CMU dictionary
shipped in its wheel; offline, ~0.03-0.07 x realtime) and `refine_words` maps those times back
onto the words. Everything that is not alignment itself is a pure function with test vectors.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from curate.align.records import ASR_SAMPLE_RATE, Word

MIN_WORD_DURATION = 0.02  # seconds; repaired words get at least this


def repair_times(words: Sequence[Word], duration: float, min_duration: float = MIN_WORD_DURATION) -> tuple[list[Word], int, int]:
    """Clamp words into [0, duration] and give start >= end words a minimum duration.

    A word whose start is at or beyond `duration` cannot be repaired and is dropped.
    Returns (words, repaired, dropped).
    """
    out: list[Word] = []
    repaired = dropped = 0
    for w in words:
        if w.start >= duration:  # nothing of it is inside the audio
            dropped += 1
            continue
        start = min(max(0.0, w.start), duration)
        end = min(max(0.0, w.end), duration)
        if end > start:
            out.append(w if (start, end) == (w.start, w.end) else replace(w, start=start, end=end))
            continue
        if start + min_duration <= duration:
            out.append(replace(w, start=start, end=start + min_duration, timing="repaired"))
            repaired += 1
        elif duration >= min_duration:
            out.append(replace(w, start=duration - min_duration, end=duration, timing="repaired"))
            repaired += 1
        else:
            dropped += 1
    return out, repaired, dropped


def interpolate_missing(
    times: Sequence[tuple[float, float] | None], texts: Sequence[str], seg_start: float, seg_end: float
) -> list[tuple[float, float]]:
    """Fill words without timing (None) inside their segment.

    Each run of untimed words shares the gap between its timed neighbours (segment bounds at the
    edges) in proportion to its characters (at least one each), so times stay monotonic and
    inside the segment. Used for words a forced aligner could not place (numbers, symbols).
    """
    out: list[tuple[float, float] | None] = list(times)
    n = len(out)
    i = 0
    while i < n:
        if out[i] is not None:
            i += 1
            continue
        j = i
        while j < n and out[j] is None:
            j += 1
        left = out[i - 1][1] if i > 0 else seg_start  # type: ignore[index]
        right = out[j][0] if j < n else seg_end  # type: ignore[index]
        if right < left:
            right = left
        weights = np.array([max(1, len(t.strip())) for t in texts[i:j]], dtype=np.float64)
        edges = left + (right - left) * np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
        for k in range(i, j):
            out[k] = (float(edges[k - i]), float(edges[k - i + 1]))
        i = j
    return [t for t in out if t is not None]


_NON_WORD = re.compile(r"[^a-z']")
_DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def align_token(word: str) -> str:
    """Dictionary form of a recognised word: lowercase, digits spelled out, punctuation removed."""
    word = word.lower().replace("\u2019", "'")
    word = re.sub(r"\d", lambda m: f" {_DIGITS[int(m.group())]} ", word)
    return " ".join(p.strip("'") for p in _NON_WORD.sub(" ", word).split() if p.strip("'"))


# crude letter-to-phone fallback for words missing from the CMU dictionary
_LETTER_PHONES = {
    "a": "AE",
    "b": "B",
    "c": "K",
    "d": "D",
    "e": "EH",
    "f": "F",
    "g": "G",
    "h": "HH",
    "i": "IH",
    "j": "JH",
    "k": "K",
    "l": "L",
    "m": "M",
    "n": "N",
    "o": "AA",
    "p": "P",
    "q": "K",
    "r": "R",
    "s": "S",
    "t": "T",
    "u": "AH",
    "v": "V",
    "w": "W",
    "x": "K S",
    "y": "Y",
    "z": "Z",
}


def guess_pronunciation(word: str, lookup) -> str | None:  # noqa: ANN001 - lookup: str -> str | None
    """Pronunciation for an out-of-dictionary word: longest dictionary prefixes, else letters."""
    phones: list[str] = []
    rest = word.replace("'", "")
    while rest:
        for cut in range(len(rest), 0, -1):
            found = lookup(rest[:cut]) if cut >= 2 else None
            if found:
                phones.append(found)
                rest = rest[cut:]
                break
        else:
            phones.append(_LETTER_PHONES.get(rest[0], ""))
            rest = rest[1:]
    joined = " ".join(p for p in phones if p)
    return joined or None


def _pocketsphinx_model() -> tuple[str, str]:
    import pocketsphinx

    root = Path(pocketsphinx.__file__).parent / "model" / "en-us"
    return str(root / "en-us"), str(root / "cmudict-en-us.dict")


class SphinxAligner:
    """Word-level forced alignment with pocketsphinx (not thread-safe).

    Tries the beams in order: a path that does not reach the final state under the first (wide)
    beams often does under wider ones (cold_corpus.lab: fails at 1e-80, aligns at 1e-100).
    """

    frame_rate = 100  # pocketsphinx frames per second

    def __init__(self, beams: Sequence[tuple[float, float]] = ((1e-100, 1e-80),)) -> None:
        self.beams = tuple(beams)
        self._decoders: list = []
        self._added: set[str] = set()

    def _decoder(self, k: int):  # noqa: ANN202 - pocketsphinx.Decoder
        while len(self._decoders) <= k:
            from pocketsphinx import Decoder

            hmm, dictionary = _pocketsphinx_model()
            beam, wbeam = self.beams[len(self._decoders)]
            # cmn=batch: normalise each utterance on its own (the default live CMN adapts across calls)
            dec = Decoder(hmm=hmm, dict=dictionary, lm=None, loglevel="FATAL", beam=beam, wbeam=wbeam, pbeam=beam, cmn="batch")
            for word in sorted(self._added):
                dec.add_word(word, guess_pronunciation(word, dec.lookup_word) or "", True)
            self._decoders.append(dec)
        return self._decoders[k]

    def _ensure_in_dictionary(self, token: str) -> bool:
        decoder = self._decoder(0)
        if token in self._added or decoder.lookup_word(token) is not None:
            return True
        phones = guess_pronunciation(token, decoder.lookup_word)
        if not phones:
            return False
        try:
            for dec in self._decoders:
                dec.add_word(token, phones, True)
        except RuntimeError:
            return False
        self._added.add(token)
        return True

    def align(self, audio16k: np.ndarray, tokens: Sequence[str]) -> list[tuple[str, float, float]] | None:
        """Align `tokens` (dictionary words, in order) to mono 16 kHz audio; None if it fails.

        Returns one (token, start, end) per token, in order, times relative to the audio start.
        """
        words = [t for t in tokens if t]
        if not words or audio16k.size < 1600:
            return None
        if not all(self._ensure_in_dictionary(t) for t in words):
            return None
        pcm = (np.clip(audio16k, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        for k in range(len(self.beams)):
            out = self._align_once(self._decoder(k), pcm, words)
            if out is not None:
                return out
        return None

    def _align_once(self, decoder, pcm: bytes, words: list[str]) -> list[tuple[str, float, float]] | None:  # noqa: ANN001
        try:
            decoder.set_align_text(" ".join(words))
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            segs = list(decoder.seg() or [])
        except RuntimeError:
            return None
        out = []
        for seg in segs:
            name = re.sub(r"\(\d+\)$", "", seg.word)  # alternate pronunciations: the(2)
            if name.startswith(("<", "[", "+")) or name == "(NULL)":
                continue
            out.append((name, seg.start_frame / self.frame_rate, (seg.end_frame + 1) / self.frame_rate))
        return out if [w for w, _, _ in out] == words else None


def chunk_words(words: Sequence[Word], max_chunk: float = 30.0) -> list[tuple[int, int]]:
    """Split word indices into [i, j) runs of at most ~max_chunk seconds, cutting at the widest gaps.

    Forced alignment over a whole long file drifts and gets slow; cutting at pauses keeps each
    alignment problem short. Greedy: extend a chunk until it would exceed max_chunk, then cut at
    the widest gap inside it.
    """
    n = len(words)
    chunks: list[tuple[int, int]] = []
    i = 0
    while i < n:
        j = i + 1
        while j < n and words[j].end - words[i].start <= max_chunk:
            j += 1
        if j < n:
            gaps = [(words[k].start - words[k - 1].end, k) for k in range(i + 1, j + 1)]
            if gaps:
                j = max(gaps)[1]
        chunks.append((i, j))
        i = j
    return chunks


def refine_words(
    words: Sequence[Word],
    audio16k: np.ndarray,
    aligner: SphinxAligner | None = None,
    max_chunk: float = 60.0,
    margin: float = 1.0,
) -> tuple[list[Word], dict[str, int]]:
    """Re-time words with forced alignment, chunk by chunk.

    Files up to `max_chunk` seconds are aligned in one piece (most robust); longer ones in chunks
    cut at the widest pauses, each aligned between the midpoints of its surrounding pauses. A
    chunk that fails is retried without its doubtful words (ASR probability < 0.5, then
    interpolated), then split at its widest pause and retried (down to 2 words); what still
    fails keeps the ASR times. Words the dictionary mapping leaves empty
    (symbols) are interpolated. Returns (words, counts: aligned / interpolated / kept_asr).
    """
    # a fresh decoder per call (0.3 s): a reused one keeps adaptive state from earlier audio, so
    # a file's word times would depend on what the worker aligned before (not reproducible)
    aligner = aligner or SphinxAligner()
    out = list(words)
    counts = {"aligned": 0, "interpolated": 0, "kept_asr": 0}
    chunks = chunk_words(words, max_chunk=max_chunk)
    for ci, (i, j) in enumerate(chunks):
        # chunk bounds sit in the middle of the pause between chunks, `margin` s beyond the first
        # and last word (long leading silence, e.g. the quiet half of a dialogue channel, makes
        # the alignment fail)
        lo = (words[i - 1].end + words[i].start) / 2 if ci > 0 else words[0].start - margin
        hi = (words[j - 1].end + words[j].start) / 2 if j < len(words) else words[-1].end + margin
        _refine_span(words, out, counts, audio16k, aligner, i, j, lo, hi)
    return out, counts


DOUBTFUL = 0.5  # ASR word probability below which a word may be left out of a failed alignment


def _try_align(
    aligner: SphinxAligner, audio: np.ndarray, tokens: list[str], span: float
) -> list[tuple[str, float, float]] | None:
    # multi-part tokens ("1961" -> "one nine six one") are aligned as separate dictionary words
    flat = [p for t in tokens for p in t.split()]
    return aligner.align(audio, flat) if flat and span >= 0.1 else None


def _refine_span(
    words: Sequence[Word],
    out: list[Word],
    counts: dict[str, int],
    audio16k: np.ndarray,
    aligner: SphinxAligner,
    i: int,
    j: int,
    lo: float,
    hi: float,
) -> None:
    sr = ASR_SAMPLE_RATE
    lo, hi = max(0.0, lo), min(hi, audio16k.shape[-1] / sr)
    tokens = [align_token(w.text) for w in words[i:j]]
    aligned = _try_align(aligner, audio16k[int(lo * sr) : int(hi * sr)], tokens, hi - lo)
    if aligned is None:
        # likely a misrecognised word: retry without the doubtful ones (they are interpolated)
        doubtful = [w.probability is not None and w.probability < DOUBTFUL for w in words[i:j]]
        if any(doubtful) and not all(doubtful):
            tokens = ["" if d else t for t, d in zip(tokens, doubtful, strict=True)]
            aligned = _try_align(aligner, audio16k[int(lo * sr) : int(hi * sr)], tokens, hi - lo)
    if aligned is None:
        if j - i >= 4:  # retry the halves, cut at the widest pause
            k = max((words[k].start - words[k - 1].end, k) for k in range(i + 1, j))[1]
            mid = (words[k - 1].end + words[k].start) / 2
            _refine_span(words, out, counts, audio16k, aligner, i, k, lo, mid)
            _refine_span(words, out, counts, audio16k, aligner, k, j, mid, hi)
        else:
            counts["kept_asr"] += j - i
        return
    times: list[tuple[float, float] | None] = []
    pos = 0
    for t in tokens:
        parts = t.split()
        if not parts:
            times.append(None)
            continue
        times.append((lo + aligned[pos][1], lo + aligned[pos + len(parts) - 1][2]))
        pos += len(parts)
    filled = interpolate_missing(times, [w.text for w in words[i:j]], lo, hi)
    for k, (t, (start, end)) in enumerate(zip(times, filled, strict=True)):
        out[i + k] = replace(words[i + k], start=round(start, 3), end=round(end, 3), timing="aligned" if t else "interpolated")
        counts["aligned" if t else "interpolated"] += 1
