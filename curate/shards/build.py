"""One alignment record -> the moshi-finetune files and the training-shard rows of its windows.

Everything here is per file and deterministic: the same record and audio give the same WAV, JSON,
FLAC bytes and text streams whatever process runs it, which is what makes the shards
byte-identical whatever the number of workers.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from curate.align.diarization import overlap_share
from curate.align.records import AlignmentRecord, Word, words_json
from curate.core import storage
from curate.core.config import build_config, read_yaml, stage_options
from curate.core.storage import atomic_path, write_bytes_atomic
from curate.shards.stream import (
    FRAME_RATE,
    SPEAKER_MAIN,
    TextStreamConfig,
    build_text_stream,
    main_speaker_words,
    window_starts,
    window_words,
)

SAMPLE_RATE = 24000  # Mimi's input rate
MOSHI_DIR = "moshi"
STEREO_DIR = "data_stereo"
# keys of an alignment record that are not alignment-quality fields
_RECORD_KEYS = {
    "id", "source", "duration", "sample_rate", "channels", "language", "alignments", "main_segments", "stream_mode", "main_channel",
    "word_probabilities", "probabilities", "word_timing", "diarization_turns",
}  # fmt: skip


@dataclass
class ShardsConfig:
    formats: list[str] = field(default_factory=lambda: ["moshi", "parquet"])  # moshi | parquet
    window: float = 100.0  # seconds per training window (moshi-finetune's duration_sec)
    shard_size_mb: float = 256.0  # a shard file is closed once its audio bytes pass this
    files_per_part: int = 16  # alignment files per unit of work (resume and parallelism granularity)
    rows_per_group: int = 4  # Parquet row group = a few windows: readers stream with bounded memory
    tokenizer: str | None = None  # a SentencePiece model (Moshi's tokenizer_spm_32k_3.model or `curate train tokenizer`)
    sample_rate: int = SAMPLE_RATE
    frame_rate: float = FRAME_RATE
    pad: int = 3
    epad: int = 0
    in_word_pad: int | None = None
    zero: int = -1
    keep_and_shift: bool = False
    audio_delay: float = 0.0
    main_speaker: str = SPEAKER_MAIN
    mimi_weights: str | None = None  # optional: Mimi codes per window (extra curate[mimi])
    mimi_device: str | None = None  # None = cuda when available
    # diarized mono records: drop windows whose overlapped-speech share (from `diarization_turns`) is above this
    max_overlap_share: float | None = None

    def stream_config(self) -> TextStreamConfig:
        return TextStreamConfig(
            frame_rate=self.frame_rate,
            pad=self.pad,
            epad=self.epad,
            in_word_pad=self.in_word_pad,
            zero=self.zero,
            keep_and_shift=self.keep_and_shift,
            audio_delay=self.audio_delay,
            main_speaker=self.main_speaker,
        )

    def validate(self) -> None:
        unknown = set(self.formats) - {"moshi", "parquet"}
        if unknown or not self.formats:
            raise ValueError(f"--format must be moshi, parquet or both, not {','.join(sorted(unknown)) or 'nothing'}")
        if self.window <= 0 or self.files_per_part < 1 or self.shard_size_mb <= 0 or self.rows_per_group < 1:
            raise ValueError("--window, --shard-size, files_per_part and rows_per_group must be > 0")
        if "parquet" in self.formats and not self.tokenizer:
            raise ValueError(
                "Parquet shards need a text tokenizer: pass --tokenizer PATH (a SentencePiece model, e.g. Moshi's "
                "tokenizer_spm_32k_3.model, or one from `curate train tokenizer`)"
            )
        if self.tokenizer and not Path(self.tokenizer).is_file():
            raise ValueError(f"tokenizer not found: {self.tokenizer}")
        if self.max_overlap_share is not None and not 0.0 <= self.max_overlap_share <= 1.0:
            raise ValueError("--max-overlap-share must be within [0, 1]")
        if (self.sample_rate / self.frame_rate) != int(self.sample_rate / self.frame_rate):
            raise ValueError("sample_rate must be a whole number of samples per frame")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "the shards options") -> ShardsConfig:
        values = dict(data)
        for name in (
            "window",
            "shard_size_mb",
            "frame_rate",
            "audio_delay",
            "max_overlap_share",
        ):  # YAML `256` is an int: same config, same stats bytes
            if isinstance(values.get(name), int):
                values[name] = float(values[name])
        return build_config(cls, values, source)

    def override(self, **values: Any) -> ShardsConfig:
        """A copy with the values that are not None (CLI options win over the YAML)."""
        data = self.to_dict()
        data.update({k: v for k, v in values.items() if v is not None})
        return ShardsConfig.from_dict(data)


def load_pipeline_yaml(path: str | Path) -> tuple[dict[str, Any], ShardsConfig]:
    """`pipelines/inner_monologue.yaml`: (align stage options, shards config)."""
    raw = read_yaml(path)
    unknown = sorted(set(raw.get("stages") or {}) - {"align", "shards"})
    if unknown:
        raise ValueError(f"{path}: unknown stages {', '.join(unknown)} (expected align, shards)")
    return stage_options(raw, "align"), ShardsConfig.from_dict(stage_options(raw, "shards"), str(path))


class WordTokenizer:
    """A SentencePiece model used the way moshi-finetune does: each word encoded on its own, no BOS."""

    def __init__(self, model_path: str) -> None:
        import sentencepiece as spm

        self.processor = spm.SentencePieceProcessor(model_file=str(model_path))
        # moshi-finetune's newline piece: `tokenizer.encode("\n")[-1]`; none when "\n" encodes to nothing
        newline = self.processor.encode("\n")
        self.newline_id: int | None = newline[-1] if newline else None

    def encode(self, text: str) -> list[int]:
        return list(self.processor.encode(text))


WORD_TYPE = pa.struct(
    [
        ("word", pa.string()),
        ("start", pa.float64()),
        ("end", pa.float64()),
        ("speaker", pa.string()),
        ("probability", pa.float32()),
    ]
)


# Hugging Face `datasets` Audio storage: the FLAC bytes and a file name (what `Audio().encode_example` writes)
AUDIO_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def hf_features(sample_rate: int = SAMPLE_RATE) -> dict[str, Any]:
    """The `datasets` features the shards declare in their Arrow schema metadata (key `huggingface`).

    Only `audio` needs one (an `Audio` feature: `datasets` >= 4 decodes it with torchcodec to the
    stereo 24 kHz array); every other column keeps the feature `datasets` infers from its Arrow type
    (`text_tokens` list<int32> -> a sequence of int32), so the metadata stays readable by old and new
    `datasets` versions alike (only keys every version's `Audio` knows).
    """
    return {"audio": {"_type": "Audio", "sampling_rate": sample_rate, "decode": True}}


def shard_schema(with_codes: bool = False, sample_rate: int = SAMPLE_RATE) -> pa.Schema:
    fields = [
        ("id", pa.string()),
        ("source", pa.string()),
        ("window_index", pa.int32()),
        ("window_start", pa.float64()),
        ("duration", pa.float64()),
        ("valid_duration", pa.float64()),
        ("padded", pa.bool_()),
        ("sample_rate", pa.int32()),
        ("audio", AUDIO_TYPE),
        ("num_frames", pa.int32()),
        ("text_tokens", pa.list_(pa.int32())),
        ("words", pa.list_(WORD_TYPE)),
        ("language", pa.string()),
        ("quality", pa.string()),
        ("overlap_share", pa.float64()),  # share of the window's speech with 2+ speakers (diarized mono), else null
    ]
    if with_codes:
        fields.append(("codes", pa.list_(pa.list_(pa.int16()))))
    metadata = {"huggingface": json.dumps({"info": {"features": hf_features(sample_rate)}}, sort_keys=True)}
    return pa.schema(fields, metadata=metadata)


def safe_id(value: str) -> str:
    """A file-name-safe id (ids become `data_stereo/<id>.wav`)."""
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", value).strip("._") or "item"


def parse_record(raw: Mapping[str, Any], fallback_id: str) -> tuple[str, list[Word]]:
    """Validate an `alignments/<id>.json` record: its file-name-safe id and its words sorted by start."""
    record = AlignmentRecord.from_json(raw, fallback_id)
    return safe_id(record.id), list(record.words)


def quality_fields(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Fields the align stage added beyond the core ones (probabilities, rates, a `quality` mapping), kept as JSON."""
    out: dict[str, Any] = {}
    for key, value in sorted(raw.items()):
        if key in _RECORD_KEYS:
            continue
        if isinstance(value, (int, float, str, bool)) or (
            isinstance(value, Mapping) and all(isinstance(v, (int, float, str, bool)) or v is None for v in value.values())
        ):
            out[key] = value
    return out


def load_streams(raw: Mapping[str, Any], sample_rate: int) -> np.ndarray:
    """[2, n] float32 at `sample_rate`: channel 0 the main speaker, channel 1 the other stream or silence."""
    from curate.align.audio import stereo_streams

    return stereo_streams(raw, sample_rate=sample_rate)


def pcm16(audio: np.ndarray) -> np.ndarray:
    """Quantize once, so the WAV, the FLAC and the Mimi input all see the same samples."""
    return (np.clip(audio, -1.0, 1.0 - 1.0 / 32768) * 32768.0).round().astype(np.int16)


def encode_flac(samples: np.ndarray, sample_rate: int) -> bytes:
    """[channels, n] int16 -> FLAC bytes (lossless; libsndfile writes no timestamps: deterministic)."""
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, samples.T, sample_rate, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def write_moshi_files(
    output_dir: str | Path, item_id: str, samples: np.ndarray, sample_rate: int, words: Sequence[Word]
) -> dict[str, Any]:
    """`moshi/data_stereo/<id>.wav` + `<id>.json` (the trainer's per-file alignments); returns its manifest line."""
    import soundfile as sf

    folder = storage.join(output_dir, MOSHI_DIR, STEREO_DIR)
    with atomic_path(storage.join(folder, f"{item_id}.wav")) as tmp:
        sf.write(str(tmp), samples.T, sample_rate, format="WAV", subtype="PCM_16")
    alignments = words_json(words)
    write_bytes_atomic(
        storage.join(folder, f"{item_id}.json"), (json.dumps({"alignments": alignments}, ensure_ascii=False) + "\n").encode()
    )
    return {"path": f"{STEREO_DIR}/{item_id}.wav", "duration": samples.shape[1] / sample_rate}


def window_rows(
    item_id: str,
    raw: Mapping[str, Any],
    words: Sequence[Word],
    samples: np.ndarray,
    config: ShardsConfig,
    tokenizer: WordTokenizer,
    stats: dict[str, int | float],
) -> list[dict[str, Any]]:
    """The training rows of one file: one per window of `config.window` seconds, the last padded."""
    sr = config.sample_rate
    n = samples.shape[1]
    duration = n / sr
    stream_config = config.stream_config()
    timed = main_speaker_words(words_json(words), tokenizer.encode, tokenizer.newline_id, config.main_speaker)
    window_samples = int(round(config.window * sr))
    quality = json.dumps(quality_fields(raw), sort_keys=True, ensure_ascii=False)
    rows = []
    turns = [(str(t[0]), float(t[1]), float(t[2])) for t in raw.get("diarization_turns") or []]
    for index, start in enumerate(window_starts(duration, config.window)):
        overlap = overlap_share(turns, start, start + config.window) if turns else None
        if overlap is not None and config.max_overlap_share is not None and overlap > config.max_overlap_share:
            stats["windows_dropped_overlap"] += 1
            continue
        first = int(round(start * sr))
        chunk = samples[:, first : first + window_samples]
        valid = chunk.shape[1]
        if valid < window_samples:
            chunk = np.pad(chunk, ((0, 0), (0, window_samples - valid)))
        tokens = build_text_stream(window_words(timed, start, config.window), config.window, stream_config)
        in_window = [w for w in words if start <= w.start < start + config.window]
        rows.append(
            {
                "id": item_id,
                "source": str(raw.get("source", "")),
                "window_index": index,
                "window_start": start,
                "duration": config.window,
                "valid_duration": valid / sr,
                "padded": valid < window_samples,
                "sample_rate": sr,
                "audio": {"bytes": encode_flac(chunk, sr), "path": f"{item_id}-{index:05d}.flac"},
                "num_frames": len(tokens),
                "text_tokens": tokens,
                "words": [
                    {
                        "word": w.text,
                        "start": w.start - start,
                        "end": w.end - start,
                        "speaker": w.speaker,
                        "probability": w.probability,
                    }
                    for w in in_window
                ],
                "language": raw.get("language"),
                "quality": quality,
                "overlap_share": overlap,
                "_pcm": chunk,  # for the optional Mimi codes; dropped before writing
            }
        )
        frames = len(tokens)
        stats["windows"] += 1
        stats["windows_padded"] += int(valid < window_samples)
        stats["frames"] += frames
        stats["pad_frames"] += sum(1 for t in tokens if t == config.pad or t == stream_config.in_word)
        stats["epad_frames"] += sum(1 for t in tokens if t == config.epad)
        stats["zero_frames"] += sum(1 for t in tokens if t == config.zero)
        stats["audio_bytes"] += len(rows[-1]["audio"]["bytes"])
    return rows
