"""Gopher / C4 heuristics: test vectors for each rule, checks against real filtered corpora, the steps."""

from __future__ import annotations

import json
from itertools import islice

import numpy as np
import pytest
from datatrove.data import Document

from curate.helium.heuristics import (
    C4Lines,
    GopherQuality,
    GopherRepetition,
    c4_filter,
    c4_line_kept,
    dup_ngram_char_fraction,
    duplicate_fractions,
    gopher_quality,
    gopher_repetition,
    ngram_ids,
    split_words,
    top_ngram_char_fraction,
    word_ids,
)
from curate.helium.steps.base import DROP_REASON
from curate.helium.steps.heuristic_filters import C4LineFilter, GopherQualityFilter, GopherRepetitionFilter, rule_from
from tests.conftest import shared_path

ENGLISH = (
    "The committee met on Tuesday to discuss the new budget, and the members agreed that the plan should "
    "be published with the full report. Several of them said they would have liked more time to read it "
    "before the vote, but the chair noted that the deadline had been set by the council months ago. "
    "The final version will be available to the public next week, together with the minutes of the meeting."
)


def test_split_words_by_script() -> None:
    assert split_words("Don't stop-me now, 42 times!") == ["Don't", "stop-me", "now", "42", "times"]
    assert split_words("日本語のテキスト", "ja") == list("日本語のテキスト")
    assert split_words("Prix 3 € — 東京 tower", "fr") == ["Prix", "3", "東", "京", "tower"]


def test_duplicate_fractions() -> None:
    assert duplicate_fractions(["a", "bb", "a", "a"]) == (0.5, 2 / 5)
    assert duplicate_fractions([]) == (0.0, 0.0)


def test_ngram_vectors() -> None:
    ids, lengths = word_ids("a b c a b c x".split())
    assert list(ids) == [0, 1, 2, 0, 1, 2, 3]
    grams = ngram_ids(ids, 3)
    assert grams[0] == grams[3] and len(set(grams.tolist())) == 4
    # the repeat of the 3-gram "a b c" covers 3 of 7 one-character words
    assert dup_ngram_char_fraction(ids, lengths, 3) == pytest.approx(3 / 7)
    assert dup_ngram_char_fraction(ids, lengths, 3, total=14) == pytest.approx(3 / 14)
    # most frequent 2-gram: "a b" (or "b c"), 2 chars x 2 occurrences over 7
    assert top_ngram_char_fraction(ids, lengths, 2) == pytest.approx(4 / 7)
    ids, lengths = word_ids("one two three".split())
    assert dup_ngram_char_fraction(ids, lengths, 5) == 0.0 and top_ngram_char_fraction(ids, lengths, 2) == 0.0


def test_dup_ngram_fraction_matches_a_brute_force_reference() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        words = [f"w{int(x)}" for x in rng.integers(0, 6, size=int(rng.integers(5, 60)))]
        for n in (2, 3, 5):
            grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
            covered = [False] * len(words)
            for i, g in enumerate(grams):
                if g in grams[:i]:
                    for k in range(i, i + n):
                        covered[k] = True
            expected = sum(len(w) for w, c in zip(words, covered) if c) / sum(map(len, words))
            ids, lengths = word_ids(words)
            assert dup_ngram_char_fraction(ids, lengths, n) == pytest.approx(expected)


def test_gopher_quality_vectors() -> None:
    assert gopher_quality(ENGLISH) is None
    assert gopher_quality("too short text") == "gopher_too_few_words"
    assert gopher_quality(ENGLISH + " #tag" * 12) == "gopher_hash_ratio"
    assert gopher_quality("\n".join(f"- item {i} with the words" for i in range(60))) == "gopher_bullet_lines"
    no_stops = " ".join(f"Product{i} price" for i in range(40))
    assert gopher_quality(no_stops) == "gopher_stop_words"
    assert gopher_quality(" ".join(["123 456"] * 40)) == "gopher_alpha_words"
    assert gopher_quality(" ".join(["extraordinarily"] * 60)) == "gopher_mean_word_length"
    french = (
        "Le conseil municipal a adopté le budget de la ville et les élus ont voté pour la rénovation des écoles. "
        "Les travaux commenceront en juin et dureront un an, selon le maire qui a présenté le projet aux habitants "
        "lors de la réunion publique de la semaine dernière dans la salle des fêtes."
    )
    assert gopher_quality(french, "fr") is None
    assert gopher_quality(french, "en") == "gopher_stop_words"  # English stop words on French text
    assert gopher_quality("これは日本語の文章です。" * 10, "ja") is None  # no stop-word list: rule skipped


def test_gopher_repetition_vectors() -> None:
    assert gopher_repetition(ENGLISH) is None
    assert gopher_repetition("\n".join(["Buy now!", "Cheap prices", "Buy now!", "Buy now!"])) == "gopher_dup_lines"
    assert gopher_repetition(ENGLISH + "\n" + " ".join(["spam eggs"] * 40)) == "gopher_top_2gram"


def test_c4_line_rule_vectors() -> None:
    assert c4_line_kept("This is a proper sentence.")
    assert not c4_line_kept("Home | About | Contact")
    assert not c4_line_kept("Too short.")
    assert not c4_line_kept("Please enable JavaScript to view this page.")
    assert not c4_line_kept("This site uses cookies to improve your experience.")
    assert not c4_line_kept("And then it went on and on...")
    assert c4_line_kept("これは日本語の文です。", "ja")
    text, removed, reason = c4_filter("Menu\n" + ENGLISH + "\nShare this")
    assert reason is None and removed == 2 and text == ENGLISH
    assert c4_filter(ENGLISH + " {x}")[2] == "c4_curly_bracket"
    assert c4_filter("Lorem ipsum dolor sit amet. " + ENGLISH)[2] == "c4_lorem_ipsum"
    assert c4_filter("One sentence here only.")[2] == "c4_too_few_sentences"


def test_c4_rules_keep_c4_itself() -> None:
    """C4's released documents passed C4's rules: ours must keep nearly all of them, untouched."""
    path = shared_path("text", "web_filtered", "c4_en_train-00000-of-01024_first1000.jsonl")
    with open(path) as fh:
        docs = [json.loads(line)["text"] for line in fh]
    results = [c4_filter(d) for d in docs]
    assert sum(r[2] is None for r in results) >= 0.99 * len(docs)
    assert sum(r[1] for r in results) == 0


def test_gopher_keeps_most_of_fineweb() -> None:
    """FineWeb applied Gopher's rules (datatrove): ours keep most of its English documents."""
    import gzip

    path = shared_path("text", "web_filtered", "fineweb_sample-10BT_legal-pilot_2800docs.jsonl.gz")
    with gzip.open(path, "rt") as fh:
        docs = [json.loads(line)["text"] for line in islice(fh, 500)]
    kept_q = sum(gopher_quality(d) is None for d in docs) / len(docs)
    kept_r = sum(gopher_repetition(d) is None for d in docs) / len(docs)
    assert kept_q >= 0.9 and kept_r >= 0.9, (kept_q, kept_r)


def test_steps_drop_with_the_rule_name_and_use_the_language() -> None:
    docs = [
        Document(text=ENGLISH, id="en", metadata={"language": "en"}),
        Document(text="short", id="s", metadata={"language": "en"}),
        Document(text=ENGLISH, id="fr", metadata={"language": "fr"}),
    ]
    list(GopherQualityFilter().run(iter(docs)))
    assert [d.metadata.get(DROP_REASON) for d in docs] == [None, "gopher_too_few_words", "gopher_stop_words"]
    doc = Document(text="Menu\n" + ENGLISH, id="c", metadata={"language": "en"})
    list(C4LineFilter().run(iter([doc])))
    assert doc.text == ENGLISH and doc.metadata["lines_removed_c4"] == 1
    doc = Document(text="\n".join(["same line here"] * 5), id="r", metadata={})
    list(GopherRepetitionFilter().run(iter([doc])))
    assert doc.metadata[DROP_REASON] == "gopher_dup_lines"


def test_rule_overrides_from_yaml() -> None:
    assert rule_from(GopherQuality, {"min_words": 5}).min_words == 5
    assert rule_from(C4Lines, None) == C4Lines()
    with pytest.raises(ValueError, match=r"unknown option\(s\) min_wrds in the GopherQuality rule \(known: .*min_words"):
        rule_from(GopherQuality, {"min_wrds": 5})
    rule = rule_from(GopherRepetition, {"max_dup_ngram_char_fraction": {"5": 0.2}})
    assert rule.max_dup_ngram_char_fraction == {5: 0.2}
    with pytest.raises(ValueError, match="n-gram sizes must be in 2..10"):
        rule_from(GopherRepetition, {"max_top_ngram_char_fraction": {"12": 0.2}})
