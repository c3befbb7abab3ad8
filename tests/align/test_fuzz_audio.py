"""Bad-input fuzzing of the speech alignment stage (issue 6, item 3, audio half).

A seeded generator cuts short real clips (JFK, a stereo LibriSpeech pair) and writes from them a
set of corrupted audio files -- random truncation, bit flips in header and body, hand-made wrong
WAV headers, wrong extensions, zero-length and tiny files, NaN/inf float samples, 3 to 64 channels,
absurd sample rates, mp3/ogg/opus/flac/m4a encodings, odd and non-UTF-8 file names (dots, shell
syntax, newlines) and a manifest with hostile ids (`../../escape`, `/etc/passwd`, `$(...)`). All of
them go through ONE `run_align` call (workers=2). The run must not crash, every input must be kept
(`alignments/<id>.json`), dropped with a reason or reported in `errors.jsonl`, the counts must
reconcile, nothing may be written outside the output folder, and output names must be sanitized.

ASR (Whisper base on CPU) costs ~2.5 s per call whatever the clip length, so most variants carry a
0.7 s clip (decoded, then dropped as too_short) and only a dozen reach ASR.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import struct
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

sf = pytest.importorskip("soundfile")
av = pytest.importorskip("av")
pytest.importorskip("faster_whisper")
pytest.importorskip("pocketsphinx")

from curate.align.audio import decode_audio, downmix, resample  # noqa: E402
from curate.align.items import expand_items  # noqa: E402
from curate.align.pipeline import AlignConfig, run_align  # noqa: E402
from tests.conftest import REPO, require, shared_path, tree_snapshot  # noqa: E402

SEED = 20260602
SR = 16000
MODEL = REPO / "models" / "whisper-base-ct2"
HOSTILE_IDS = ["../../escape", "../../../escape-deeper", "/etc/passwd", "$(touch PWNED)", "..", "a/../../b", "`id`;rm -rf ~"]

require(MODEL / "model.bin")


# ---------------------------------------------------------------- encoders


def wav_header(
    channels: int,
    sr: int,
    bits: int,
    n_bytes: int,
    fmt_tag: int = 1,
    riff: bytes = b"RIFF",
    wave: bytes = b"WAVE",
    data_size: int | None = None,
    block_align: int | None = None,
) -> bytes:
    """A canonical 44-byte WAV header, every field settable (wrong ones included)."""
    align = channels * bits // 8 if block_align is None else block_align
    size = n_bytes if data_size is None else data_size
    fmt = struct.pack("<HHIIHH", fmt_tag, channels & 0xFFFF, sr & 0xFFFFFFFF, (sr * align) & 0xFFFFFFFF, align & 0xFFFF, bits)
    return (
        riff
        + struct.pack("<I", (36 + n_bytes) & 0xFFFFFFFF)
        + wave
        + b"fmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", size & 0xFFFFFFFF)
    )


def pcm16(audio: np.ndarray) -> bytes:
    """float [ch, n] -> interleaved little-endian int16 bytes."""
    audio = np.atleast_2d(audio)
    return (np.clip(audio.T, -1, 1) * 32767).astype("<i2").tobytes()


def wav_pcm16(audio: np.ndarray, sr: int = SR, **header: object) -> bytes:
    audio = np.atleast_2d(audio)
    body = pcm16(audio)
    return wav_header(audio.shape[0], sr, 16, len(body), **header) + body  # type: ignore[arg-type]


def wav_float(audio: np.ndarray, sr: int = SR, dtype: str = "<f4") -> bytes:
    audio = np.atleast_2d(audio)
    body = np.ascontiguousarray(audio.T).astype(dtype).tobytes()
    return wav_header(audio.shape[0], sr, 8 * np.dtype(dtype).itemsize, len(body), fmt_tag=3) + body


def sf_bytes(audio: np.ndarray, sr: int, fmt: str, subtype: str | None = None) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.atleast_2d(audio).T, sr, format=fmt, subtype=subtype)
    data = buffer.getvalue()
    return ogg_fixed_serial(data) if fmt == "OGG" else data


def _ogg_crc(page: bytes) -> int:
    crc = 0
    for byte in page:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def ogg_fixed_serial(data: bytes, serial: int = 0x5EED) -> bytes:
    """libsndfile picks a random Ogg stream serial number: set a fixed one (and each page's CRC)."""
    out, pos = bytearray(), 0
    while pos + 27 <= len(data) and data[pos : pos + 4] == b"OggS":
        nsegs = data[pos + 26]
        size = 27 + nsegs + sum(data[pos + 27 : pos + 27 + nsegs])
        page = bytearray(data[pos : pos + size])
        page[14:18] = struct.pack("<I", serial)
        page[22:26] = b"\0\0\0\0"
        page[22:26] = struct.pack("<I", _ogg_crc(bytes(page)))
        out += page
        pos += size
    return bytes(out + data[pos:])


def av_bytes(audio: np.ndarray, sr: int, container: str, codec: str) -> bytes:
    """Mono float audio -> bytes of `container` with `codec` (PyAV / ffmpeg)."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream(codec, rate=sr, layout="mono")
        fmt = stream.codec_context.codec.audio_formats[0].name if stream.codec_context.codec.audio_formats else "fltp"
        frame_size = stream.codec_context.frame_size or 1024
        mono = np.asarray(audio, dtype=np.float32).reshape(-1)
        for start in range(0, mono.size, frame_size):
            chunk = mono[start : start + frame_size]
            frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
            frame.sample_rate = sr
            if fmt != "fltp":
                frame = av.AudioResampler(format=fmt, layout="mono", rate=sr).resample(frame)[0]
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def flip_bits(data: bytes, rng: random.Random, n: int, lo: int = 0, hi: int | None = None) -> bytes:
    out = bytearray(data)
    hi = len(out) if hi is None else min(hi, len(out))
    for _ in range(n):
        i = rng.randrange(lo, hi)
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


# ---------------------------------------------------------------- corpus


def base_clips() -> dict[str, np.ndarray]:
    """Short real clips at 16 kHz: `long` 2.5 s of JFK (reaches ASR), `short` 0.7 s (too_short), `stereo`."""
    jfk, sr = decode_audio(shared_path("speech", "faster_whisper", "jfk.flac"))
    mono = resample(downmix(jfk), sr, SR)
    stereo, sr2 = decode_audio(shared_path("speech", "faster_whisper", "stereo_diarization.wav"))
    stereo = resample(stereo, sr2, SR)
    return {"long": mono[: int(2.5 * SR)], "short": mono[int(0.4 * SR) : int(1.1 * SR)], "stereo": stereo[:, : int(2.5 * SR)]}


def generate_corpus(folder: Path, seed: int = SEED, non_utf8_names: bool = True) -> tuple[dict[str, str], list[str]]:
    """Write the corrupted files under `folder`. Returns ({path: kind}, the `run_align` inputs).

    Deterministic for a seed. Paths with non-UTF-8 bytes are given as `os.fsdecode` strings
    (surrogate escapes), exactly as a directory scan sees them; `non_utf8_names=False` leaves
    those files out (see test_non_utf8_file_names)."""
    rng = random.Random(seed)
    clips = base_clips()
    long_, short, stereo = clips["long"], clips["short"], clips["stereo"]
    folder.mkdir(parents=True, exist_ok=True)
    made: dict[str, str] = {}
    counter: Counter[str] = Counter()
    explicit: list[str] = []  # files given one by one (no audio suffix: a folder scan skips them)

    def put(kind: str, data: bytes, suffix: str = ".wav", name: str | bytes | None = None, sub: str = "") -> str | None:
        counter[kind] += 1
        if name is None:
            name = f"{kind}-{counter[kind]:02d}{suffix}"
        if isinstance(name, bytes) and not non_utf8_names:
            return None
        parent = folder / sub if sub else folder
        parent.mkdir(parents=True, exist_ok=True)
        path_b = os.fsencode(parent) + b"/" + (name if isinstance(name, bytes) else os.fsencode(name))
        try:
            with open(path_b, "wb") as fh:
                fh.write(data)
        except (OSError, ValueError):
            return None  # the filesystem refuses this name
        made[os.fsdecode(path_b)] = kind
        return os.fsdecode(path_b)

    encoders = {
        ".wav": lambda a: wav_pcm16(a),
        ".flac": lambda a: sf_bytes(a, SR, "FLAC", "PCM_16"),
        ".ogg": lambda a: sf_bytes(a, SR, "OGG", "VORBIS"),
        ".mp3": lambda a: sf_bytes(a, SR, "MP3", "MPEG_LAYER_III"),
    }
    encoded_short = {ext: enc(short) for ext, enc in encoders.items()}

    # 1. controls: real speech that should be kept (each costs one ASR call, stereo two)
    put("control", wav_pcm16(long_), name="control-mono.wav")
    put("control", wav_pcm16(stereo), name="control-stereo.wav")
    put("control", sf_bytes(long_, SR, "MP3", "MPEG_LAYER_III"), name="control-mono.mp3")
    # 2. random truncation (any format), some inside the header
    for i in range(10):
        ext = rng.choice(sorted(encoded_short))
        data = encoded_short[ext]
        cut = rng.randrange(1, 60) if i < 3 else rng.randrange(60, len(data))
        put("truncated", data[:cut], ext)
    # 3. bit flips in the header (first 64 bytes) and in the body
    for _ in range(6):
        ext = rng.choice(sorted(encoded_short))
        put("bitflip-header", flip_bits(encoded_short[ext], rng, rng.choice([1, 2, 4]), 0, 64), ext)
    for i in range(6):
        ext = rng.choice(sorted(encoded_short))
        data = wav_pcm16(long_) if i < 2 else encoded_short[ext]  # two reach ASR with noisy speech
        put("bitflip-body", flip_bits(data, rng, rng.choice([8, 64, 512]), 64), ".wav" if i < 2 else ext)
    # 4. wrong WAV headers
    body = pcm16(short)
    wrong = {
        "riff-magic": wav_header(1, SR, 16, len(body), riff=b"RIFX"),
        "wave-magic": wav_header(1, SR, 16, len(body), wave=b"WAVX"),
        "format-tag": wav_header(1, SR, 16, len(body), fmt_tag=0x1234),
        "zero-channels": wav_header(0, SR, 16, len(body)),
        "bits-7": wav_header(1, SR, 7, len(body)),
        "data-size-huge": wav_header(1, SR, 16, len(body), data_size=0xFFFFFFF0),
        "data-size-odd": wav_header(1, SR, 16, len(body), data_size=len(body) - 1),
        "block-align-0": wav_header(1, SR, 16, len(body), block_align=0),
        "random-header": bytes(rng.randrange(256) for _ in range(44)),
    }
    for key, header in wrong.items():
        put("wrong-header", header + body, name=f"wrong-header-{key}.wav")
    put("wrong-header", b"fLaC" + wav_pcm16(short), name="wrong-header-flac-magic.flac")
    put("wrong-header", b"OggS" + bytes(rng.randrange(256) for _ in range(3000)), name="wrong-header-ogg-garbage.ogg")
    put(
        "wrong-header",
        b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f" + bytes(rng.randrange(256) for _ in range(2000)),
        name="wrong-header-id3.mp3",
    )
    # 5. wrong extensions (content sniffing must still decode or fail cleanly)
    put("wrong-ext", sf_bytes(long_, SR, "FLAC", "PCM_16"), name="flac-content.mp3")  # reaches ASR
    put("wrong-ext", encoded_short[".mp3"], name="mp3-content.wav")
    put("wrong-ext", encoded_short[".ogg"], name="ogg-content.m4a")
    put("wrong-ext", encoded_short[".wav"], name="wav-content.opus")
    explicit.append(put("wrong-ext", encoded_short[".wav"], name="wav-content.txt") or "")
    explicit.append(put("wrong-ext", encoded_short[".flac"], name="no-extension") or "")
    explicit.append(put("wrong-ext", b"this is not audio at all\n" * 40, name="text-file.dat") or "")
    # 6. zero-length and tiny files
    for ext in (".wav", ".flac", ".mp3", ".ogg"):
        put("zero-length", b"", ext)
    put("tiny", b"R", ".wav")
    put("tiny", b"RIFF", ".wav")
    put("tiny", b"RIFF\x24\x00\x00\x00WAVE", ".wav")
    put("tiny", wav_header(1, SR, 16, 0), ".wav")  # a header and no frames
    put("tiny", wav_pcm16(short[:1]), ".wav")  # one sample
    put("tiny", sf_bytes(short[:10], SR, "FLAC", "PCM_16"), ".flac")
    # 7. non-finite and out-of-range float samples
    for key, value in (("nan", np.nan), ("posinf", np.inf), ("neginf", -np.inf)):
        bad = short.copy()
        bad[rng.randrange(bad.size)] = value
        put("non-finite", wav_float(bad), name=f"float-{key}.wav")
    put("non-finite", wav_float(np.full(short.size, np.nan, dtype=np.float32)), name="float-all-nan.wav")
    bad64 = long_.astype(np.float64)
    bad64[100] = np.nan
    put("non-finite", wav_float(bad64, dtype="<f8"), name="float64-nan.wav")
    put("out-of-range", wav_float(long_ * 3e38), name="float-huge-finite.wav")  # finite, far past full scale
    # 8. many channels (speech on channel 0, silence elsewhere)
    for n, clip in ((3, short), (6, short), (16, long_), (64, short)):
        multi = np.zeros((n, clip.size), dtype=np.float32)
        multi[0] = clip
        put("channels", wav_float(multi), name=f"channels-{n}.wav")
    # 9. absurd sample rates written in the header (short bodies: a 1 Hz file of 64 samples lasts 64 s)
    for rate, clip in ((0, short), (1, short[:64]), (7, short[:300]), (384000, short), (0x7FFFFFFF, short), (0xFFFFFFFF, short)):
        put("sample-rate", wav_pcm16(clip, sr=rate), name=f"rate-{rate}.wav")
    # 10. other encodings of the short clip
    put("encoding", sf_bytes(short, SR, "OGG", "OPUS"), name="enc-opus.ogg")
    put("encoding", sf_bytes(short, SR, "WAV", "PCM_U8"), name="enc-u8.wav")
    put("encoding", sf_bytes(short, SR, "WAV", "ULAW"), name="enc-ulaw.wav")
    put("encoding", sf_bytes(short, SR, "FLAC", "PCM_24"), name="enc-24bit.flac")
    put("encoding", sf_bytes(short, SR, "AIFF", "PCM_16"), name="enc-aiff-named.wav")
    put("encoding", av_bytes(resample(short, SR, 8000), 8000, "mp3", "mp3"), name="enc-8k.mp3")
    put("encoding", av_bytes(short, SR, "ipod", "aac"), name="enc-aac.m4a")
    # 11. odd file names (valid content). Two carry the long clip so that a kept record is named after them.
    odd_names: list[tuple[str | bytes, np.ndarray]] = [
        (b"caf\xe9-latin1.wav", long_),
        (b"bad-\xff\xfe-bytes.wav", short),
        (b"empty-\xe9.wav", np.zeros(0, dtype=np.float32)),
        ("$(touch PWNED).wav", long_),
        ("`touch PWNED`.wav", short),
        ("a;b|c&d>e.wav", short),
        ("new\nline.wav", short),
        ("tab\there.wav", short),
        ("with space.wav", short),
        ("..wav", short),
        ("...wav", short),
        (".hidden.wav", short),
        ("a..b.wav", short),
        ("-rf.wav", short),
        ("!!!.wav", short),
        ("ünïcödé-日本.wav", short),
        ("back\\slash.wav", short),
        ("quote'\"name.wav", short),
        ("a" * 200 + ".wav", short),
    ]
    for name, clip in odd_names:
        put("odd-name", wav_pcm16(clip) if clip.size else b"", name=name)
    # same stem in two folders, and two names that sanitize to the same id
    put("odd-name", wav_pcm16(short), name="same.wav", sub="d1")
    put("odd-name", wav_pcm16(short), name="same.wav", sub="d2")
    put("odd-name", wav_pcm16(short), name="col lide.wav")
    put("odd-name", wav_pcm16(short), name="col_lide.wav")
    # 12. a manifest with hostile ids (its audio lives outside the scanned folder)
    side = folder.parent / "manifest-audio"
    side.mkdir(exist_ok=True)
    rows = []
    for i, rid in enumerate(HOSTILE_IDS):
        path = side / f"m{i}.flac"
        path.write_bytes(sf_bytes(long_ if i == 0 else short, SR, "FLAC", "PCM_16"))
        made[str(path)] = "manifest-id"
        rows.append({"id": rid, "path": f"m{i}.flac"})
    rows.append({"id": "missing", "path": "does-not-exist.wav"})
    made[str(side / "does-not-exist.wav")] = "manifest-missing"
    manifest = side / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return made, [str(folder), str(manifest), *explicit]


# ---------------------------------------------------------------- tests


def fast_config() -> AlignConfig:
    """Greedy decoding: the fuzz run tests robustness and accounting, not ASR quality."""
    return AlignConfig(asr_model=str(MODEL), language="en", cpu_threads=2, beam_size=1, best_of=1)


def test_generator_is_deterministic(tmp_path: Path) -> None:
    first, _ = generate_corpus(tmp_path / "a" / "in")
    second, _ = generate_corpus(tmp_path / "b" / "in")
    assert len(first) >= 50
    rel = lambda made, root: sorted(os.path.relpath(p, root) for p in made)  # noqa: E731
    assert rel(first, tmp_path / "a") == rel(second, tmp_path / "b")
    for path in first:
        twin = os.path.join(tmp_path / "b", os.path.relpath(path, tmp_path / "a"))
        if os.path.exists(path):
            assert Path(path).read_bytes() == Path(twin).read_bytes(), path


def test_corrupted_audio_never_crashes_and_is_accounted_for(ray_local: None, tmp_path: Path) -> None:
    made, inputs = generate_corpus(tmp_path / "in", non_utf8_names=False)  # those: test_non_utf8_file_names
    kinds = Counter(made.values())
    assert len(made) >= 50, kinds
    assert {
        "truncated",
        "bitflip-header",
        "bitflip-body",
        "wrong-header",
        "wrong-ext",
        "zero-length",
        "tiny",
        "non-finite",
        "channels",
        "sample-rate",
        "encoding",
        "odd-name",
        "manifest-id",
    } <= set(kinds)
    items = expand_items(inputs)
    assert sorted(i.path for i in items) == sorted(made), "every generated file is an input, once"
    by_id = {i.id: i for i in items}

    out = tmp_path / "out"
    sibling = tmp_path / "sibling"
    sibling.mkdir()
    (sibling / "keep.txt").write_text("untouched")
    before = tree_snapshot(tmp_path)
    before_parent = sorted(os.listdir(tmp_path.parent))
    before_repo = sorted(os.listdir(REPO))
    cwd = os.getcwd()

    config = fast_config()
    started = time.monotonic()
    stats = run_align(inputs, out, config, workers=2)
    print(f"run_align on {len(made)} corrupted audio files: {time.monotonic() - started:.1f} s")

    # nothing written outside the output folder, nothing executed
    assert os.getcwd() == cwd
    after = tree_snapshot(tmp_path)
    inside = lambda p: p == str(out) or p.startswith(str(out) + os.sep)  # noqa: E731
    assert {p: v for p, v in after.items() if not inside(p)} == {p: v for p, v in before.items() if not inside(p)}
    assert sorted(os.listdir(tmp_path.parent)) == before_parent
    assert sorted(os.listdir(REPO)) == before_repo
    assert not any(os.path.basename(p) == "PWNED" for p in after)
    assert not Path(cwd, "PWNED").exists() and not (REPO / "PWNED").exists()
    real_out = os.path.realpath(out)
    for path in after:
        if inside(path) and path != str(out):
            rel = os.path.relpath(path, out)
            assert os.path.realpath(path).startswith(real_out + os.sep) and not os.path.islink(path), rel
            assert re.fullmatch(r"[A-Za-z0-9._/-]+", rel), f"unsanitized output name: {rel!r}"
    assert not list(out.rglob(".tmp-*")), "no temporary file left visible"

    # ids: one path component, no separators, never '.' / '..' nor hidden
    for rid in by_id:
        assert re.fullmatch(r"[A-Za-z0-9._-]+", rid) and not rid.startswith("."), rid
        assert (out / "alignments" / f"{rid}.json").resolve().parent == (out / "alignments").resolve()

    # counts reconcile (the keys run_align's stats use: files.in / kept / dropped{reason} / errors)
    files = stats["files"]
    assert stats["reconciled"] is True and stats["missing_parts"] == []
    assert files["in"] == len(made) == len(items)
    assert files["in"] == files["kept"] + sum(files["dropped"].values()) + files["errors"]
    assert set(files["dropped"]) <= {"too_short", "no_speech", "low_confidence", "implausible_rate"}
    assert json.loads((out / "stats.json").read_text())["files"] == files
    kept = {p.stem for p in (out / "alignments").glob("*.json")}
    assert len(kept) == files["kept"] and kept <= set(by_id)
    issues = [json.loads(line) for line in (out / "errors.jsonl").read_text(encoding="utf-8").splitlines()]
    errors = [i for i in issues if i.get("severity", "error") == "error"]
    assert len(errors) == files["errors"] == stats["issues"]["errors"]
    assert all({"source", "kind", "reason"} <= set(i) and i["reason"] for i in issues)

    # every input: kept, dropped with a reason, or reported -- exactly one commit record each
    parts = {p.stem: json.loads(p.read_text()) for p in (out / "_parts").glob("*.json")}
    assert set(parts) == set(by_id)
    error_sources = Counter(i["source"] for i in errors)
    outcome: dict[str, str] = {}
    for rid, item in by_id.items():
        f = parts[rid]["stats"]["files"]
        assert f["in"] == 1 and f["kept"] + sum(f["dropped"].values()) + f["errors"] == 1, (rid, f)
        if f["kept"]:
            assert rid in kept
            record = json.loads((out / "alignments" / f"{rid}.json").read_text(encoding="utf-8"))
            assert record["id"] == rid and record["alignments"]
            outcome[item.path] = "kept"
        elif f["errors"]:
            assert rid not in kept and error_sources[item.path] == 1, (item.path, made[item.path])
            outcome[item.path] = "error:" + next(i["kind"] for i in errors if i["source"] == item.path)
        else:
            assert rid not in kept
            outcome[item.path] = "dropped:" + next(iter(f["dropped"]))
    assert sum(1 for o in outcome.values() if o.startswith("error")) == files["errors"]
    print(json.dumps(Counter(f"{made[p]} -> {o}" for p, o in outcome.items()), indent=1, sort_keys=True, ensure_ascii=False))

    # expected outcomes of the cases whose result is certain
    for path, kind in made.items():
        if kind in ("zero-length", "non-finite", "manifest-missing"):
            assert outcome[path] == "error:decode_error", (path, outcome[path])
    names = {os.path.basename(p): o for p, o in outcome.items()}
    assert names["control-mono.wav"] == names["control-stereo.wav"] == names["control-mono.mp3"] == "kept"
    assert names["flac-content.mp3"] == "kept" and names["$(touch PWNED).wav"] == "kept"
    assert names["channels-16.wav"] == "kept" and names["m0.flac"] == "kept"
    assert names["text-file.dat"].startswith("error") and names["rate-0.wav"].startswith("error")
    assert all(
        o == "dropped:too_short" for n, o in names.items() if n in ("enc-opus.ogg", "enc-24bit.flac", "enc-aiff-named.wav")
    )
    downmixed = {i["source"] for i in issues if i["kind"] == "downmixed"}
    assert {p for p, k in made.items() if k == "channels"} <= downmixed
    # hostile manifest ids stay data
    assert "escape" in kept or any(rid.startswith("escape") for rid in kept)


def test_non_utf8_file_names(ray_local: None, tmp_path: Path) -> None:
    if sys.platform == "darwin":
        pytest.skip("APFS refuses non-UTF-8 names")
    clips = base_clips()
    folder = tmp_path / "in"
    folder.mkdir()
    files = {
        b"caf\xe9-latin1.wav": wav_pcm16(clips["long"]),  # kept: its record names the source
        b"empty-\xe9.wav": b"",  # reported: errors.jsonl names the source
        b"bad-\xff\xfe-bytes.wav": wav_pcm16(clips["short"]),  # dropped (too_short): no path is written
    }
    for name, data in files.items():
        try:
            with open(os.fsencode(folder) + b"/" + name, "wb") as fh:
                fh.write(data)
        except OSError:
            pytest.skip("the filesystem refuses non-UTF-8 names")
    out = tmp_path / "out"
    stats = run_align([str(folder)], out, fast_config(), workers=2)
    assert stats["reconciled"] and stats["missing_parts"] == []
    assert stats["files"] == {"in": 3, "kept": 1, "dropped": {"too_short": 1}, "errors": 1}
    assert [p.name for p in (out / "alignments").glob("*.json")] == ["caf_-latin1.json"]
    issues = [json.loads(line) for line in (out / "errors.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [i["kind"] for i in issues] == ["decode_error"] and "empty-" in issues[0]["source"]


if __name__ == "__main__":  # write the corpus somewhere to look at it: python tests/align/test_fuzz_audio.py DIR
    print(len(generate_corpus(Path(sys.argv[1]))[0]))
