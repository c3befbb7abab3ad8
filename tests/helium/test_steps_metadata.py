"""Steps own their metadata: the report's stage table and the drop reasons come from the steps."""

from __future__ import annotations

from typing import ClassVar

import pytest
from datatrove.data import Document

from curate.helium.steps import STEPS, drop_reasons
from curate.helium.steps.base import DocumentStep, drop
from curate.report.page import TEXT_STAGES


def test_every_step_declares_stage_title_columns_and_reasons() -> None:
    for step in STEPS:
        assert step.stage and step.title and step.columns and step.drop_reasons, step
    assert [s[0] for s in TEXT_STAGES[1:]] == [s.stage for s in STEPS]
    reasons = drop_reasons()
    assert {r: reasons[r] for r in ("empty_after_dedup", "empty_after_fuzzy", "language", "quality")} == {
        "empty_after_dedup": "exact",
        "empty_after_fuzzy": "fuzzy",
        "language": "lid",
        "quality": "quality",
    }
    assert reasons["gopher_stop_words"] == "gopher_quality" and reasons["gopher_dup_5gram"] == "gopher_repetition"
    assert reasons["c4_too_few_sentences"] == "c4_lines"
    assert reasons["minhash_duplicate"] == "minhash"
    assert len(reasons) == sum(len(s.drop_reasons) for s in STEPS)  # no reason claimed by two stages


def test_an_undeclared_drop_reason_is_an_error() -> None:
    class Sloppy(DocumentStep):
        drop_reasons: ClassVar[tuple[str, ...]] = ("short",)

        def process_batch(self, docs: list[Document]) -> None:
            for doc in docs:
                drop(doc, "short" if len(doc.text) < 3 else "typo")

    docs = [Document(text="ab", id="1"), Document(text="abcdef", id="2")]
    with pytest.raises(ValueError, match="typo"):
        list(Sloppy().run(iter(docs)))
    assert [d.metadata["drop_reason"] for d in Sloppy().run(iter(docs[:1]))] == ["short"]
