"""The shared speech records: one word type, one versioned alignment record (test vectors)."""

from __future__ import annotations

import json

import pytest

from curate.align.records import SPEAKER_MAIN, SPEAKER_OTHER, AlignmentRecord, BadAlignment, Word


def test_word_json_is_moshi_finetune_layout() -> None:
    word = Word("hello", 1.25, 1.5, 0.9, SPEAKER_OTHER, "aligned")
    assert word.to_json() == ["hello", [1.25, 1.5], SPEAKER_OTHER]
    assert word.duration == pytest.approx(0.25)
    assert word.with_offset(-1.0) == Word("hello", 0.25, 0.5, 0.9, SPEAKER_OTHER, "aligned")
    assert Word.from_json(["hello", [1.25, 1.5], SPEAKER_OTHER, 0.9]) == Word("hello", 1.25, 1.5, 0.9, SPEAKER_OTHER)
    assert Word.from_json(["a", [0, 1], SPEAKER_MAIN, {"probability": 0.5}]).probability == 0.5
    assert Word.from_json(["a", ["0.5", 1], SPEAKER_MAIN], probability="x").probability is None


@pytest.mark.parametrize(
    "bad",
    [["a", "b"], ["a", [0], SPEAKER_MAIN], ["a", [0, float("nan")], SPEAKER_MAIN], ["a", ["x", 1], SPEAKER_MAIN], 5],
)
def test_malformed_words_are_refused(bad: object) -> None:
    with pytest.raises(BadAlignment):
        Word.from_json(bad)


def test_record_round_trip_keeps_every_field_and_sorts_words() -> None:
    raw = {
        "id": "x",
        "source": "/a.wav",
        "duration": 3.0,
        "language": "en",
        "stream_mode": "stereo",
        "alignments": [["b", [2.0, 2.5], SPEAKER_OTHER], ["a", [0.5, 1.0], SPEAKER_MAIN]],
        "word_probabilities": [0.7, 0.8],
        "word_timing": ["asr", "aligned"],
    }
    record = AlignmentRecord.from_json(raw)
    assert [w.text for w in record.words] == ["a", "b"]
    assert [w.probability for w in record.words] == [0.8, 0.7]
    assert [w.timing for w in record.words] == ["aligned", "asr"]
    again = AlignmentRecord.from_json(json.loads(json.dumps(record.to_json())))
    assert again == record
    assert record.fields["stream_mode"] == "stereo" and record.fields["duration"] == 3.0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "not a JSON object"),
        ({"alignments": []}, "source"),
        ({"source": "a", "alignments": {}}, "not a list"),
        ({"source": "a", "alignments": [], "version": 2}, "version 2"),
        ({"source": "a", "alignments": [["w", [0, 1]]]}, "word #0"),
    ],
)
def test_bad_records_say_why(raw: object, message: str) -> None:
    with pytest.raises(BadAlignment, match=message):
        AlignmentRecord.from_json(raw)
