"""Two-speaker conversations built from real single-speaker recordings, with the truth known exactly.

Each source recording (real speech of one person from ../shared/data/speech) is cut into utterance
chunks at pauses; its speech activity comes from an energy rule on the clean recording (frames of
10 ms above 30 % of the way, in dB, from the noise floor to the loud frames, and within 35 dB of
the loud frames; gaps under 0.2 s closed), so the
reference turns do not depend on the VAD under test. Single-speaker files (one per speaker of a split) check that a lone speaker stays one stream.
A conversation alternates turns of two
speakers (1-3 chunks each, pauses inside turns), with:
  - half of the turns start 0.3-1.8 s before the previous one ends (overlap), the others after a
    0.15-1.0 s pause;
  - short backchannels (a listener chunk cut to <= 0.9 s) dropped into the middle of a turn;
  - per-speaker levels (-23 dBFS +- 4 dB);
  - for every third conversation, a telephone channel: 300-3400 Hz band, 8 kHz, light noise;
  - optionally (`build_set(..., far_field=True)`, dev only) a far-field copy of every file: each
    speaker through its own synthetic room response (direct path + exponentially decaying noise
    tail, RT60 0.6-0.9 s, direct-to-reverberant ratio -3..+3 dB), then white noise at 10-15 dB SNR;
    ../shared holds no real far-field recording outside the held-out AMI excerpts.
Meetings (`build_meeting`): 3-4 speakers, a random other speaker takes over, 70 % of the time
0.5-3.0 s before the turn ends, every listener may backchannel (~35 % overlapped speech).
Everything is seeded, so the same arguments give the same audio and the same truth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from curate.align.audio import decode_audio, downmix, resample
from curate.align.diarization import Turn, overlap_share

SR = 16000
SPEECH = Path("data/speech")


@dataclass(frozen=True)
class Speaker:
    name: str
    gender: str  # from the corpus documentation (LJSpeech, LibriSpeech SPEAKERS.TXT) or the voice
    files: tuple[str, ...]  # relative to ../shared/data/speech; "path#0" = channel 0


# Real recordings of one person each (see /work/shared/README.md for their sources and licences).
SPEAKERS: dict[str, Speaker] = {
    s.name: s
    for s in (
        Speaker("michael", "m", ("mfa/acoustic_corpus.wav", "mfa/cold_corpus.wav", "mfa/cold_corpus3.wav")),
        Speaker("libri2412", "f", ("lhotse/2412-153948-0000.flac", "lhotse/2412-153948-0001.flac")),
        Speaker("sonnet", "f", ("librivox_sonnet/sonnet001.mp3",)),
        Speaker("jfk", "m", ("faster_whisper/jfk.flac",)),
        Speaker("libri61", "m", ("mfa/61-70968-0000.flac",)),
        Speaker("ljspeech", "f", ("lhotse/LJ002-0020.wav", "lhotse/LJ002-0035.wav")),
        Speaker("stereo_right", "m", ("faster_whisper/stereo_diarization.wav#1",)),
    )
}

# Speaker pairs: the dev pairs tune the clustering threshold, the test pairs are reported.
DEV_PAIRS = (("libri61", "ljspeech"), ("stereo_right", "libri2412"), ("michael", "jfk"))
TEST_PAIRS = (("michael", "libri2412"), ("jfk", "sonnet"), ("michael", "sonnet"), ("libri2412", "sonnet"), ("jfk", "libri2412"))
# Meetings (3-4 speakers, ~35 % overlapped speech) from the same splits' speakers.
DEV_MEETINGS = (
    ("libri61", "ljspeech", "stereo_right", "libri2412"),
    ("michael", "jfk", "libri61", "ljspeech"),
    ("michael", "jfk", "stereo_right"),
)
TEST_MEETINGS = (
    ("michael", "libri2412", "jfk", "sonnet"),
    ("sonnet", "jfk", "libri2412", "michael"),
    ("jfk", "sonnet", "libri2412"),
)


def activity(
    x: np.ndarray, floor_db: float = 35.0, close_gap: float = 0.2, min_speech: float = 0.08
) -> list[tuple[float, float]]:
    """Speech segments (s) of a clean single-speaker recording by frame energy."""
    hop, win = SR // 100, int(0.025 * SR)
    n = max(0, 1 + (len(x) - win) // hop)
    if n == 0:
        return []
    frames = np.lib.stride_tricks.as_strided(x, shape=(n, win), strides=(x.strides[0] * hop, x.strides[0]))
    db = 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
    ref, noise = np.percentile(db, 95), np.percentile(db, 5)
    on = db > max(ref - floor_db, noise + 0.3 * (ref - noise))
    segs: list[list[float]] = []
    for k in np.flatnonzero(on):
        t0, t1 = k * hop / SR, (k * hop + win) / SR
        if segs and t0 - segs[-1][1] < close_gap:
            segs[-1][1] = t1
        else:
            segs.append([t0, t1])
    return [(round(a, 3), round(b, 3)) for a, b in segs if b - a >= min_speech]


def textgrid_activity(path: Path, close_gap: float = 0.2) -> list[tuple[float, float]]:
    """Speech segments from the word tier of a forced alignment (MFA TextGrid): words, short gaps closed."""
    from curate.align.textgrid import reference_words

    segs: list[list[float]] = []
    try:
        words = reference_words(path)
    except KeyError:  # no word tier
        return []
    for w in words:
        if segs and w.start - segs[-1][1] < close_gap:
            segs[-1][1] = max(segs[-1][1], w.end)
        else:
            segs.append([w.start, w.end])
    return [(round(a, 3), round(b, 3)) for a, b in segs]


@dataclass
class Chunk:
    audio: np.ndarray
    speech: list[tuple[float, float]]  # relative to the chunk start
    words: list[tuple[str, float, float]]  # (text, start, end) relative to the chunk start


def load_speaker(shared: Path, speaker: Speaker, words_of: dict[str, list] | None = None) -> list[Chunk]:
    """Cut each recording of `speaker` into chunks at pauses >= 0.35 s (at any pause past 6 s)."""
    chunks: list[Chunk] = []
    for spec in speaker.files:
        rel, _, channel = spec.partition("#")
        audio, sr = decode_audio(str(shared / SPEECH / rel))
        mono = audio[int(channel)] if channel else downmix(audio)
        x = np.ascontiguousarray(resample(mono, sr, SR), dtype=np.float32)
        grid = (shared / SPEECH / rel).with_suffix(".TextGrid")
        segs = (textgrid_activity(grid) if grid.exists() and not channel else []) or activity(x)
        words = (words_of or {}).get(spec, [])
        groups: list[list[tuple[float, float]]] = []
        for a, b in segs:
            if groups and a - groups[-1][-1][1] < 0.35 and b - groups[-1][0][0] < 6.0:
                groups[-1].append((a, b))
            else:
                groups.append([(a, b)])
        for g in groups:
            s0, s1 = max(0.0, g[0][0] - 0.03), min(len(x) / SR, g[-1][1] + 0.03)
            piece = x[int(s0 * SR) : int(s1 * SR)]
            w = [(t, round(a - s0, 3), round(b - s0, 3)) for t, a, b in words if a >= s0 - 0.05 and b <= s1 + 0.05]
            chunks.append(Chunk(piece, [(round(a - s0, 3), round(b - s0, 3)) for a, b in g], w))
    return chunks


def _telephone(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Line noise (35 dB below the speech), then the 300-3400 Hz telephone band at 8 kHz."""
    rms = np.sqrt(np.mean(x**2)) + 1e-9
    x = x + rng.standard_normal(len(x)).astype(np.float32) * rms * 10 ** (-35 / 20)
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1 / SR)
    band = np.clip((f - 250) / 100, 0, 1) * np.clip((3500 - f) / 200, 0, 1)
    y = np.fft.irfft(spec * band, n=len(x)).astype(np.float32)
    y = resample(resample(y, SR, 8000), 8000, SR)[: len(x)]
    return np.pad(y, (0, len(x) - len(y))).astype(np.float32)


@dataclass
class Conversation:
    id: str
    audio: np.ndarray
    turns: list[Turn]
    words: list[tuple[str, float, float, str]]  # (text, start, end, speaker)
    telephone: bool
    pair: tuple[str, ...]  # the speakers (a monologue: the same name twice)
    far_field: bool = False
    tracks: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # each speaker alone, before the channel


def _backchannel(chunk: Chunk, rng: np.random.Generator, longest: float) -> Chunk:
    """The start of `chunk`'s first speech region, cut to 0.35-`longest` s: a "yeah" / "mm-hm".
    It keeps the words that lie wholly before the cut (an ASR of the mix hears them too)."""
    s0, s1 = chunk.speech[0]
    cut = min(s1, s0 + rng.uniform(0.35, longest))
    offset = max(0.0, s0 - 0.02)
    return Chunk(
        chunk.audio[int(offset * SR) : int((cut + 0.02) * SR)],
        [(round(min(0.02, s0), 3), round(cut - s0 + min(0.02, s0), 3))],
        [(w, round(s - offset, 3), round(e - offset, 3)) for w, s, e in chunk.words if s >= offset - 0.05 and e <= cut + 0.02],
    )


def room_response(rng: np.random.Generator, rt60: float, drr_db: float) -> np.ndarray:
    """A synthetic room impulse response at 16 kHz: a unit direct path, then Gaussian noise decaying
    by 60 dB in `rt60` s (from 2.5 ms on), scaled so that direct / reverberant energy is `drr_db`."""
    t = np.arange(int(rt60 * SR)) / SR
    tail = rng.standard_normal(len(t)) * np.exp(-6.908 * t / rt60)
    tail[: int(0.0025 * SR)] = 0.0
    tail *= 10 ** (-drr_db / 20) / (np.sqrt(np.sum(tail**2)) + 1e-12)
    tail[0] = 1.0
    return tail.astype(np.float32)


def _far_field(tracks: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Each speaker's track through its own room response, summed, plus white noise at 10-15 dB SNR."""
    n = len(next(iter(tracks.values())))
    mix = np.zeros(n, dtype=np.float64)
    for spk in sorted(tracks):
        h = room_response(rng, rng.uniform(0.6, 0.9), rng.uniform(-3.0, 3.0))
        size = 1 << int(np.ceil(np.log2(n + len(h))))
        mix += np.fft.irfft(np.fft.rfft(tracks[spk], size) * np.fft.rfft(h, size), size)[:n]
    rms = np.sqrt(np.mean(mix**2)) + 1e-9
    mix += rng.standard_normal(n) * rms * 10 ** (-rng.uniform(10.0, 15.0) / 20)
    return mix.astype(np.float32)


def _mix(
    conv_id: str,
    placed: list[tuple[str, float, Chunk]],
    gains: dict[str, float],
    pair: tuple[str, ...],
    telephone: bool = False,
    rng: np.random.Generator | None = None,
    end: float | None = None,
) -> Conversation:
    """Chunks placed at their times, each at its speaker's level (RMS-normalised), and the exact truth;
    the audio lasts until 0.5 s after `end` (default: the last chunk's end). The speakers' own
    tracks are kept (`Conversation.tracks`) for a far-field copy (`far_field_copy`)."""
    end = max(t0 + len(c.audio) / SR for _, t0, c in placed) if end is None else end
    n = int((end + 0.5) * SR)
    mix = np.zeros(n, dtype=np.float32)
    tracks = {spk: np.zeros(n, dtype=np.float32) for spk in dict.fromkeys(spk for spk, _, _ in placed)}
    turns: list[Turn] = []
    words: list[tuple[str, float, float, str]] = []
    for spk, t0, c in placed:
        x = c.audio
        i = int(round(t0 * SR))
        y = x / (np.sqrt(np.mean(x**2)) + 1e-9) * gains[spk]
        mix[i : i + len(x)] += y
        tracks[spk][i : i + len(x)] += y
        t0 = i / SR
        turns += [(spk, round(t0 + s, 3), round(t0 + e, 3)) for s, e in c.speech]
        words += [(w, round(t0 + s, 3), round(t0 + e, 3), spk) for w, s, e in c.words]
    if telephone:
        assert rng is not None
        mix = _telephone(mix, rng)
    mix *= min(1.0, 0.99 / max(float(np.abs(mix).max()), 1e-9))
    turns.sort(key=lambda x: (x[1], x[0]))
    words.sort(key=lambda w: w[1])
    return Conversation(conv_id, mix, turns, words, telephone, pair, tracks=tracks)


def far_field_copy(conv: Conversation, seed: int) -> Conversation:
    """The same conversation (same truth) heard from across a room (`_far_field`); telephone
    conversations keep their telephone channel after the room."""
    rng = np.random.default_rng(seed)
    mix = _far_field(conv.tracks, rng)
    if conv.telephone:
        mix = _telephone(mix, rng)
    mix *= min(1.0, 0.99 / max(float(np.abs(mix).max()), 1e-9))
    return Conversation(f"{conv.id}-far", mix, conv.turns, conv.words, conv.telephone, conv.pair, far_field=True)


def build_conversation(
    conv_id: str,
    pair: tuple[str, str],
    chunks: dict[str, list[Chunk]],
    seed: int,
    duration: float = 120.0,
    telephone: bool = False,
) -> Conversation:
    rng = np.random.default_rng(seed)
    a, b = pair
    placed: list[tuple[str, float, Chunk]] = []
    gains = {spk: 10 ** ((-23 + rng.uniform(-4, 4)) / 20) for spk in pair}
    t, current = 0.5, a if rng.random() < 0.5 else b
    while t < duration:
        listener = b if current == a else a
        start = t
        for k in range(int(rng.integers(1, 4))):
            c = chunks[current][int(rng.integers(len(chunks[current])))]
            t += rng.uniform(0.1, 0.4) if k else 0.0
            placed.append((current, t, c))
            t += len(c.audio) / SR
        end = t
        if end - start > 2.5 and rng.random() < 0.6:  # backchannel in the middle of the turn
            bc = _backchannel(chunks[listener][int(rng.integers(len(chunks[listener])))], rng, 0.9)
            placed.append((listener, start + rng.uniform(0.4, 0.7) * (end - start), bc))
        # the next turn starts early (overlapped speech) or after a pause
        gap = -rng.uniform(0.3, 1.8) if rng.random() < 0.5 else rng.uniform(0.15, 1.0)
        t = max(start + 0.5, end + gap)
        current = listener
    return _mix(conv_id, placed, gains, pair, telephone, rng)


def build_monologue(
    conv_id: str, speaker: str, chunks: list[Chunk], seed: int, duration: float = 60.0, telephone: bool = False
) -> Conversation:
    """One speaker alone (pauses of 0.2-1.2 s between chunks): the diarizer must keep it one stream."""
    rng = np.random.default_rng(seed)
    placed, t = [], 0.5
    while t < duration:
        c = chunks[int(rng.integers(len(chunks)))]
        placed.append((t, c))
        t += len(c.audio) / SR + rng.uniform(0.2, 1.2)
    return _mix(
        conv_id, [(speaker, t0, c) for t0, c in placed], {speaker: 10 ** (-23 / 20)}, (speaker, speaker), telephone, rng, end=t
    )


def build_meeting(
    conv_id: str, speakers: tuple[str, ...], chunks: dict[str, list[Chunk]], seed: int, duration: float = 120.0
) -> Conversation:
    """Three or more speakers with heavy overlap (a meeting): after each turn (1-2 chunks) a random
    other speaker takes over, 70 % of the time 0.5-3.0 s before the turn ends; during a turn longer
    than 2 s each listener backchannels (a chunk cut to <= 1.5 s) with probability 0.4."""
    rng = np.random.default_rng(seed)
    gains = {spk: 10 ** ((-23 + rng.uniform(-4, 4)) / 20) for spk in speakers}
    placed: list[tuple[str, float, Chunk]] = []
    t, current = 0.5, speakers[0]
    while t < duration:
        start = t
        for k in range(int(rng.integers(1, 3))):
            c = chunks[current][int(rng.integers(len(chunks[current])))]
            t += rng.uniform(0.1, 0.4) if k else 0.0
            placed.append((current, t, c))
            t += len(c.audio) / SR
        end = t
        others = [spk for spk in speakers if spk != current]
        for listener in others:
            if end - start > 2.0 and rng.random() < 0.4:
                bc = _backchannel(chunks[listener][int(rng.integers(len(chunks[listener])))], rng, 1.5)
                placed.append((listener, start + rng.uniform(0.2, 0.8) * (end - start), bc))
        gap = -rng.uniform(0.5, 3.0) if rng.random() < 0.7 else rng.uniform(0.15, 1.0)
        t = max(start + 0.5, end + gap)
        current = others[int(rng.integers(len(others)))]
    return _mix(conv_id, placed, gains, speakers)


def build_set(
    shared: Path,
    split: str,
    per_pair: int = 3,
    duration: float = 120.0,
    words_of: dict[str, list] | None = None,
    monologues: bool = True,
    meetings: bool = False,
    far_field: bool = False,
) -> list[Conversation]:
    """The conversations of `split` (dev | test): `per_pair` per speaker pair, every third telephone,
    then one 1-minute single-speaker file per speaker of the split, then (`meetings`) the split's
    meetings (`DEV_MEETINGS` / `TEST_MEETINGS`, 2 minutes each); with `far_field`, a far-field
    copy of each of them follows (`far_field_copy`)."""
    pairs = DEV_PAIRS if split == "dev" else TEST_PAIRS
    groups = (DEV_MEETINGS if split == "dev" else TEST_MEETINGS) if meetings else ()
    names = sorted({n for p in pairs for n in p})
    chunks = {n: load_speaker(shared, SPEAKERS[n], words_of) for n in sorted({n for p in pairs + groups for n in p})}
    out = []
    k = 0
    for pair in pairs:
        for j in range(per_pair):
            seed = (1000 if split == "dev" else 2000) + 10 * pairs.index(pair) + j
            out.append(build_conversation(f"{split}-{pair[0]}-{pair[1]}-{j}", pair, chunks, seed, duration, telephone=k % 3 == 2))
            k += 1
    if monologues:  # one single-speaker file per speaker, every other one over the telephone
        for j, name in enumerate(names):
            seed = (3000 if split == "dev" else 4000) + j
            out.append(build_monologue(f"{split}-solo-{name}", name, chunks[name], seed, telephone=j % 2 == 1))
    for j, group in enumerate(groups):
        seed = (5000 if split == "dev" else 6000) + j
        out.append(build_meeting(f"{split}-meeting-{j}", group, chunks, seed))
    if far_field:
        out += [far_field_copy(c, (7000 if split == "dev" else 8000) + j) for j, c in enumerate(out)]
    return out


def write_rttm(path: Path, file_id: str, turns: list[Turn]) -> None:
    lines = [f"SPEAKER {file_id} 1 {s:.3f} {e - s:.3f} <NA> <NA> {spk} <NA> <NA>" for spk, s, e in turns]
    path.write_text("\n".join(lines) + "\n")


def describe(convs: list[Conversation]) -> dict[str, object]:
    total = sum(len(c.audio) for c in convs) / SR
    return {
        "conversations": len(convs),
        "minutes": round(total / 60, 1),
        "pairs": sorted({"-".join(c.pair) for c in convs}),
        "telephone": sum(c.telephone for c in convs),
        "overlap_share": [overlap_share(c.turns) for c in convs],
    }


if __name__ == "__main__":  # quick look: python -m curate.evaluation.conversations ../shared
    import sys

    convs = build_set(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "test")
    print(json.dumps(describe(convs), indent=1))
