"""Pure rules of the learned filters: the fuzzy block rule, the length-weighted quality score,
the keep rule, metrics and seeded sampling. Hand-computed vectors only, no model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from curate.helium.fuzzy import block_mask, dup_like_mask, is_blank, remove_lines
from curate.helium.quality import (
    QUALITY_LABELS,
    document_scores,
    document_scores_batch,
    keep_document,
    line_lengths,
    parse_bounds,
    quality_score,
    scores_dict,
)
from curate.training.common import bottom_k, classification_report, roc_auc, split_held_out

T, F = True, False


def mask(flags, min_block=3, blank=None):
    return block_mask(np.array(flags, dtype=bool), min_block, None if blank is None else np.array(blank, dtype=bool)).tolist()


# --------------------------------------------------------------------------- block rule


@pytest.mark.parametrize(
    "flags, expected",
    [
        ([F, T, F, F], [F, F, F, F]),  # run of 1 stays
        ([F, T, T, F], [F, F, F, F]),  # run of 2 stays
        ([F, T, T, T, F], [F, T, T, T, F]),  # run of 3 goes
        ([F, T, T, T, T, F], [F, T, T, T, T, F]),  # run of 4 goes
        ([T, T, T, F, F], [T, T, T, F, F]),  # at the start of the document
        ([F, F, T, T, T], [F, F, T, T, T]),  # at the end
        ([T, T, T], [T, T, T]),  # the whole document
        ([T, T, F, T, T], [F, F, F, F, F]),  # interleaved: 2 + 2 never make a block
        ([T, T, T, F, T, F, T, T, T, T], [T, T, T, F, F, F, T, T, T, T]),  # interleaved 3, 1, 4
        ([T, F, T, T, T, F, T, T], [F, F, T, T, T, F, F, F]),  # 1, 3, 2
        ([], []),
        ([F, F, F], [F, F, F]),
    ],
)
def test_block_rule_runs(flags, expected):
    assert mask(flags) == expected


def test_block_rule_min_block_parameter():
    flags = [T, T, F, T, T, T, T, F, T]
    assert mask(flags, min_block=1) == flags
    assert mask(flags, min_block=2) == [T, T, F, T, T, T, T, F, F]
    assert mask(flags, min_block=4) == [F, F, F, T, T, T, T, F, F]
    assert mask(flags, min_block=5) == [F] * 9
    with pytest.raises(ValueError):
        block_mask(np.array(flags), 0)


def test_blank_lines_neither_break_nor_count():
    # dup, blank, dup, dup: a run of 3 dup-like lines across the blank line; the blank line stays
    assert mask([T, F, T, T], blank=[F, T, F, F]) == [T, F, T, T]
    # dup, blank, blank, dup: only 2 dup-like lines, the blank lines do not count
    assert mask([T, F, F, T], blank=[F, T, T, F]) == [F, F, F, F]
    # a blank line's own flag is ignored, and blank lines are never removed
    assert mask([T, T, T, T], blank=[F, T, F, T]) == [F, F, F, F]
    assert mask([T, T, T, T, T], blank=[F, T, F, F, T]) == [T, F, T, T, F]
    # a blank line between two runs of 2 joins them into a block of 4
    assert mask([T, T, F, T, T], blank=[F, F, T, F, F]) == [T, T, F, T, T]


def test_dup_like_threshold_and_helpers():
    assert dup_like_mask(np.array([0.49, 0.5, 0.9]), 0.5).tolist() == [F, T, T]
    lines = ["menu", "  ", "", "text"]
    assert is_blank(lines).tolist() == [F, T, T, F]
    assert remove_lines(lines, np.array([T, F, F, F])) == "  \n\ntext"


# --------------------------------------------------------------------------- quality score


def test_quality_labels():
    assert QUALITY_LABELS == ("rand", "wiki", "books", "science", "news", "stem", "life", "hum", "pop")


def test_length_weighted_score_hand_computed():
    # two labels for readability: [rand, wiki]; lines of 10 and 30 characters
    probs = np.array([[0.8, 0.2], [0.1, 0.9]])
    lengths = np.array([10.0, 30.0])
    # rand: (0.8*10 + 0.1*30) / 40 = 11/40 = 0.275 ; wiki: (2 + 27) / 40 = 0.725
    assert document_scores(probs, lengths).tolist() == pytest.approx([0.275, 0.725])
    # a blank line (length 0) does not count whatever its probabilities
    probs3 = np.vstack([probs, [[1.0, 0.0]]])
    assert document_scores(probs3, np.array([10.0, 30.0, 0.0])).tolist() == pytest.approx([0.275, 0.725])
    # no text at all -> zeros
    assert document_scores(np.zeros((2, 2)), np.zeros(2)).tolist() == [0.0, 0.0]


def test_line_lengths_strip():
    assert line_lengths(["  abc  ", "", "\t", "hello world"]).tolist() == [3.0, 0.0, 0.0, 11.0]


def test_batch_scores_match_per_document():
    rng = np.random.default_rng(0)
    counts = [3, 0, 1, 5, 2]
    probs = rng.dirichlet(np.ones(9), size=sum(counts))
    lengths = rng.integers(1, 200, size=sum(counts)).astype(float)
    batch = document_scores_batch(probs, lengths, counts)
    start = 0
    for d, n in enumerate(counts):
        expected = document_scores(probs[start : start + n], lengths[start : start + n]) if n else np.zeros(9)
        assert batch[d] == pytest.approx(expected)
        start += n
    with pytest.raises(ValueError):
        document_scores_batch(probs, lengths, [1, 2])


def test_quality_score_and_keep_rule():
    # 9 labels: line A (20 chars) mostly rand, line B (80 chars) mostly wiki
    probs = np.zeros((2, 9))
    probs[0, [0, 1]] = [0.9, 0.1]
    probs[1, [0, 1, 3]] = [0.25, 0.5, 0.25]
    scores = scores_dict(document_scores(probs, np.array([20.0, 80.0])))
    # rand = (18 + 20) / 100 = 0.38 ; wiki = (2 + 40) / 100 = 0.42 ; science = 20 / 100 = 0.2
    assert scores["rand"] == pytest.approx(0.38)
    assert scores["wiki"] == pytest.approx(0.42)
    assert scores["science"] == pytest.approx(0.2)
    assert scores["pop"] == 0.0
    assert quality_score(scores) == pytest.approx(0.62)
    assert keep_document(scores, threshold=0.6)
    assert not keep_document(scores, threshold=0.63)
    assert keep_document(scores, 0.5, category_min={"wiki": 0.4})
    assert not keep_document(scores, 0.5, category_min={"wiki": 0.43})
    assert not keep_document(scores, 0.5, category_max={"science": 0.1})
    assert keep_document(scores, 0.5, category_max={"science": 0.2})
    assert quality_score({label: 0.0 for label in QUALITY_LABELS}) == 0.0


def test_parse_bounds():
    assert parse_bounds(["wiki=0.2", "science = 0.1"]) == {"wiki": 0.2, "science": 0.1}
    with pytest.raises(ValueError):
        parse_bounds(["wikipedia=0.2"])
    with pytest.raises(ValueError):
        parse_bounds(["wiki"])
    with pytest.raises(ValueError):
        parse_bounds(["wiki=1.5"])


# --------------------------------------------------------------------------- metrics and sampling


def test_roc_auc_hand_computed():
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [F, F, T, T]) == pytest.approx(0.75)
    assert roc_auc([1, 2, 3], [F, T, T]) == 1.0
    assert roc_auc([3, 2, 1], [F, T, T]) == 0.0
    assert roc_auc([0.5, 0.5], [F, T]) == 0.5  # ties count half
    assert math.isnan(roc_auc([0.1, 0.2], [T, T]))


def test_classification_report_hand_computed():
    report = classification_report(["a", "a", "b", "b", "b"], ["a", "b", "b", "b", "a"], ["a", "b"])
    assert report.confusion == [[1, 1], [1, 2]]
    assert report.per_class["a"].precision == 0.5 and report.per_class["a"].recall == 0.5
    assert report.per_class["b"].precision == pytest.approx(0.6667, abs=1e-4)
    assert report.accuracy == 0.6


def test_seeded_sampling_is_deterministic_and_order_free():
    texts = [f"line {i}" for i in range(1000)]
    a = bottom_k(texts, 50, seed=7)
    assert a == bottom_k(list(reversed(texts)) + texts[:10], 50, seed=7)
    assert a != bottom_k(texts, 50, seed=8)
    train, held = split_held_out(a, 0.2, seed=7)
    assert sorted(train + held) == sorted(a) and not set(train) & set(held)
    assert 0 < len(held) < 25
    assert (train, held) == split_held_out(a, 0.2, seed=7)
