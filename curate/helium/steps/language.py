"""Document-level language ID with fastText (lid.176 by default)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import pyarrow as pa
from datatrove.data import Document

from curate.core.fasttext_model import clean_for_fasttext, load_fasttext, predict_top
from curate.core.models import bundled_model_path
from curate.helium.steps.base import DocumentStep, drop


class LanguageFilter(DocumentStep):
    """Keep documents whose top language is in `languages` (or any, for `["all"]`) with probability
    >= the language's threshold: `thresholds[language]`, else `threshold`.

    The whole document is classified at once (newlines -> spaces), as in the Moshi recipe.
    """

    stage: ClassVar[str] = "lid"
    title: ClassVar[str] = "Language ID"
    drop_reasons: ClassVar[tuple[str, ...]] = ("language",)

    name = "language id"
    columns: ClassVar[dict[str, pa.DataType]] = {"language": pa.string(), "language_score": pa.float32()}

    def __init__(
        self,
        languages: list[str],
        threshold: float = 0.85,
        model_path: str | None = None,
        batch_size: int = 512,
        thresholds: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__()
        self.languages = frozenset(languages)
        self.keep_all = "all" in self.languages
        self.threshold = threshold
        self.thresholds = {k: float(v) for k, v in (thresholds or {}).items()}
        self.model_path = str(model_path) if model_path else str(bundled_model_path("lid.176.ftz"))  # a path or URL
        self.batch_size = batch_size

    def process_batch(self, docs: list[Document]) -> None:
        model = load_fasttext(self.model_path)
        labels, scores = predict_top(model, [clean_for_fasttext(doc.text) for doc in docs])
        for doc, label, score in zip(docs, labels, scores):
            doc.metadata["language"] = label
            doc.metadata["language_score"] = float(score)
            wanted = self.keep_all or label in self.languages
            if not wanted or score < self.thresholds.get(label, self.threshold):
                drop(doc, "language")
