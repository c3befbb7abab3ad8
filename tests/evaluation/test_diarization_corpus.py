"""The built conversations of `curate eval diarization`: truth consistent with the audio, deterministic,
overlap in the range the issue asks for, single-speaker files one speaker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("soxr")

from curate.align.diarization import overlap_share  # noqa: E402
from curate.evaluation.conversations import (  # noqa: E402
    SPEAKERS,
    Chunk,
    _backchannel,
    activity,
    build_conversation,
    build_meeting,
    build_monologue,
    far_field_copy,
    load_speaker,
    room_response,
)

SHARED = Path(__file__).resolve().parents[3] / "shared"
pytestmark = pytest.mark.skipif(not (SHARED / "data" / "speech").exists(), reason="shared speech data missing")


@pytest.fixture(scope="module")
def chunks() -> dict:
    return {n: load_speaker(SHARED, SPEAKERS[n]) for n in ("michael", "libri2412")}


def test_conversation_truth_matches_the_audio(chunks: dict) -> None:
    a = build_conversation("c", ("michael", "libri2412"), chunks, seed=7, duration=60.0)
    b = build_conversation("c", ("michael", "libri2412"), chunks, seed=7, duration=60.0)
    assert np.array_equal(a.audio, b.audio) and a.turns == b.turns  # deterministic
    assert {t[0] for t in a.turns} == {"michael", "libri2412"}
    n = len(a.audio)
    assert all(0 <= s < e <= n / 16000 for _, s, e in a.turns)
    # every reference turn carries signal, and what the truth calls non-speech is quieter (measured
    # -13 dB: room noise, breaths and the coughs/noises MFA leaves out of its word tier)
    speech = np.zeros(n, dtype=bool)
    for _, s, e in a.turns:
        assert np.sqrt(np.mean(a.audio[int(s * 16000) : int(e * 16000)] ** 2)) > 1e-3
        speech[int(s * 16000) : int(e * 16000)] = True
    assert np.sqrt(np.mean(a.audio[~speech] ** 2)) < 0.3 * np.sqrt(np.mean(a.audio[speech] ** 2))
    assert 0.03 <= overlap_share(a.turns) <= 0.25


def test_monologue_is_one_speaker_and_telephone_is_band_limited(chunks: dict) -> None:
    m = build_monologue("m", "michael", chunks["michael"], seed=1, duration=20.0, telephone=True)
    assert {t[0] for t in m.turns} == {"michael"} and overlap_share(m.turns) == 0.0
    spec = np.abs(np.fft.rfft(m.audio)) ** 2
    f = np.fft.rfftfreq(len(m.audio), 1 / 16000)
    assert spec[f > 4200].sum() < 1e-3 * spec.sum()  # 8 kHz telephone channel: nothing above 4 kHz


def test_meeting_has_every_speaker_and_heavy_overlap(chunks: dict) -> None:
    chunks = {**chunks, "jfk": load_speaker(SHARED, SPEAKERS["jfk"])}
    a = build_meeting("m", ("michael", "libri2412", "jfk"), chunks, seed=5, duration=60.0)
    b = build_meeting("m", ("michael", "libri2412", "jfk"), chunks, seed=5, duration=60.0)
    assert np.array_equal(a.audio, b.audio) and a.turns == b.turns  # deterministic
    assert {t[0] for t in a.turns} == {"michael", "libri2412", "jfk"} and not a.telephone
    assert all(0 <= s < e <= len(a.audio) / 16000 for _, s, e in a.turns)
    assert 0.2 <= overlap_share(a.turns) <= 0.6  # far more than the two-speaker conversations


def test_room_response_decays_and_has_the_asked_direct_to_reverberant_ratio() -> None:
    h = room_response(np.random.default_rng(0), rt60=0.8, drr_db=3.0)
    assert len(h) == int(0.8 * 16000) and h[0] == 1.0
    tail = h[1:].astype(np.float64)
    assert abs(10 * np.log10(1.0 / np.sum(tail**2)) - 3.0) < 1e-3  # direct / reverberant energy
    early, late = np.sum(tail[: len(tail) // 4] ** 2), np.sum(tail[-len(tail) // 4 :] ** 2)
    assert 10 * np.log10(early / late) > 30  # -60 dB over 0.8 s: about -45 dB from the first to the last quarter


def test_far_field_copy_keeps_the_truth_and_changes_the_sound(chunks: dict) -> None:
    a = build_conversation("c", ("michael", "libri2412"), chunks, seed=7, duration=40.0)
    far = far_field_copy(a, seed=1)
    assert far.id == "c-far" and far.far_field and not a.far_field
    assert far.turns == a.turns and far.words == a.words and len(far.audio) == len(a.audio)
    assert np.array_equal(far.audio, far_field_copy(a, seed=1).audio)  # deterministic
    # the dry mix is the speakers' tracks summed; the far-field one is not a scaled copy of it
    assert np.allclose(sum(a.tracks.values()), a.audio / np.abs(a.audio).max() * np.abs(sum(a.tracks.values())).max(), atol=1e-4)
    assert abs(np.corrcoef(far.audio, a.audio)[0, 1]) < 0.9


def test_energy_activity_rule() -> None:
    x = np.zeros(16000 * 3, dtype=np.float32)
    x[16000:24000] = 0.3 * np.sin(np.arange(8000) * 0.2)  # 1.0-1.5 s
    x[40000:44000] = 0.3 * np.sin(np.arange(4000) * 0.2)  # 2.5-2.75 s
    segs = activity(x + 1e-4 * np.random.default_rng(0).standard_normal(len(x)).astype(np.float32))
    assert [(round(s, 1), round(e, 1)) for s, e in segs] == [(1.0, 1.5), (2.5, 2.8)]


def test_real_references_load_with_their_turns() -> None:
    from curate.evaluation.diarization import real_items

    items = real_items(SHARED)
    assert [i.id for i in items] == ["pyannote_sample", "ami_debug_dev00", "ami_debug_tst00", "lhotse_ami"]
    sample = items[0]
    assert len(sample.audio) == 30 * 16000 and {t[0] for t in sample.reference} == {"speaker90", "speaker91"}
    assert sample.word_reference and all(i.reference for i in items)
    assert items[1].uem is not None and items[1].uem[1] > items[1].uem[0]


def test_a_backchannel_keeps_the_words_said_before_its_cut() -> None:
    chunk = Chunk(
        np.zeros(16000 * 3, dtype=np.float32),
        [(0.5, 2.5)],
        [("if", 0.5, 0.62), ("the", 0.62, 0.8), ("reader", 0.8, 1.3), ("will", 1.3, 1.6)],
    )
    rng = np.random.default_rng(0)
    bc = _backchannel(chunk, rng, 0.9)
    length = bc.speech[0][1] - bc.speech[0][0]  # the cut: 0.35-0.9 s of speech from 0.5 s on
    assert 0.35 <= length <= 0.9 and bc.speech[0][0] == 0.02
    kept = [w for w, _, e in chunk.words if e - 0.5 <= length + 0.02]
    assert [w for w, _, _ in bc.words] == kept and kept[:2] == ["if", "the"]
    assert all(0.0 <= s < e <= len(bc.audio) / 16000 + 1e-9 for _, s, e in bc.words)
    assert bc.words[0][1] == 0.02  # "if" starts where the speech of the cut does
