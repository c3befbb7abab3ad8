"""Inner Monologue text stream: words with timestamps -> one text token per Mimi frame (12.5 Hz).

Moshi predicts text as a stream aligned with the audio frames: a word's tokens go at the frame in
which the word starts, the other frames are PAD, and the PAD just before a word becomes EPAD (end of
padding). The rule reproduces moshi-finetune's `Interleaver.build_token_stream`, so shards built here
train exactly like the trainer's own per-file JSON.

Pure and dependency-light (no numpy): used by the shard writer, the tests and the benchmark.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from curate.align.records import SPEAKER_MAIN

FRAME_RATE = 12.5  # Mimi: 24 kHz audio, 1,920 samples = 80 ms per frame

# Moshi 7B text ids (tokenizer_spm_32k_3): PAD = 3 (the SentencePiece pad id), EPAD = 0, zero token = -1.
PAD = 3
EPAD = 0
ZERO = -1


@dataclass(frozen=True)
class TextStreamConfig:
    frame_rate: float = FRAME_RATE
    pad: int = PAD
    epad: int = EPAD
    in_word_pad: int | None = None  # pad inside a word after its tokens; None = same as `pad`
    zero: int = ZERO
    keep_and_shift: bool = False  # False: an unfinished word is cut by the next one; True: tokens queue up
    audio_delay: float = 0.0  # seconds; > 0 text ahead of audio (TTS-like), < 0 text behind (ASR-like)
    main_speaker: str = SPEAKER_MAIN

    @property
    def in_word(self) -> int:
        return self.pad if self.in_word_pad is None else self.in_word_pad


@dataclass(frozen=True)
class TimedWord:
    """One word of the main speaker, tokenized on its own, with its time span in seconds."""

    tokens: tuple[int, ...]
    start: float
    end: float


def num_frames(duration: float, frame_rate: float = FRAME_RATE) -> int:
    """ceil(duration * frame_rate); a tiny tolerance keeps float noise (e.g. 0.08 * 12.5) from adding a frame."""
    return max(0, math.ceil(duration * frame_rate - 1e-9))


def build_text_stream(words: Iterable[TimedWord], duration: float, config: TextStreamConfig = TextStreamConfig()) -> list[int]:
    """The text stream of one speaker over [0, duration): `num_frames(duration)` token ids."""
    f = config.frame_rate
    pad, epad, in_word = config.pad, config.epad, config.in_word
    delay = config.audio_delay
    kept = sorted((w for w in words if w.start < w.end), key=lambda w: w.start)  # stable: ties keep input order
    if delay != 0:
        # moshi-finetune semantics: shift every word by -delay, drop the ones that end before the shift
        kept = [TimedWord(w.tokens, w.start - delay, w.end - delay) for w in kept if w.end > delay]

    n = num_frames(duration, f)
    out = [pad] * n
    i = 0
    queue: list[int] = []
    last_end = -1
    for t in range(n):
        while i < len(kept) and kept[i].start * f < t + 1:  # floor(start * f) <= t
            if config.keep_and_shift:
                queue.extend(kept[i].tokens)
            else:
                queue = list(kept[i].tokens)
            last_end = int(kept[i].end * f)
            i += 1
        if queue:
            if t > 0 and out[t - 1] in (pad, in_word):
                out[t - 1] = epad
            out[t] = queue.pop(0)
        elif t <= last_end:
            out[t] = in_word
    if delay < 0:
        # ASR-like: the text lags the audio; its first frames carry no text at all (zero token)
        for t in range(min(n, int(f * -delay))):
            out[t] = config.zero
    return out


def tokenize_word(word: str, encode: Callable[[str], list[int]], newline_id: int | None = None) -> tuple[int, ...]:
    """Tokens of one word encoded on its own (no BOS), as moshi-finetune's `tokenize(word.strip(), bos=False)`:
    the stripped word is split at newlines, each line encoded as it is, and the newline piece goes
    between lines (only there). `newline_id` None (a tokenizer that encodes "\n" to nothing): lines are
    simply concatenated, where moshi-finetune would fail."""
    tokens: list[int] = []
    for k, part in enumerate(word.strip().split("\n")):
        if k and newline_id is not None:
            tokens.append(newline_id)
        tokens.extend(encode(part) if part else ())
    return tuple(tokens)


def main_speaker_words(
    alignments: Sequence[Sequence[object]],
    encode: Callable[[str], list[int]],
    newline_id: int | None = None,
    main_speaker: str = SPEAKER_MAIN,
) -> list[TimedWord]:
    """`[[word, [start, end], speaker], ...]` -> the main speaker's TimedWords, sorted by start."""
    words = []
    for item in alignments:
        word, (start, end), speaker = item[0], item[1], item[2]  # type: ignore[misc]
        if speaker != main_speaker or float(start) >= float(end):  # type: ignore[arg-type]
            continue
        words.append(TimedWord(tokenize_word(str(word), encode, newline_id), float(start), float(end)))  # type: ignore[arg-type]
    return sorted(words, key=lambda w: w.start)


def window_starts(duration: float, window: float) -> list[float]:
    """Starts of the windows [s, s + window) that cover [0, duration); the last one may run past the end."""
    if window <= 0:
        raise ValueError("window must be > 0 seconds")
    count = max(1, math.ceil(duration / window - 1e-9)) if duration > 0 else 0
    return [k * window for k in range(count)]


def window_words(words: Sequence[TimedWord], start: float, window: float) -> list[TimedWord]:
    """The words whose *start* lies in [start, start + window), shifted by -start (they may end past the window)."""
    return [TimedWord(w.tokens, w.start - start, w.end - start) for w in words if start <= w.start < start + window]
