"""Diarization: the pure rules on vectors, the numpy GE2E encoder against its references, and the
built-in diarizer end to end on the shared two-speaker telephone sample (RTTM + STM truth)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from curate.align.diarization import (
    attribute_words,
    cluster_embeddings,
    frame_labels_to_turns,
    overlap_second_speaker,
    overlap_share,
    parse_method,
    resegment,
    viterbi_path,
    within_split_similarity,
)
from curate.align.items import read_rttm
from curate.align.speaker_embedding import mel_filterbank, mel_frames, normalize_volume

SPEECH = Path(__file__).resolve().parents[3] / "shared" / "data" / "speech"
SAMPLE = SPEECH / "pyannote_sample"


def _speakers(n_per: list[int], dim: int = 256, spread: float = 0.15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around one random centre per speaker (cosine within ~0.9, across ~0)."""
    rng = np.random.default_rng(seed)
    rows, truth = [], []
    for k, n in enumerate(n_per):
        centre = rng.standard_normal(dim)
        centre /= np.linalg.norm(centre)
        x = centre + spread * rng.standard_normal((n, dim)) / np.sqrt(dim) * 3
        rows.append(x / np.linalg.norm(x, axis=1, keepdims=True))
        truth += [k] * n
    return np.concatenate(rows), np.array(truth)


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = {(int(x), int(y)) for x, y in zip(a, b, strict=True)}
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


# ---------------------------------------------------------------- clustering rule


def test_clustering_finds_two_speakers_and_labels_by_first_appearance() -> None:
    x, truth = _speakers([40, 25])
    order = np.random.default_rng(1).permutation(len(x))
    labels = cluster_embeddings(x[order])
    assert _same_partition(labels, truth[order])
    assert labels[0] == 0 and set(labels.tolist()) == {0, 1}


def test_clustering_one_speaker_stays_one() -> None:
    x, _ = _speakers([50])
    assert set(cluster_embeddings(x).tolist()) == {0}


def test_clustering_three_speakers_and_given_count() -> None:
    x, truth = _speakers([30, 30, 30], seed=3)
    assert _same_partition(cluster_embeddings(x), truth)
    # a given count wins over the threshold: 2 clusters, each speaker whole in one of them
    two = cluster_embeddings(x, num_speakers=2)
    assert len(set(two.tolist())) == 2
    assert all(len(set(two[truth == k].tolist())) == 1 for k in range(3))


def test_clustering_folds_a_cluster_below_the_minimum_share() -> None:
    x, truth = _speakers([60, 1], seed=5)  # a single stray window is not a speaker
    assert set(cluster_embeddings(x, min_speaker_share=0.04).tolist()) == {0}
    assert len(set(cluster_embeddings(x, min_speaker_share=0.0).tolist())) == 2


def test_clustering_edge_sizes() -> None:
    assert cluster_embeddings(np.zeros((0, 8))).shape == (0,)
    assert cluster_embeddings(np.ones((1, 8))).tolist() == [0]


def _close_voices(n_per: list[int], sep: float, spread: float, seed: int = 7, dim: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Speakers around centres that share one direction (centre cosine ~1/(1+sep^2)): similar voices."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal(dim)
    base /= np.linalg.norm(base)
    rows, truth = [], []
    for k, n in enumerate(n_per):
        off = rng.standard_normal(dim)
        off -= (off @ base) * base
        centre = base + sep * off / np.linalg.norm(off)
        x = centre / np.linalg.norm(centre) + spread * rng.standard_normal((n, dim)) / np.sqrt(dim) * 3
        rows.append(x / np.linalg.norm(x, axis=1, keepdims=True))
        truth += [k] * n
    return np.concatenate(rows), np.array(truth)


def test_within_split_similarity() -> None:
    assert within_split_similarity(np.ones((1, 4))) == 1.0
    x, _ = _close_voices([40, 30], sep=1.0, spread=0.05)
    assert within_split_similarity(x) < 0.6  # two voices: the best split separates them
    one, _ = _close_voices([70], sep=0.0, spread=0.1)
    assert within_split_similarity(one) > 0.95


def test_split_margin_separates_similar_voices_but_not_one_voice() -> None:
    x, truth = _close_voices([40, 30], sep=0.4, spread=0.12)  # centroid cosine ~0.83 > merge threshold 0.75
    assert set(cluster_embeddings(x).tolist()) == {0}  # the absolute threshold merges them
    assert _same_partition(cluster_embeddings(x, split_margin=0.135), truth)  # each voice is far tighter
    for spread in (0.2, 0.3):  # one voice, even with the absolute threshold off, stays one
        one, _ = _close_voices([70], sep=0.0, spread=spread)
        assert set(cluster_embeddings(one, merge_threshold=0.0, split_margin=0.135).tolist()) == {0}


# ---------------------------------------------------------------- re-segmentation rules


def test_viterbi_path_switches_only_when_it_pays() -> None:
    scores = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.6], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    # a one-step blip (gain 0.6) does not pay a switch penalty of 1 (two switches); the lasting change does
    assert viterbi_path(scores, 1.0).tolist() == [0, 0, 0, 0, 1, 1, 1]
    assert viterbi_path(scores, 0.0).tolist() == [0, 0, 1, 0, 1, 1, 1]
    assert viterbi_path(scores, 10.0).tolist() == [1] * 7  # never worth switching: the label scoring 3.6 vs 3.0
    assert viterbi_path(np.zeros((0, 2)), 1.0).shape == (0,)


def test_resegment_moves_a_late_boundary_to_where_the_voice_changes() -> None:
    centres = np.eye(2)  # two speakers' centroids
    # 40 frames of speech, the true change at frame 20; the coarse labels put it at frame 26
    frame = np.array([0] * 26 + [1] * 14 + [-1] * 5)
    spans = [(a, a + 6) for a in range(0, 40, 2)]
    emb = np.array([[1.0, 0.1] if a + 3 < 20 else [0.1, 1.0] for a, _ in spans])  # window centre decides
    out = resegment(frame, centres, spans, emb, scale=2.0, prior=0.02, switch_penalty=4.0)
    change = int(np.flatnonzero(np.diff(out[:40]))[0]) + 1
    assert abs(change - 20) <= 2 and out[:40].min() == 0 and out[:40].max() == 1
    assert out[40:].tolist() == [-1] * 5  # pauses stay pauses
    # a single speaker, or no short windows: labels unchanged
    assert resegment(frame, centres[:1], spans, emb, 2.0, 0.02, 4.0).tolist() == frame.tolist()
    assert resegment(frame, centres, [], emb[:0], 2.0, 0.02, 4.0).tolist() == frame.tolist()
    # a speaker the Viterbi path would drop (a short turn under a large switch penalty) is kept
    blip = np.array([0] * 18 + [1] * 4 + [0] * 18)
    spans_b = [(a, a + 6) for a in range(0, 34, 2)]
    emb_b = np.array([[1.0, 0.1]] * len(spans_b))
    assert resegment(blip, centres, spans_b, emb_b, 2.0, 0.02, 40.0).tolist() == blip.tolist()


# ---------------------------------------------------------------- attribution and overlap rules


def test_overlap_second_speaker_where_votes_are_close() -> None:
    votes = np.array([[1.0, 0.0], [0.9, 0.2], [0.5, 0.6], [0.0, 1.0], [0.0, 0.0], [0.4, 0.4]])
    frame = np.array([0, 0, 1, 1, -1, 0])
    # ratio 0.3: frame 1 (0.2 < 0.27) no; frame 2 runner-up 0 (0.5 >= 0.18) yes; frame 5 a tie
    # (stable order: speaker 0 wins, 1 is runner-up) yes; no speech (-1) never
    assert overlap_second_speaker(votes, frame, 0.3).tolist() == [-1, -1, 0, -1, -1, 1]
    assert overlap_second_speaker(votes, frame, 0.0).tolist() == [-1, 1, 0, -1, -1, 1]
    assert overlap_second_speaker(votes[:, :1], frame, 0.0).tolist() == [-1] * 6


def test_word_goes_to_the_speaker_covering_most_of_it() -> None:
    turns = [("A", 0.0, 2.0), ("B", 1.8, 4.0), ("A", 5.0, 6.0)]
    words = [(0.5, 0.9), (1.7, 2.3), (1.9, 2.05), (4.2, 4.4), (7.5, 7.8), (3.0, 3.0)]
    # (1.7, 2.3): A covers 0.3, B 0.5 -> B; (1.9, 2.05): both cover 0.1 and 0.15 -> B;
    # (4.2, 4.4): in no turn, 0.3 s after B's, 0.7 s before A's -> B; (7.5, 7.8): > 1 s from any -> None
    assert attribute_words(words, turns) == ["A", "B", "B", "B", None, "B"]


def test_attribution_tie_goes_to_the_speaker_with_more_speech() -> None:
    turns = [("A", 0.0, 1.0), ("B", 1.0, 5.0)]
    assert attribute_words([(0.9, 1.1)], turns) == ["B"]
    assert attribute_words([(0.9, 1.1)], []) == [None]


def test_attribution_tie_in_overlap_goes_to_the_ongoing_turn() -> None:
    # A speaks 0-10 s (its turn is split where B's backchannel begins, as the built-in writes it);
    # B backchannels at 4.0-4.5 s and speaks more overall later (11-25 s)
    turns = [("A", 0.0, 4.0), ("A", 4.0, 10.0), ("B", 4.0, 4.5), ("B", 11.0, 25.0)]
    words = [(4.1, 4.4), (3.9, 4.2), (11.5, 12.0)]
    # (4.1, 4.4): covered alike by both -> A, whose turn holding it is 10 s long (B's is 0.5 s);
    # (3.9, 4.2): A covers more -> A whatever the tie rule; (11.5, 12.0): B alone
    assert attribute_words(words, turns) == ["A", "A", "B"]
    # the second iteration's tie rule: more speech overall -> B
    assert attribute_words(words, turns, ongoing_turn=False) == ["B", "A", "B"]


def test_overlap_share() -> None:
    assert overlap_share([]) == 0.0
    assert overlap_share([("A", 0, 4), ("B", 6, 10)]) == 0.0
    # speech 0-10 (10 s), two speakers on 3-4 and 8-9 -> 0.2
    assert overlap_share([("A", 0, 4), ("B", 3, 9), ("A", 8, 10)]) == 0.2
    # within a window [3.5, 5.5): speech 2 s, overlap 0.5 s
    assert overlap_share([("A", 0, 4), ("B", 3, 9), ("A", 8, 10)], 3.5, 5.5) == 0.25


def test_frame_labels_to_turns() -> None:
    labels = np.array([-1, 0, 0, 1, 1, 1, -1, 0])
    assert frame_labels_to_turns(labels, 0.5) == [("SPK0", 0.5, 1.5), ("SPK1", 1.5, 3.0), ("SPK0", 3.5, 4.0)]
    assert frame_labels_to_turns(np.array([], dtype=int)) == []


def test_parse_method() -> None:
    assert parse_method("builtin") == ("builtin", None)
    assert parse_method("pyannote:/models/p") == ("pyannote", "/models/p")
    assert parse_method(None) == ("none", None)
    for bad in ("pyannote:", "kmeans"):
        with pytest.raises(ValueError):
            parse_method(bad)


# ---------------------------------------------------------------- front end against librosa/torchaudio values


def test_mel_filterbank_matches_librosa_slaney() -> None:
    fb = mel_filterbank()
    assert fb.shape == (40, 201)
    # reference values from torchaudio.functional.melscale_fbanks(201, 0, 8000, 40, 16000,
    # norm="slaney", mel_scale="slaney") (= librosa.filters.mel(sr=16000, n_fft=400, n_mels=40))
    np.testing.assert_allclose(fb.sum(axis=1)[[0, 10, 20, 39]], [0.02480904, 0.02480904, 0.02521975, 0.02497876], rtol=1e-5)
    assert np.argmax(fb, axis=1)[[0, 10, 20, 39]].tolist() == [2, 20, 44, 185]


def test_mel_frames_shape_and_volume_rule() -> None:
    assert mel_frames(np.zeros(16000, dtype=np.float32)).shape == (101, 40)
    quiet = np.full(1000, 1e-3, dtype=np.float32)  # -60 dBFS -> raised to -30 dBFS
    assert abs(20 * np.log10(np.sqrt(np.mean(normalize_volume(quiet) ** 2))) + 30) < 1e-3
    loud = np.full(1000, 0.5, dtype=np.float32)  # never lowered
    assert np.array_equal(normalize_volume(loud), loud)


# ---------------------------------------------------------------- the real model on real speech


def _encoder():  # noqa: ANN202
    from curate.align.speaker_embedding import VoiceEncoder
    from curate.core.models import ModelNotFoundError

    try:
        return VoiceEncoder.bundled()
    except ModelNotFoundError:
        pytest.skip("GE2E weights not installed (make models)")


@pytest.fixture(scope="module")
def sample16k() -> np.ndarray:
    pytest.importorskip("soxr")
    pytest.importorskip("faster_whisper")
    if not SAMPLE.exists():
        pytest.skip("shared speech data missing")
    from curate.align.audio import decode_audio, downmix, resample

    audio, sr = decode_audio(SAMPLE / "sample.wav")
    return resample(downmix(audio), sr, 16000)


def test_encoder_separates_the_two_telephone_speakers(sample16k: np.ndarray) -> None:
    enc = _encoder()
    turns = read_rttm(str(SAMPLE / "sample.rttm"), "sample")
    emb: dict[str, list[np.ndarray]] = {}
    for spk, s, e in turns:
        if e - s >= 1.6:
            a = int(s * 16000)
            mel = mel_frames(normalize_volume(sample16k[a : a + 25600]))[:160]
            emb.setdefault(spk, []).append(enc.embed(mel[None])[0])
    (a_emb, b_emb) = (np.stack(v) for v in emb.values())
    same = np.mean(
        [(a_emb @ a_emb.T)[np.triu_indices(len(a_emb), 1)].mean(), (b_emb @ b_emb.T)[np.triu_indices(len(b_emb), 1)].mean()]
    )
    cross = (a_emb @ b_emb.T).mean()
    assert np.allclose(np.linalg.norm(a_emb, axis=1), 1.0, atol=1e-5)
    # measured: same-speaker cosine 0.76, cross-speaker 0.69 (GE2E on 8 kHz telephone speech)
    assert same > cross + 0.04, (same, cross)


def test_builtin_diarizer_on_the_telephone_sample(sample16k: np.ndarray) -> None:
    pytest.importorskip("pyannote.metrics")
    from pyannote.core import Annotation, Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    from curate.align.diarization import SEG30_OPTIONS, BuiltinDiarizer

    diarizer = BuiltinDiarizer(_encoder())
    emb = diarizer.embed(sample16k)
    given = diarizer.label(emb, num_speakers=2)
    estimated = diarizer.label(emb)
    assert given == BuiltinDiarizer(diarizer.encoder).label(
        BuiltinDiarizer(diarizer.encoder).embed(sample16k), 2
    )  # deterministic
    ref = read_rttm(str(SAMPLE / "sample.rttm"), "sample")

    def ann(turns: list) -> Annotation:
        a = Annotation()
        for k, (spk, s, e) in enumerate(turns):
            a[Segment(s, e), k] = spk
        return a

    def der(turns: list) -> float:
        return DiarizationErrorRate(collar=0.5)(ann(ref), ann(turns), uem=Timeline([Segment(0, 30)]))

    one = der([("ONE", s, e) for _, s, e in given])
    print("DER count given", der(given), "estimated", der(estimated), "one stream", one)
    # measured: 6.4 % with the count given or estimated (2.9 % with the GE2E encoder), 47 % as one
    # stream; without the segmentation model the estimate finds one speaker: the segmentation's count
    # evidence finds two
    assert len({t[0] for t in given}) == 2 and len({t[0] for t in estimated}) == 2
    assert der(given) <= 0.10 and der(estimated) <= 0.10 and one >= 0.40
    previous = diarizer.label(emb, None, replace(diarizer.options, segmentation=False))
    assert len({t[0] for t in previous}) == 1 and der(previous) >= 0.40  # the baseline it fixes
    # pyannote/segmentation-3.0 on the same embeddings, count given (measured 6.4 %; with the count
    # estimated it finds one speaker on this 30 s call: docs/diarization.md)
    seg30 = BuiltinDiarizer(diarizer.encoder, SEG30_OPTIONS, campplus=diarizer.campplus)
    emb30 = seg30.segment(replace(emb, seg_starts=None, seg_activity=None), sample16k)
    assert emb30.seg_activity is not None and emb30.seg_activity.shape[1:] == (589, 3)
    assert der(seg30.label(emb30, 2)) <= 0.10


def test_diarize_audio_picks_the_segmentation_model(sample16k: np.ndarray) -> None:
    from curate.align.diarization import builtin_diarizer, diarize_audio

    turns = diarize_audio("builtin", sample16k, num_speakers=2, segmentation="pyannote-3.0")
    assert len({t[0] for t in turns}) == 2
    assert builtin_diarizer("pyannote-3.0").options.seg_model == "pyannote-3.0"
    assert builtin_diarizer().options.seg_model == "pyannote"
    with pytest.raises(ValueError, match="segmentation model"):
        builtin_diarizer("pyannote-9")


def test_align_splits_a_mono_conversation_with_the_builtin_diarizer(sample16k: np.ndarray, tmp_path: Path) -> None:
    pytest.importorskip("pocketsphinx")
    model = Path(__file__).resolve().parents[2] / "models" / "whisper-base-ct2"
    from curate.core.models import models_dir

    model = model if (model / "model.bin").exists() else models_dir() / "whisper-base-ct2"
    if not (model / "model.bin").exists():
        pytest.skip("Whisper model missing")
    _encoder()
    from curate.align.audio import stereo_streams
    from curate.align.pipeline import AlignConfig, run_align

    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"path": str(SAMPLE / "sample.wav"), "speakers": 2}) + "\n")
    # workers=2 as in the other align tests: Ray starts once per pytest process, with the first count
    stats = run_align(
        [str(manifest)], tmp_path / "out", AlignConfig(asr_model=str(model), language="en", refine="off"), workers=2
    )
    assert stats["reconciled"] and stats["files"]["kept"] == 1
    rec = json.loads((tmp_path / "out" / "alignments" / "sample.json").read_text())
    assert rec["stream_mode"] == "diarized" and rec["diarization"] == "builtin" and len(rec["speakers"]) == 2
    assert 0.0 <= rec["overlap_share"] < 0.5 and rec["diarization_turns"]
    # word attribution against the STM: each word's true speaker = the STM segment covering most of it
    stm = [
        (p[2], float(p[3]), float(p[4]))
        for p in (line.split(maxsplit=5) for line in (SAMPLE / "sample.stm").read_text().splitlines())
    ]
    truth = attribute_words([(s, e) for _, (s, e), _ in rec["alignments"]], stm, max_gap=0.0)
    main_stm = max({t[0] for t in stm}, key=lambda spk: sum(e - s for k, s, e in stm if k == spk))
    pairs = [(spk, t) for (_, _, spk), t in zip(rec["alignments"], truth, strict=True) if t is not None]
    # the diarizer's main speaker may be either STM speaker: score both mappings, keep the better
    ok = max(sum((spk == "SPEAKER_MAIN") == (t == name) for spk, t in pairs) for name in {t[0] for t in stm}) / len(pairs)
    print("word attribution", ok, "main (stm)", main_stm, len(pairs))
    # measured 0.84 (75 words; the issue targets 0.90: not reached, see docs/diarization.md)
    assert len(pairs) >= 40 and ok >= 0.8
    streams = stereo_streams(rec, 24000)
    assert streams.shape == (2, round(rec["duration"] * 24000))
    assert not np.any((np.abs(streams[0]) > 1e-3) & (np.abs(streams[1]) > 1e-3))


def test_assign_speakers_uses_the_turns_of_a_diarized_file() -> None:
    from curate.align.pipeline import MAIN, OTHER, assign_speakers
    from curate.align.refine import Word

    words = [Word("a", 0.2, 0.5, 0.9), Word("b", 1.6, 2.3, 0.9), Word("c", 9.0, 9.2, 0.9)]
    turns = [["A", 0.0, 2.0], ["B", 1.8, 4.0]]
    out = assign_speakers(words, "diarized", 0, [[0.0, 2.0]], turns, "B")
    # b: B covers 0.5 s of it, A 0.4 s -> B (main); c: no turn within 1 s -> main
    assert [w.speaker for w in out] == [OTHER, MAIN, MAIN]
    # without turns the older rule (>= half the word inside the main segments) still applies
    assert [w.speaker for w in assign_speakers(words, "diarized", 0, [[0.0, 2.0]])] == [MAIN, MAIN, OTHER]


def test_shards_config_checks_the_overlap_threshold() -> None:
    from curate.shards.build import ShardsConfig

    with pytest.raises(ValueError, match="max-overlap-share"):
        ShardsConfig(formats=["moshi"], max_overlap_share=1.5).validate()
    ShardsConfig(formats=["moshi"], max_overlap_share=0.2).validate()
