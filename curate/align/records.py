"""The speech records every stage shares: one word type and one alignment record.

In the spirit of lhotse's `AlignmentItem`: small immutable values with a computed `duration`,
`with_offset`, and a JSON form that stays readable by every earlier version. An alignment record
is what `curate align` writes as `alignments/<id>.json` and what `curate shards` reads:

    {"id", "source", "duration", "sample_rate", "channels", "language",
     "alignments": [[word, [start, end], speaker], ...], ...quality and provenance fields}

which is moshi-finetune's per-file alignment layout plus our fields. Version 1 is the format
without a `version` key (every record written so far); a reader refuses a newer version with a
clear message instead of misreading it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

SPEAKER_MAIN = "SPEAKER_MAIN"  # Moshi's own stream (channel 0)
SPEAKER_OTHER = "SPEAKER_OTHER"  # everyone else (channel 1)
ASR_SAMPLE_RATE = 16000  # what the ASR, the VAD and the aligners read
RECORD_VERSION = 1


class BadAlignment(ValueError):
    """The alignment record is unusable (missing fields, malformed words)."""


@dataclass(frozen=True)
class Word:
    """One word of one speaker, times in seconds from the start of the file."""

    text: str
    start: float
    end: float
    probability: float | None = None
    speaker: str = SPEAKER_MAIN
    timing: str = "asr"  # asr | aligned | interpolated | repaired

    @property
    def duration(self) -> float:
        return self.end - self.start

    def with_offset(self, offset: float) -> Word:
        return replace(self, start=self.start + offset, end=self.end + offset)

    def to_json(self) -> list[Any]:
        """moshi-finetune's `[word, [start, end], speaker]`."""
        return [self.text, [self.start, self.end], self.speaker]

    @classmethod
    def from_json(cls, item: Any, probability: Any = None) -> Word:
        """`[word, [start, end], speaker]`, optionally with a 4th element: a probability or `{"probability": p}`."""
        try:
            text, span, speaker = item[0], item[1], item[2]
            start, end = float(span[0]), float(span[1])
            prob: Any = item[3] if len(item) > 3 else probability
            if isinstance(prob, Mapping):
                prob = prob.get("probability")
        except (TypeError, ValueError, IndexError, KeyError) as exc:
            raise BadAlignment(f"malformed word {item!r} ({exc})") from exc
        if not (math.isfinite(start) and math.isfinite(end)):
            raise BadAlignment(f"non-finite time in word {item!r}")
        return cls(str(text), start, end, float(prob) if isinstance(prob, (int, float)) else None, str(speaker))


@dataclass(frozen=True)
class AlignmentRecord:
    """One audio file's words per speaker, plus what the stage knows about the file (`fields`)."""

    id: str
    source: str
    words: tuple[Word, ...]
    fields: Mapping[str, Any] = field(default_factory=dict)  # duration, sample_rate, channels, language, quality, ...

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "source": self.source, **self.fields}
        out["alignments"] = [w.to_json() for w in self.words]
        out["word_probabilities"] = [w.probability for w in self.words]
        out["word_timing"] = [w.timing for w in self.words]
        return out

    @classmethod
    def from_json(cls, raw: Any, fallback_id: str = "item") -> AlignmentRecord:
        """Validate a record; its words sorted by start (stable). Raises BadAlignment."""
        if not isinstance(raw, Mapping):
            raise BadAlignment("record is not a JSON object")
        version = raw.get("version", 1)
        if version != RECORD_VERSION:
            raise BadAlignment(f"alignment record version {version!r} is not supported (this curate reads {RECORD_VERSION})")
        for key in ("source", "alignments"):
            if key not in raw:
                raise BadAlignment(f"missing field {key!r}")
        if not isinstance(raw["alignments"], list):
            raise BadAlignment("'alignments' is not a list")
        # per-word probabilities: a 4th element of each word, or a list parallel to `alignments`
        probabilities = next((raw[k] for k in ("word_probabilities", "probabilities") if isinstance(raw.get(k), list)), None)
        timings = raw.get("word_timing") if isinstance(raw.get("word_timing"), list) else []
        words = []
        for k, item in enumerate(raw["alignments"]):
            given = probabilities[k] if probabilities and k < len(probabilities) else None
            try:
                word = Word.from_json(item, given)
                if k < len(timings) and isinstance(timings[k], str):
                    word = replace(word, timing=timings[k])
                words.append(word)
            except BadAlignment as exc:
                raise BadAlignment(f"word #{k}: {exc}") from exc
        words.sort(key=lambda w: w.start)
        skip = {"id", "source", "alignments", "word_probabilities", "probabilities", "word_timing"}
        extra = {k: v for k, v in raw.items() if k not in skip}
        return cls(str(raw.get("id") or fallback_id), str(raw["source"]), tuple(words), extra)


def words_json(words: Sequence[Word]) -> list[list[Any]]:
    return [w.to_json() for w in words]
