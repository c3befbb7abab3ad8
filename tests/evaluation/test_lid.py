"""`curate eval lid`: per-language precision / recall on OSCAR + HPLT, and the YAML table it chose."""

from __future__ import annotations

from curate.evaluation.lid import EU24, THRESHOLDS, evaluate, segments
from curate.helium.config import DEFAULT_LID_THRESHOLDS
from tests.conftest import shared_path


def test_segments() -> None:
    assert list(segments("a\n\nbb\nccc", 4)) == ["a bb", "ccc"]
    assert list(segments("x" * 10, 100)) == []  # too short to be a segment of ~100 characters
    assert list(segments("x" * 60, 100)) == ["x" * 60]


def test_lid_evaluation_and_the_default_table() -> None:
    result = evaluate(shared_path())
    assert result["sources"]["oscar"] > 400 and result["sources"]["hplt"] > 300
    assert len(result["languages"]) >= 120  # OSCAR languages whose documents are long enough to segment
    for lang, v in result["languages"].items():
        recalls = [r["recall"] for r in v["by_threshold"]]
        assert all(0 <= r <= 1 for r in recalls)
        assert recalls == sorted(recalls, reverse=True), lang  # a higher threshold never finds more
        if v["chosen"] is not None:
            assert v["support"] >= 10
            assert dict(zip(THRESHOLDS, recalls))[v["chosen"]] >= 0.9
    # the shipped table is this evaluation's choice for the EU languages it could choose for
    chosen_eu = {k: v for k, v in result["lid_thresholds"].items() if k in EU24}
    assert DEFAULT_LID_THRESHOLDS == chosen_eu
