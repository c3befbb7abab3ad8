"""`curate eval diarization` on vectors: the segmentation ceiling (oracle clustering), words in overlap."""

from __future__ import annotations

import numpy as np
import pytest

from curate.align.segmentation import FRAME_STEP, RECEPTIVE_FIELD, Segmentation
from curate.evaluation.diarization import oracle_clustering

CHUNK = 80000  # 5 s
N_SEG = Segmentation.num_frames(CHUNK)
REFERENCE = [("A", 0.0, 4.0), ("B", 3.0, 7.0), ("A", 8.0, 10.0)]
N_FRAMES = 1001  # 10 s


def chunks(speakers_of: dict[str, int] | None = None, drop: str | None = None, swap: bool = True):
    """Perfect local activities of 5 s chunks every 0.5 s (local speaker order swapped in odd
    chunks: local identities mean nothing across chunks); `drop`: a speaker the model never hears."""
    starts = np.arange(0, 160000 - CHUNK + 1, 8000)
    act = np.zeros((len(starts), N_SEG, 3), dtype=np.float32)
    for c, s in enumerate(starts):
        t = (s + RECEPTIVE_FIELD // 2 + FRAME_STEP * np.arange(N_SEG)) / 16000
        for spk, a, b in REFERENCE:
            if spk == drop:
                continue
            local = {"A": 0, "B": 1}[spk]
            if swap and c % 2:
                local = 1 - local
            act[c, (t >= a) & (t < b), local] = 0.9
    return starts, act


def _seconds(turns, name):
    return sum(e - s for spk, s, e in turns if spk == name)


def test_perfect_segmentation_gives_back_the_reference_overlap_included() -> None:
    starts, act = chunks()
    turns = oracle_clustering(REFERENCE, starts, act, N_FRAMES)
    assert {t[0] for t in turns} == {"A", "B"}
    assert abs(_seconds(turns, "A") - 6.0) < 0.1 and abs(_seconds(turns, "B") - 4.0) < 0.1
    both = [(s, e) for spk, s, e in turns if spk == "B" and s < 4.0]  # B's turn starts inside A's
    assert both and abs(both[0][0] - 3.0) < 0.05


def test_a_speaker_the_segmentation_never_hears_stays_missed() -> None:
    starts, act = chunks(drop="B")
    turns = oracle_clustering(REFERENCE, starts, act, N_FRAMES)
    assert {t[0] for t in turns} == {"A"}
    assert abs(_seconds(turns, "A") - 6.0) < 0.1


def test_no_activity_no_turns() -> None:
    starts, act = chunks()
    assert oracle_clustering(REFERENCE, starts, np.zeros_like(act), N_FRAMES) == []


def test_word_attribution_is_also_counted_on_the_words_said_in_overlap() -> None:
    pytest.importorskip("pyannote.metrics")
    from curate.evaluation.diarization import EvalItem, Scores

    words = [("one", 0.5, 0.9, "A"), ("two", 3.2, 3.6, "A"), ("yes", 3.4, 3.8, "B"), ("three", 5.0, 5.4, "B")]
    item = EvalItem("x", "built", np.zeros(16000 * 8, dtype=np.float32), REFERENCE, words=words)
    scores = Scores()
    scores.add(item, [("s1", 0.0, 4.0), ("s2", 3.0, 7.0)])  # the reference under other names
    summary = scores.summary()
    # "two" and "yes" lie where A and B overlap; the ongoing-turn rule gives both to one speaker
    assert (summary["words"], summary["words_in_overlap"]) == (4, 2)
    assert summary["word_attribution"] == 75.0 and summary["word_attribution_in_overlap"] == 50.0
