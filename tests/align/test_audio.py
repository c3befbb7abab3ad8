"""Decoding, resampling and the stream layout (curate.align.audio) on generated and real audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

sf = pytest.importorskip("soundfile")
av = pytest.importorskip("av")

from curate.align.audio import (  # noqa: E402
    AudioDecodeError,
    decode_audio,
    layout_streams,
    resample,
    segments_mask,
    stereo_streams,
)

SPEECH = Path(__file__).resolve().parents[3] / "shared" / "data" / "speech"


def _tone(sr: int, seconds: float, channels: int, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return np.stack([0.3 * np.sin(2 * np.pi * freq * (c + 1) * t) for c in range(channels)]).astype(np.float32)


def _encode_av(path: Path, audio: np.ndarray, sr: int, codec: str, fmt: str) -> None:
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=sr, layout="mono" if audio.shape[0] == 1 else "stereo")
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio), format="fltp", layout=stream.layout.name)
        frame.sample_rate = sr
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def test_decode_wav_flac_ogg_roundtrip(tmp_path: Path) -> None:
    audio = _tone(22050, 0.5, 2)
    for ext, subtype in (("wav", "PCM_16"), ("flac", "PCM_24"), ("ogg", "VORBIS")):
        path = tmp_path / f"x.{ext}"
        sf.write(path, audio.T, 22050, subtype=subtype)
        got, sr = decode_audio(path)
        assert sr == 22050 and got.dtype == np.float32 and got.shape[0] == 2
        n = min(got.shape[1], audio.shape[1])
        tol = 0.05 if ext == "ogg" else 1e-3
        assert np.abs(got[:, :n] - audio[:, :n]).max() < tol, ext


def test_decode_mp3_and_m4a(tmp_path: Path) -> None:
    audio = _tone(8000, 1.0, 1)
    mp3 = tmp_path / "low.mp3"
    _encode_av(mp3, audio, 8000, "mp3", "mp3")
    got, sr = decode_audio(mp3)
    assert sr == 8000 and got.shape[0] == 1 and abs(got.shape[1] - 8000) < 2000
    m4a = tmp_path / "x.m4a"
    _encode_av(m4a, _tone(44100, 1.0, 2), 44100, "aac", "mp4")
    got, sr = decode_audio(m4a)
    assert sr == 44100 and got.shape[0] == 2 and got.shape[1] > 40000
    assert 0.1 < np.abs(got).max() < 1.0


def test_wrong_extension_still_decodes(tmp_path: Path) -> None:
    path = tmp_path / "really_wav.mp3"
    sf.write(path.with_suffix(".wav"), _tone(16000, 0.3, 1).T, 16000, format="WAV")
    path.with_suffix(".wav").rename(path)
    got, sr = decode_audio(path)
    assert sr == 16000 and got.shape == (1, 4800)


@pytest.mark.parametrize("content", [b"", b"RIFF\x00\x00", b"not audio at all" * 100])
def test_broken_inputs_raise(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioDecodeError):
        decode_audio(path)


def test_nan_samples_rejected(tmp_path: Path) -> None:
    audio = _tone(16000, 0.2, 1)
    audio[0, 100] = np.nan
    audio[0, 200] = np.inf
    path = tmp_path / "nan.wav"
    sf.write(path, audio.T, 16000, subtype="FLOAT")
    with pytest.raises(AudioDecodeError, match="non-finite"):
        decode_audio(path)


def test_resample_preserves_tone() -> None:
    audio = _tone(44100, 1.0, 2, freq=300.0)
    out = resample(audio, 44100, 16000)
    assert out.shape == (2, 16000) and out.dtype == np.float32
    expected = _tone(16000, 1.0, 2, freq=300.0)
    assert np.abs(out[:, 200:-200] - expected[:, 200:-200]).max() < 1e-2
    assert np.array_equal(resample(audio, 44100, 44100), audio)


def test_layout_rules() -> None:
    audio = np.stack([np.full(10, 1.0), np.full(10, 2.0)]).astype(np.float32)
    assert layout_streams(audio, 10, "stereo", main_channel=0)[0, 0] == 1.0
    swapped = layout_streams(audio, 10, "stereo", main_channel=1)
    assert swapped[0, 0] == 2.0 and swapped[1, 0] == 1.0
    mono = layout_streams(audio, 10, "mono")
    assert np.allclose(mono[0], 1.5) and not mono[1].any()
    dia = layout_streams(audio[:1], 10, "diarized", main_segments=[[0.2, 0.5]])
    assert dia[0].tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 0, 0]
    assert dia[1].tolist() == [1, 1, 0, 0, 0, 1, 1, 1, 1, 1]
    assert segments_mask([[0.0, 100.0]], 5, 10).all()
    with pytest.raises(ValueError):
        layout_streams(audio[:1], 10, "stereo")


def test_stereo_streams_real_two_speaker_file() -> None:
    path = SPEECH / "mfa" / "michaelandsickmichael.wav"
    if not path.exists():
        pytest.skip("shared speech data missing")
    raw, sr = decode_audio(path)
    duration = raw.shape[1] / sr
    record = {"source": str(path), "duration": duration, "stream_mode": "stereo", "main_channel": 1}
    out = stereo_streams(record, 24000)
    assert out.shape == (2, round(duration * 24000))
    # main = channel 1, which is silent before cold_corpus starts at 26.72 s
    assert np.abs(out[0, : 24000 * 20]).max() < 1e-3 < np.abs(out[1, : 24000 * 20]).max()
    ref = resample(raw, sr, 24000)
    assert np.allclose(out[0], ref[1, : out.shape[1]]) and np.allclose(out[1], ref[0, : out.shape[1]])
