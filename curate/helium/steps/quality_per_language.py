"""Per-language quality models: the `language` column (from LID) picks the model.

`quality_models` maps a language to a model (`--quality-model fr=PATH`); `quality_model` is the
model for every other language. A document whose language has neither is kept unscored (its
`quality` columns are null): the quality stage has no opinion on a language it has no model for.
Each language's documents of a batch go through one batched `predict` of their model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import pyarrow as pa
from datatrove.data import Document

from curate.helium.steps.base import DocumentStep
from curate.helium.steps.classifiers import QualityFilter


class PerLanguageQualityFilter(DocumentStep):
    """The `quality` stage when per-language models are given (an alternative to QualityFilter,
    so it is not listed in STEPS: the report shows one quality stage)."""

    name = "quality filter (per language)"
    stage: ClassVar[str] = QualityFilter.stage
    title: ClassVar[str] = QualityFilter.title
    drop_reasons: ClassVar[tuple[str, ...]] = QualityFilter.drop_reasons
    columns: ClassVar[dict[str, pa.DataType]] = {**QualityFilter.columns, "quality_model": pa.string()}

    def __init__(
        self,
        models: Mapping[str, str],
        default_model: str | None,
        threshold: float,
        category_min: Mapping[str, float] | None = None,
        category_max: Mapping[str, float] | None = None,
        batch_size: int = 512,
    ) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.filters = {
            lang: QualityFilter(path, threshold, category_min, category_max, batch_size) for lang, path in sorted(models.items())
        }
        self.default = QualityFilter(default_model, threshold, category_min, category_max, batch_size) if default_model else None
        self.names = {lang: lang for lang in self.filters}

    def process_batch(self, docs: list[Document]) -> None:
        groups: dict[str, list[Document]] = {}
        for doc in docs:
            lang = doc.metadata.get("language") or ""
            key = lang if lang in self.filters else ("*" if self.default is not None else "")
            groups.setdefault(key, []).append(doc)
        for key, group in sorted(groups.items()):
            step = self.filters.get(key) or (self.default if key == "*" else None)
            if step is None:
                continue
            step.process_batch(group)
            for doc in group:
                doc.metadata["quality_model"] = key if key != "*" else "default"
