"""Test vectors of the Inner Monologue text-stream rule (moshi-finetune `Interleaver.build_token_stream`)."""

from __future__ import annotations

import random

import pytest

from curate.shards.stream import (
    EPAD,
    PAD,
    ZERO,
    TextStreamConfig,
    TimedWord,
    build_text_stream,
    main_speaker_words,
    num_frames,
    tokenize_word,
    window_starts,
    window_words,
)

P, E = PAD, EPAD
H, W1, W2 = 100, 201, 202  # token ids well away from PAD (3) / EPAD (0)


def hello_world() -> list[TimedWord]:
    return [TimedWord((H,), 0.50, 0.90), TimedWord((W1, W2), 0.95, 1.40)]


def test_worked_example_of_the_issue() -> None:
    out = build_text_stream(hello_world(), 2.0)
    assert len(out) == 25
    assert out[5:18] == [E, H, P, P, P, E, W1, W2, P, P, P, P, P]
    assert out[:5] == [P] * 5 and out[18:] == [P] * 7


def test_in_word_pad_distinct_from_pad() -> None:
    out = build_text_stream(hello_world(), 2.0, TextStreamConfig(in_word_pad=99))
    # in-word padding runs to int(end * 12.5); the frame before a word still becomes EPAD
    assert out[5:19] == [E, H, 99, 99, 99, E, W1, W2, 99, 99, 99, 99, 99, P]


def test_word_at_frame_zero_has_no_epad_before_it() -> None:
    out = build_text_stream([TimedWord((10, 11), 0.0, 0.3)], 0.8)
    assert out == [10, 11, P, P, P, P, P, P, P, P]


def test_two_words_in_one_frame() -> None:
    words = [TimedWord((10, 11), 0.10, 0.12), TimedWord((20,), 0.13, 0.30)]
    # default: the second word cuts the first one before any of its tokens is emitted
    assert build_text_stream(words, 0.48) == [E, 20, P, P, P, P]
    # keep_and_shift: the tokens queue up and are shifted right
    assert build_text_stream(words, 0.48, TextStreamConfig(keep_and_shift=True)) == [E, 10, 11, 20, P, P]


def test_word_longer_than_its_frames() -> None:
    words = [TimedWord((10, 11, 12, 13), 0.0, 0.1), TimedWord((20,), 0.2, 0.5)]
    assert build_text_stream(words, 0.8) == [10, 11, 20, P, P, P, P, P, P, P]
    assert build_text_stream(words, 0.8, TextStreamConfig(keep_and_shift=True)) == [10, 11, 12, 13, 20, P, P, P, P, P]


def test_words_past_the_end_are_cut() -> None:
    words = [TimedWord((10, 11), 0.96, 1.5), TimedWord((20,), 1.05, 1.2)]
    out = build_text_stream(words, 1.0)
    assert len(out) == 13  # ceil(1.0 * 12.5)
    assert out[10:] == [P, E, 10]  # the second token of the first word and the second word fall outside


def test_negative_delay_is_asr_like() -> None:
    out = build_text_stream([TimedWord((10,), 0.0, 0.2)], 0.8, TextStreamConfig(audio_delay=-0.25))
    # words move 0.25 s later (frame 3); the first int(12.5 * 0.25) = 3 frames are the zero token
    assert out == [ZERO, ZERO, ZERO, 10, P, P, P, P, P, P]


def test_positive_delay_is_tts_like() -> None:
    words = [TimedWord((10,), 0.1, 0.4), TimedWord((20,), 0.6, 1.0)]
    out = build_text_stream(words, 0.8, TextStreamConfig(audio_delay=0.5))
    # the first word ends before the delay and is dropped; the second moves to 0.1 s (frame 1)
    assert out == [E, 20, P, P, P, P, P, P, P, P]


def test_degenerate_and_unsorted_words() -> None:
    words = hello_world()
    shuffled = [words[1], TimedWord((55,), 0.3, 0.3), words[0], TimedWord((56,), 0.7, 0.2)]
    assert build_text_stream(shuffled, 2.0) == build_text_stream(words, 2.0)
    assert build_text_stream(words, 0.0) == []


def test_other_ids_and_frame_rate() -> None:
    cfg = TextStreamConfig(pad=-7, epad=-8, frame_rate=25.0)
    out = build_text_stream([TimedWord((10,), 0.1, 0.15)], 0.2, cfg)
    assert out == [-7, -8, 10, -7, -7]  # floor(0.1 * 25) = 2


def test_num_frames_and_windows() -> None:
    assert num_frames(100.0) == 1250
    assert num_frames(0.08) == 1
    assert num_frames(0.081) == 2
    assert num_frames(52.4408125) == 656
    assert window_starts(250.0, 100.0) == [0.0, 100.0, 200.0]
    assert window_starts(200.0, 100.0) == [0.0, 100.0]
    assert window_starts(0.0, 100.0) == []
    with pytest.raises(ValueError):
        window_starts(10.0, 0.0)
    words = [TimedWord((1,), 99.9, 100.5), TimedWord((2,), 100.0, 100.2), TimedWord((3,), 200.0, 201.0)]
    assert window_words(words, 0.0, 100.0) == [TimedWord((1,), 99.9, 100.5)]  # kept by its start, may end past the window
    assert [(w.tokens, w.start) for w in window_words(words, 100.0, 100.0)] == [((2,), 0.0)]


def test_tokenize_word_and_main_speaker_filter() -> None:
    def encode(text: str) -> list[int]:
        return [ord(c) for c in text]

    assert tokenize_word("  ab ", encode) == (97, 98)
    assert tokenize_word("a\nb", encode, newline_id=13) == (97, 13, 98)
    assert tokenize_word("a\nb", encode) == (97, 98)
    # moshi-finetune: only the whole word is stripped; its lines are encoded as they are, the newline
    # piece between lines only (none before or after, even for blank lines inside)
    assert tokenize_word(" a \n b\n", encode, newline_id=13) == (97, 32, 13, 32, 98)
    assert tokenize_word("a\n\nb", encode, newline_id=13) == (97, 13, 13, 98)
    assert tokenize_word(" \n ", encode, newline_id=13) == ()
    alignments = [
        ["b", [1.0, 1.2], "SPEAKER_MAIN"],
        ["x", [0.1, 0.4], "SPEAKER_OTHER"],
        ["a", [0.5, 0.9], "SPEAKER_MAIN"],
        ["z", [2.0, 2.0], "SPEAKER_MAIN"],
    ]
    words = main_speaker_words(alignments, encode)
    assert [(w.tokens, w.start) for w in words] == [((97,), 0.5), ((98,), 1.0)]


def test_random_streams_keep_the_rule_invariants() -> None:
    rng = random.Random(0)
    for _ in range(200):
        words = []
        for _ in range(rng.randint(0, 30)):
            start = rng.uniform(0, 10)
            words.append(
                TimedWord(tuple(rng.randint(10, 50) for _ in range(rng.randint(1, 4))), start, start + rng.uniform(0.01, 1.0))
            )
        out = build_text_stream(words, 10.0)
        assert len(out) == 125
        for t, token in enumerate(out):
            if token == E:  # EPAD is always immediately followed by a word token
                assert out[t + 1] not in (P, E)
        # every word whose frame no later word shares starts with its first token at floor(start * 12.5)
        frames = [int(w.start * 12.5) for w in sorted(words, key=lambda w: w.start)]
        for w in words:
            f = int(w.start * 12.5)
            if frames.count(f) == 1 and f < 125:
                assert out[f] == w.tokens[0]
