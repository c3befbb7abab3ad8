"""Audio decoding, resampling and the speaker-stream layout shared by the align and shards stages.

- `decode_audio(path)` -> float32 [channels, samples] at the file's native rate. soundfile
  (libsndfile) first for wav/flac/ogg (exact, fast), PyAV (ffmpeg) for mp3/m4a and whatever
  libsndfile refuses. Broken input raises `AudioDecodeError` with a readable reason.
- `resample(audio, sr_in, sr_out)`: soxr (polyphase/sinc, "HQ"), deterministic.
- `stereo_streams(record, sample_rate)`: re-decodes an `alignments/<id>.json` record's `source` and
  rebuilds exactly the two streams the align stage transcribed: (main speaker, other or silence).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

OUTPUT_SAMPLE_RATE = 24000

# Stream layouts (stored as `stream_mode` in alignments/<id>.json).
MODE_STEREO = "stereo"  # two channels = two speakers; `main_channel` says which one is Moshi's side
MODE_MONO = "mono"  # one stream with every speaker (channel 1 = silence)
MODE_DIARIZED = "diarized"  # mono split by a binary mask over the main speaker's `main_segments`


class AudioDecodeError(Exception):
    """The file could not be decoded into finite audio samples."""


def _decode_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return np.ascontiguousarray(data.T), int(sr)


def _decode_av(path: Path) -> tuple[np.ndarray, int]:
    import av

    chunks: list[np.ndarray] = []
    with av.open(str(path)) as container:
        streams = [s for s in container.streams if s.type == "audio"]
        if not streams:
            raise AudioDecodeError("no audio stream")
        stream = streams[0]
        sr = int(stream.codec_context.sample_rate or stream.rate or 0)
        channels = int(stream.codec_context.channels or 0)
        for frame in container.decode(stream):
            arr = frame.to_ndarray()
            # planar formats are [channels, n]; packed ones [1, n*channels] interleaved
            if frame.format.is_planar:
                arr = arr.reshape(len(frame.layout.channels), -1)
            else:
                arr = arr.reshape(-1, len(frame.layout.channels)).T
            chunks.append(_to_float32(arr))
    if not chunks:
        raise AudioDecodeError("no audio frames decoded")
    audio = np.concatenate(chunks, axis=1)
    if channels and audio.shape[0] != channels:
        raise AudioDecodeError(f"decoded {audio.shape[0]} channels, stream declares {channels}")
    if sr <= 0:
        raise AudioDecodeError("unknown sample rate")
    return np.ascontiguousarray(audio), sr


def _to_float32(arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind == "f":
        return arr.astype(np.float32, copy=False)
    if arr.dtype.kind == "i":
        return (arr.astype(np.float32) / float(2 ** (8 * arr.dtype.itemsize - 1))).astype(np.float32)
    if arr.dtype.kind == "u":
        half = float(2 ** (8 * arr.dtype.itemsize - 1))
        return ((arr.astype(np.float32) - half) / half).astype(np.float32)
    raise AudioDecodeError(f"unsupported sample type {arr.dtype}")


def decode_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode any of wav/flac/mp3/ogg/m4a into float32 [channels, samples] at the native rate."""
    path = Path(path)
    if not path.is_file():
        raise AudioDecodeError(f"not a file: {path}")
    if path.stat().st_size == 0:
        raise AudioDecodeError("empty file (0 bytes)")
    errors: list[str] = []
    audio: np.ndarray | None = None
    sr = 0
    # The extension is only a hint: a wrong one must still decode (libsndfile and ffmpeg sniff content).
    for decoder in (_decode_soundfile, _decode_av):
        try:
            audio, sr = decoder(path)
            if audio.size:
                break
            errors.append(f"{decoder.__name__.lstrip('_')}: no samples")
        except AudioDecodeError as exc:
            errors.append(f"{decoder.__name__.lstrip('_')}: {exc}")
        except Exception as exc:  # noqa: BLE001 - every decoder failure becomes a readable reason
            errors.append(f"{decoder.__name__.lstrip('_')}: {type(exc).__name__}: {exc}")
        audio = None
    if audio is None or not audio.size:
        raise AudioDecodeError("cannot decode audio (" + "; ".join(errors) + ")")
    if sr <= 0:
        raise AudioDecodeError(f"invalid sample rate {sr}")
    if not np.isfinite(audio).all():
        bad = int((~np.isfinite(audio)).sum())
        raise AudioDecodeError(f"{bad} non-finite samples (NaN/inf)")
    return audio, sr


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample float32 [channels, n] (or [n]) with soxr HQ; identity when the rates match."""
    audio = np.asarray(audio, dtype=np.float32)
    if sr_in == sr_out:
        return audio.copy()
    import soxr

    if audio.ndim == 1:
        return soxr.resample(audio, sr_in, sr_out, quality="HQ").astype(np.float32, copy=False)
    out = soxr.resample(np.ascontiguousarray(audio.T), sr_in, sr_out, quality="HQ")
    return np.ascontiguousarray(np.asarray(out, dtype=np.float32).T.reshape(audio.shape[0], -1))


def segments_mask(segments: Sequence[Sequence[float]], n: int, sample_rate: int) -> np.ndarray:
    """Boolean mask of length n, True inside any [start, end) segment (seconds)."""
    mask = np.zeros(n, dtype=bool)
    for start, end in segments:
        a = max(0, int(round(float(start) * sample_rate)))
        b = min(n, int(round(float(end) * sample_rate)))
        if b > a:
            mask[a:b] = True
    return mask


def layout_streams(
    audio: np.ndarray,
    sample_rate: int,
    mode: str,
    main_channel: int = 0,
    main_segments: Sequence[Sequence[float]] = (),
) -> np.ndarray:
    """The align stage's rule: float32 [channels, n] -> [2, n] = (main speaker, other or silence).

    stereo: channel `main_channel` is the main speaker, the other channel the other speaker.
    mono: the (downmixed) signal is the single stream, channel 1 is silence.
    diarized: binary mask over the mono waveform: main speaker's segments -> channel 0, the rest
    -> channel 1 (the Moshi paper's simulated multi-stream).
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None, :]
    n = audio.shape[1]
    if mode == MODE_STEREO:
        if audio.shape[0] != 2:
            raise ValueError(f"stereo layout needs 2 channels, got {audio.shape[0]}")
        if main_channel not in (0, 1):
            raise ValueError(f"main_channel must be 0 or 1, got {main_channel}")
        return np.stack([audio[main_channel], audio[1 - main_channel]]).astype(np.float32)
    mono = downmix(audio)
    if mode == MODE_MONO:
        return np.stack([mono, np.zeros(n, dtype=np.float32)])
    if mode == MODE_DIARIZED:
        mask = segments_mask(main_segments, n, sample_rate)
        return np.stack([np.where(mask, mono, 0.0), np.where(mask, 0.0, mono)]).astype(np.float32)
    raise ValueError(f"unknown stream mode {mode!r}")


def downmix(audio: np.ndarray) -> np.ndarray:
    """Mean over channels -> float32 [n]."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        return audio
    return audio.mean(axis=0).astype(np.float32) if audio.shape[0] > 1 else audio[0].copy()


def stereo_streams(record: Mapping[str, Any], sample_rate: int = OUTPUT_SAMPLE_RATE) -> np.ndarray:
    """Re-decode `record["source"]` and return float32 [2, n] at `sample_rate` as the align stage saw it.

    Uses `stream_mode` (default: stereo for 2-channel sources, else mono), `main_channel` and
    `main_segments` from the record. The length is exactly round(duration * sample_rate) where
    the record gives `duration`, so durations stay consistent across stages.
    """
    from curate.core.storage import local_copy

    with local_copy(record["source"]) as local:  # the source may be an object in a bucket
        audio, sr = decode_audio(local)
    mode = record.get("stream_mode") or (MODE_STEREO if audio.shape[0] == 2 else MODE_MONO)
    # resample first, then lay out: the diarization mask stays sample-exact at the output rate
    # (masking first would let the resampler's filter ring across mask edges)
    out = layout_streams(
        resample(audio, sr, sample_rate),
        sample_rate,
        mode,
        main_channel=int(record.get("main_channel", 0) or 0),
        main_segments=record.get("main_segments", ()) or (),
    )
    if "duration" in record:
        n = int(round(float(record["duration"]) * sample_rate))
        if out.shape[1] > n:
            out = out[:, :n]
        elif out.shape[1] < n:
            out = np.pad(out, ((0, 0), (0, n - out.shape[1])))
    return np.ascontiguousarray(out, dtype=np.float32)
