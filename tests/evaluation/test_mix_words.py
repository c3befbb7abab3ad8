"""Truth of the ASR words of a built mix (`mix_word_speakers`), on vectors."""

from __future__ import annotations

from curate.evaluation.diarization import mix_word_speakers

REFERENCE = [("A", 0.0, 3.0), ("B", 2.0, 5.0)]  # overlapped speech 2-3 s
SAID = [
    ("hello", 0.1, 0.5, "A"),
    ("there", 2.1, 2.4, "A"),
    ("yes", 2.2, 2.5, "B"),
    ("the", 2.6, 2.8, "A"),
    ("the", 2.7, 2.9, "B"),
    ("end", 4.5, 4.9, "B"),
]


def test_a_word_only_one_speaker_talks_over_is_theirs_whatever_the_asr_heard() -> None:
    assert mix_word_speakers([("hallo", 0.1, 0.5), ("and", 4.5, 4.9)], SAID, REFERENCE) == ["A", "B"]


def test_a_word_in_overlap_is_the_speaker_whose_own_word_it_is() -> None:
    words = [("There,", 2.12, 2.38), ("YES", 2.25, 2.5), ("yes", 2.9, 3.0)]  # the last: 0.4 s after B's "yes"
    assert mix_word_speakers(words, SAID, REFERENCE) == ["A", "B", "B"]


def test_the_same_text_from_both_speakers_goes_to_the_closer_word() -> None:
    assert mix_word_speakers([("the", 2.58, 2.78)], SAID, REFERENCE) == ["A"]
    assert mix_word_speakers([("the", 2.72, 2.92)], SAID, REFERENCE) == ["B"]


def test_no_matching_source_word_means_no_truth() -> None:
    words = [("yesthere", 2.1, 2.5), ("yes", 3.01 + 0.5, 3.6)]  # merged words; "yes" too far (and B alone there)
    assert mix_word_speakers(words, SAID, REFERENCE) == [None, "B"]
    assert mix_word_speakers([("yes", 2.2, 2.5)], SAID, REFERENCE, tolerance=0.5) == ["B"]


def test_a_word_outside_every_turn_takes_the_speaker_of_the_matching_word_nearby() -> None:
    assert mix_word_speakers([("end", 5.1, 5.3), ("end", 6.0, 6.2)], SAID, REFERENCE) == ["B", None]
    assert mix_word_speakers([], SAID, REFERENCE) == []


def test_scores_count_the_mix_words_apart_from_the_words_said() -> None:
    import numpy as np
    import pytest

    pytest.importorskip("pyannote.metrics")
    from curate.evaluation.diarization import EvalItem, Scores

    mix = [("hello", 0.1, 0.5), ("yes", 2.2, 2.5), ("yesthere", 2.1, 2.5), ("end", 4.5, 4.9)]
    truth = mix_word_speakers(mix, SAID, REFERENCE)
    assert truth == ["A", "B", None, "B"]
    asr = [(w, s, e, t) for (w, s, e), t in zip(mix, truth, strict=True) if t is not None]
    item = EvalItem("x", "built", np.zeros(16000 * 6, dtype=np.float32), REFERENCE, words=SAID, asr_words=asr, asr_unmatched=1)
    scores = Scores()
    scores.add(item, [("s1", 0.0, 2.6), ("s2", 2.6, 5.0)])  # "yes" (2.2-2.5) falls to s1 = A: wrong
    summary = scores.summary()
    assert (summary["asr_words"], summary["asr_words_without_truth"]) == (3, 1)
    assert summary["word_attribution_asr"] == round(100 * 2 / 3, 2)
    assert summary["words"] == len(SAID)
