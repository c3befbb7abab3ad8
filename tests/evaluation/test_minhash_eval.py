"""The MinHash evaluation harness: exact Jaccard truth against brute force, and scores on a small
planted corpus of real text."""

from __future__ import annotations

import json
import random

import pytest

from curate.evaluation.minhash import (
    curate_minhash,
    duplicates_from_pairs,
    edit_words,
    evaluate,
    exact_jaccard_pairs,
    planted_corpus,
    real_texts,
)
from curate.helium.minhash import MinhashParams, jaccard, shingle_set
from tests.conftest import SHARED


@pytest.fixture(scope="module")
def texts() -> list[str]:
    if not (SHARED / "text").exists():
        pytest.skip("shared text not found")
    return real_texts(120)


def test_exact_pairs_match_brute_force(texts: list[str]) -> None:
    rng = random.Random(1)
    vocab = texts[0].split()
    sample = texts[:20] + [edit_words(t, f, vocab, rng) for t, f in zip(texts[:20], [0.01, 0.05, 0.1, 0.3] * 5)]
    pairs = exact_jaccard_pairs(sample, 5, minimum=0.05)
    sets = [shingle_set(t, 5) for t in sample]
    brute = {(i, j): jaccard(sets[i], sets[j]) for i in range(len(sample)) for j in range(i + 1, len(sample))}
    assert pairs.keys() == {p for p, s in brute.items() if s >= 0.05}
    assert all(abs(pairs[p] - brute[p]) < 1e-12 for p in pairs)
    assert len(pairs) >= 15


def test_duplicates_from_pairs() -> None:
    assert duplicates_from_pairs([(3, 5), (5, 9), (1, 2)]) == {5, 9, 2}
    assert duplicates_from_pairs([]) == set()


def test_scores_on_a_small_planted_corpus(texts: list[str]) -> None:
    params = MinhashParams()
    docs = planted_corpus(texts, 30, fractions=(0.01, 0.3), seed=2)
    truth = exact_jaccard_pairs([d.text for d in docs], 5)
    predicted, candidates, clusters = curate_minhash([d.text for d in docs], params)
    result = evaluate(docs, predicted, truth, candidates, clusters, params)
    near = result["planted"][0]
    far = result["planted"][1]
    assert near["edit_fraction"] == 0.01 and near["mean_jaccard"] > 0.85 and near["same_cluster_share"] == 1.0
    assert far["edit_fraction"] == 0.3 and far["mean_jaccard"] < 0.3 and far["same_cluster_share"] == 0.0
    assert result["thresholds"]["0.8"]["recall"] == 1.0
    assert result["thresholds"]["0.7"]["precision"] > 0.8
    # nothing predicted: recall 0 where there is something to find
    assert evaluate(docs, set(), truth, params=params)["thresholds"]["0.8"]["recall"] == 0.0


def test_run_evaluation_writes_its_reports(texts: list[str], tmp_path) -> None:
    from curate.evaluation.minhash import run_evaluation

    result = run_evaluation(tmp_path, n_texts=120, n_sources=15)
    assert json.loads((tmp_path / "report.json").read_text()) == json.loads(json.dumps(result))
    report = (tmp_path / "report.md").read_text()
    assert report.startswith("# MinHash evaluation") and "| 0.75 |" in report
    assert result["planted"][0]["edit_fraction"] == 0.01 and result["planted"][0]["same_cluster_share"] == 1.0
