"""`curate eval boilerplate`: truth from the HTML, and the WARC path against the WET path."""

from __future__ import annotations

from curate.evaluation.boilerplate import dedup_texts, evaluate, truth_lines
from tests.conftest import shared_path


def test_truth_comes_from_the_boilerplate_elements() -> None:
    html = "<html><body><header>Logo</header><nav><a>Home</a><br><a>News</a></nav><p>Body text.</p><footer>(c) X</footer></body></html>"
    assert truth_lines(html) >= {"Logo", "(c) X"}
    assert "Body text." not in truth_lines(html)
    assert dedup_texts(["a\nb", "b\nc"]) == ["a\nb", "c"]


def test_main_content_leaves_far_less_boilerplate_than_wet() -> None:
    result = evaluate(shared_path(), extractors=("resiliparse",))
    for name in ("sample", "hplt"):
        paths = result[name]["paths"]
        wet, warc = paths["wet (full-page text)"], paths["warc resiliparse"]
        assert wet["boilerplate_left_vs_wet_input"] > 0.03, name  # dedup alone does not remove it
        assert warc["boilerplate_left_vs_wet_input"] < 0.02, name
        assert warc["boilerplate_chars_left"] < wet["boilerplate_chars_left"] / 10, name
    # the sample's articles survive extraction untouched (before dedup, which removes repeats)
    assert result["sample"]["paths"]["warc resiliparse, no dedup"]["content_kept_vs_wet_input"] == 1.0
    assert result["hplt"]["pages"] >= 50
